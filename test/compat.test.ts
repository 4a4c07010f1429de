import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { CLI_BIN, cliBaseEnv, startTestServer, unusedLoopbackUrl } from './helpers.js';

/*
 * Compatibility with the original `maestro` CLI and its clients (contract §13.1–§13.3, §13.7, §15.7): the compiled
 * CLI in its own process against a real server, asserting output, exit codes and the state through the API.
 */

const server = await startTestServer();
const { call } = server;
const deadUrl = await unusedLoopbackUrl();
const baseEnv = cliBaseEnv();

async function maestro(args: string[], env: Record<string, string> = {}) {
  const r = await execa(process.execPath, [CLI_BIN, ...args], {
    env: { ...baseEnv, MAESTRO_API_URL: server.url, ...env },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: 60_000,
  });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

const SLOW = { timeout: 120_000 };
const project = (await call('POST', '/api/projects', { name: 'Compat', workingDir: '/srv/compat' })).body;
const task = (await call('POST', '/api/tasks', { projectId: project.id, title: 'Root task' })).body;
const session = (await call('POST', '/api/sessions', { projectId: project.id, taskIds: [task.id] })).body;
const inSession = { MAESTRO_SESSION_ID: session.id, MAESTRO_PROJECT_ID: project.id, MAESTRO_TASK_IDS: task.id };

describe('hooks never break an agent (§13.7)', SLOW, () => {
  it('session register, session complete and track-file exit 0 with a warning when the server is away or the session unknown', async () => {
    const away = { ...inSession, MAESTRO_API_URL: deadUrl };
    const unknown = { ...inSession, MAESTRO_SESSION_ID: 'sess_unknown' };
    const runs = await Promise.all([
      maestro(['session', 'register'], away),
      maestro(['session', 'complete'], away),
      maestro(['track-file', 'src/a.ts'], away),
      maestro(['session', 'complete'], unknown),
      maestro(['track-file', 'src/a.ts'], unknown),
    ]);
    for (const r of runs) {
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/warning/);
    }
    const tracked = await maestro(['track-file', 'src/b.ts'], inSession);
    expect(tracked.code).toBe(0);
    const s = (await call('GET', `/api/sessions/${session.id}`)).body;
    expect(s.events.at(-1)).toMatchObject({ type: 'file_modified', data: { path: 'src/b.ts' } });
  });
});

describe("the original CLI's commands (§15.7)", SLOW, () => {
  it('report <kind> <message> --task, the update:* aliases, a lone message', async () => {
    const blocked = await maestro(['report', 'blocked', 'need', 'the', 'keys', '--task', task.id], inSession);
    expect(blocked.code).toBe(0);
    expect(blocked.stdout).toBe(`Reported blocked on ${task.id}: need the keys`);
    const progress = await maestro(['update:progress', 'halfway'], inSession);
    expect(progress.code).toBe(0);
    const lone = await maestro(['report', 'just a note'], inSession);
    expect(lone.code).toBe(0);
    // A lone message is progress, and says so as `report progress` does.
    const named = await maestro(['report', 'progress', 'just a note'], inSession);
    expect(named.stdout).toBe(lone.stdout);
    expect(lone.stdout).toMatch(/^Reported progress( on \S+)?: just a note$/);
    const s = (await call('GET', `/api/sessions/${session.id}`)).body;
    expect(s.timeline.slice(-4).map((t: any) => [t.type, t.message])).toEqual([
      ['task_blocked', 'need the keys'],
      ['progress', 'halfway'],
      ['progress', 'just a note'],
      ['progress', 'just a note'],
    ]);
    expect((await call('GET', `/api/tasks/${task.id}`)).body.sessionStatus).toBe('blocked');
  });

  it('report complete by the claim holder completes the task, as `task complete` does; by another session it is a report', async () => {
    const [claimed, free] = [
      (await call('POST', '/api/tasks', { projectId: project.id, title: 'Claimed' })).body,
      (await call('POST', '/api/tasks', { projectId: project.id, title: 'Not claimed' })).body,
    ];
    const waiting = (await call('POST', '/api/tasks', { projectId: project.id, title: 'Next', dependencies: [claimed.id] })).body;
    expect((await call('POST', `/api/tasks/${claimed.id}/claim`, { sessionId: session.id })).status).toBe(200);

    const done = await maestro(['report', 'complete', 'schema', 'written', '--task', `${claimed.id},${free.id}`], inSession);
    expect(done).toMatchObject({ code: 0, stdout: `Reported complete on ${claimed.id}, ${free.id}: schema written` });
    expect((await call('GET', `/api/tasks/${claimed.id}`)).body).toMatchObject({ status: 'completed', sessionStatus: 'completed' });
    expect((await call('GET', `/api/tasks/${free.id}`)).body).toMatchObject({ status: 'todo', sessionStatus: 'completed' });
    expect((await call('GET', `/api/tasks/${waiting.id}`)).body).toMatchObject({ blockedBy: [], ready: true });
  });

  it('whoami, status and commands', async () => {
    const who = await maestro(['whoami'], inSession);
    expect(who.code).toBe(0);
    expect(who.stdout).toContain(session.id);
    expect(who.stdout).toContain(project.id);
    const status = await maestro(['status'], inSession);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`Session: ${session.id} \\w+`));
    const commands = await maestro(['commands']);
    expect(commands.stdout.split('\n')).toEqual(
      expect.arrayContaining(['whoami', 'track-file', 'task create', 'update:complete', 'host', 'attach']),
    );
  });

  it('task create --parent, task list <id>, the global --project, session spawn --task', async () => {
    const child = await maestro(['--json', '--project', project.id, 'task', 'create', 'Child', '--parent', task.id]);
    expect(child.code).toBe(0);
    const created = JSON.parse(child.stdout).data;
    expect(created).toMatchObject({ projectId: project.id, parentId: task.id });
    const listed = await maestro(['task', 'list', task.id]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(created.id);
    const spawned = await maestro(['--json', 'session', 'spawn', '--task', created.id]);
    expect(spawned.code).toBe(0);
    const body = JSON.parse(spawned.stdout).data;
    expect(body.session.taskIds).toEqual([created.id]);
    // §13.2: the manifest always has an acceptance criterion.
    const manifest = JSON.parse(readFileSync(body.manifestPath, 'utf8'));
    expect(manifest.tasks[0].acceptanceCriteria).toEqual(['Task completion as described']);
  });

  it('queue start waits for an item; --no-wait returns at once', async () => {
    const t = (await call('POST', '/api/tasks', { projectId: project.id, title: 'Queued' })).body;
    const spawn = (await call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [t.id], strategy: 'queue' })).body;
    const env = { MAESTRO_SESSION_ID: spawn.sessionId };
    expect((await maestro(['queue', 'start'], env)).code).toBe(0);
    expect((await maestro(['queue', 'complete'], env)).code).toBe(0);
    const empty = await maestro(['queue', 'start', '--no-wait'], env);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toMatch(/empty/i);

    const later = (await call('POST', '/api/tasks', { projectId: project.id, title: 'Pushed later' })).body;
    const waiting = execa(process.execPath, [CLI_BIN, 'queue', 'start', '--poll', '100'], {
      env: { ...baseEnv, MAESTRO_API_URL: server.url, ...env },
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      timeout: 60_000,
    });
    // It says it waits (before, it printed nothing until an item came), and then it is waiting: push one.
    let stderr = '';
    await new Promise<void>((resolve) => {
      waiting.once('exit', () => resolve());
      waiting.stderr!.on('data', (chunk) => {
        stderr += chunk;
        if (stderr.includes('\n')) resolve();
      });
    });
    expect(stderr).toBe('maestro: the queue is empty; waiting for a task to be pushed (--no-wait returns at once)\n');
    expect((await call('POST', `/api/sessions/${spawn.sessionId}/queue/push`, { taskId: later.id })).status).toBeLessThan(300);
    const started = await waiting;
    expect(started.exitCode).toBe(0);
    expect(started.stdout).toContain(later.id);

    const badPoll = await maestro(['queue', 'start', '--poll', 'often'], env);
    expect(badPoll).toMatchObject({ code: 1, stderr: 'maestro: --poll must be a whole number of milliseconds, at least 100, not often' });
  });
});

describe('server amendments (§13.1, §13.3)', () => {
  it('accepts any snake_case timeline type, refuses others', async () => {
    const ok = await call('POST', `/api/sessions/${session.id}/timeline`, { type: 'task_status_changed', message: 'x' });
    expect(ok.status).toBeLessThan(300);
    expect(ok.body.timeline.at(-1).type).toBe('task_status_changed');
    for (const type of ['Bad-Type', '1abc', 'a'.repeat(65), '']) {
      const bad = await call('POST', `/api/sessions/${session.id}/timeline`, { type, message: 'x' });
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('VALIDATION_ERROR');
    }
  });

  it('GET /api/sessions?parentSessionId= keeps the sessions it spawned', async () => {
    const t = (await call('POST', '/api/tasks', { projectId: project.id, title: 'Sub' })).body;
    const child = (
      await call('POST', '/api/sessions/spawn', {
        projectId: project.id,
        taskIds: [t.id],
        spawnSource: 'session',
        sessionId: session.id,
      })
    ).body;
    const res = await call('GET', `/api/sessions?parentSessionId=${session.id}`);
    expect(res.body.map((s: any) => s.id)).toEqual([child.sessionId]);
  });
});
