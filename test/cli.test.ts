import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../lib/cli/program.js';
import { type Call, CLI_BIN, cliBaseEnv, ROOT, SERVER_BIN, startTestServer, tempDir, until, unusedLoopbackUrl } from './helpers.js';

/*
 * The `maestro` CLI against a real server on 127.0.0.1. Most tests run it in-process through `run()` (the same
 * code the bin runs, with its own environment and output); a few smoke tests run the compiled
 * dist/lib/cli/main.js in its own process, as a user does. Each test asserts the output a person reads and the
 * exit code a script checks, and looks at the server's state through the API where the command changed it.
 */

const server = await startTestServer();
const { call } = server;
/** A server that never gets any data: for the "nothing yet" answers. */
const empty = await startTestServer();
const secured = await startTestServer({ MAESTRO_TOKEN: 'cli-secret' });

const deadUrl = await unusedLoopbackUrl();

const baseEnv = cliBaseEnv();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const envFor = (env: Record<string, string | undefined>) => {
  const merged: Record<string, string | undefined> = { ...baseEnv, MAESTRO_API_URL: server.url, ...env };
  return Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined));
};

/** Runs `maestro <args>` in-process against the test server (unless `env` says otherwise); `undefined` removes a variable. */
async function maestro(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  let [stdout, stderr] = ['', ''];
  const code = await run(args, { env: envFor(env), stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  // As a process's output is read (by execa, by a shell's $(…)): without its final newline.
  return { code, stdout: stdout.replace(/\n$/, ''), stderr: stderr.replace(/\n$/, '') };
}

/** Runs the compiled `maestro` bin in its own process: for the smoke tests. */
async function maestroProcess(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const r = await execa(process.execPath, [CLI_BIN, ...args], {
    env: envFor(env),
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: 15_000,
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const json = (r: Run) => JSON.parse(r.stdout);
/** Each CLI start costs a few hundred ms, more on a busy machine: room for the tests with many sequential runs. */
const SLOW = { timeout: 60_000 };

/** Arranges state through the API; anything but 2xx is a broken test. */
async function api(method: string, path: string, body?: unknown, via: Call = call) {
  const res = await via(method, path, body);
  if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}
const newProject = (name: string, workingDir = `/srv/${name.toLowerCase().replace(/\W+/g, '-')}`) =>
  api('POST', '/api/projects', { name, workingDir });
const newTask = (projectId: string, title: string, extra: Record<string, unknown> = {}) =>
  api('POST', '/api/tasks', { projectId, title, ...extra });
const idFrom = (text: string, pattern: RegExp) => {
  const id = pattern.exec(text)?.[1];
  expect(id, `no ID in:\n${text}`).toBeDefined();
  return id!;
};
/** Column at which a task ID starts in a line of `task tree`. */
const indentOf = (lines: string[], id: string) => {
  const line = lines.find((l) => l.includes(id));
  expect(line, `${id} missing from the tree`).toBeDefined();
  return line!.indexOf(id);
};

describe('help and command parsing', SLOW, () => {
  it('--help lists every command and the exit codes; --version prints the package version', async () => {
    const [help, version] = await Promise.all([maestroProcess(['--help']), maestroProcess(['--version'])]);
    expect(help.code).toBe(0);
    for (const command of [
      'serve',
      'project|projects',
      'task|tasks',
      'session|sessions',
      'report',
      'queue',
      'worker',
      'orchestrator',
      'manifest',
    ]) {
      expect(help.stdout).toMatch(new RegExp(`^\\s+${command.replace('|', '\\|')}\\b`, 'm'));
    }
    expect(help.stdout).toContain('Exit codes: 0 ok, 1 error, 2 not found, 3 server unreachable.');
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });

  it('ends quietly when the reader of its output has gone (`maestro --help | head -1`)', async () => {
    for (const bin of [CLI_BIN, SERVER_BIN]) {
      const proc = execa(process.execPath, [bin, '--help'], { env: envFor({}), extendEnv: false, reject: false, timeout: 15_000 });
      proc.stdout!.destroy(); // the reader closes its end before the help is written
      const r = await proc;
      expect(r.stderr).not.toContain('EPIPE');
      expect(r.exitCode).toBe(0);
    }
  });

  it('--help on each command group lists its subcommands', async () => {
    const groups: [string[], string[]][] = [
      [
        ['project', '--help'],
        ['list', 'create', 'get', 'delete'],
      ],
      [
        ['task', '--help'],
        ['list', 'create', 'get', 'update', 'start', 'complete', 'block', 'children', 'tree', 'delete'],
      ],
      [
        ['session', '--help'],
        ['list', 'info', 'timeline', 'register', 'complete', 'spawn', 'delete'],
      ],
      [
        ['queue', '--help'],
        ['status', 'list', 'top', 'start', 'complete', 'fail', 'skip', 'push'],
      ],
      [['help', 'manifest'], ['generate']],
      [['worker', '--help'], ['init']],
      [['orchestrator', '--help'], ['init']],
    ];
    const runs = await Promise.all(groups.map(([args]) => maestro(args)));
    groups.forEach(([args, subcommands], i) => {
      expect(runs[i]!.code, args.join(' ')).toBe(0);
      for (const sub of subcommands) expect(runs[i]!.stdout, args.join(' ')).toMatch(new RegExp(`^\\s+${sub}\\b`, 'm'));
    });
    const generate = await maestro(['manifest', 'generate', '--help']);
    expect(generate.code).toBe(0);
    for (const flag of ['--role', '--project-id', '--task-ids', '--skills', '--strategy', '--output'])
      expect(generate.stdout).toContain(flag);
  });

  it('refuses unknown commands, unknown options, missing arguments and values outside the choices', async () => {
    const [bogus, bogusTask, option, missing, choice] = await Promise.all([
      maestro(['bogus']),
      maestro(['task', 'bogus']),
      maestro(['task', 'list', '--bogus']),
      maestro(['project', 'create']),
      maestro(['task', 'update', 'task_x', '--status', 'sleeping']),
    ]);
    expect(bogus.code).not.toBe(0);
    expect(bogus.stderr).toContain("unknown command 'bogus'");
    expect(bogusTask.code).not.toBe(0);
    expect(bogusTask.stderr).toContain("unknown command 'bogus'");
    expect(option.code).not.toBe(0);
    expect(option.stderr).toContain("unknown option '--bogus'");
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("missing required argument 'name'");
    expect(choice.code).not.toBe(0);
    expect(choice.stderr).toMatch(/sleeping.*invalid|invalid.*sleeping/i);
  });
});

describe('projects', SLOW, () => {
  it('create -d . and --working-dir=~/…: the directory the person means, not a path the runner would read in its own', async () => {
    const home = tempDir('maestro-home-');
    const [here, tilde] = await Promise.all([
      maestro(['project', 'create', 'Here', '-d', '.']),
      maestro(['project', 'create', 'Home', '--working-dir=~/shop'], { HOME: home }),
    ]);
    const dirOf = async (r: Run) => (await api('GET', `/api/projects/${idFrom(r.stdout, /^Created project (proj_\S+)$/m)}`)).workingDir;
    // Before: "." and "~/shop" were stored as typed, and the runner started agents in its own working directory.
    expect(await dirOf(here)).toBe(process.cwd());
    expect(here.stdout).toMatch(new RegExp(`^Working dir:\\s+${process.cwd().replace(/[/.]/g, '\\$&')}$`, 'm'));
    expect(await dirOf(tilde)).toBe(join(home, 'shop'));
  });

  it('create, list, get and delete', async () => {
    const none = await maestro(['project', 'list'], { MAESTRO_API_URL: empty.url });
    expect(none).toMatchObject({ code: 0, stdout: 'No projects.' });

    const created = await maestro(['project', 'create', 'Website', '-d', '/srv/website', '--description', 'The public site']);
    expect(created.code).toBe(0);
    const id = idFrom(created.stdout, /^Created project (proj_\S+)$/m);
    expect(created.stdout).toMatch(/^Name:\s+Website$/m);
    expect(created.stdout).toMatch(/^Working dir:\s+\/srv\/website$/m);
    expect(created.stdout).toMatch(/^Description:\s+The public site$/m);
    expect(await api('GET', `/api/projects/${id}`)).toMatchObject({
      name: 'Website',
      workingDir: '/srv/website',
      description: 'The public site',
    });

    const [listed, alias, shown, missing] = await Promise.all([
      maestro(['project', 'list']),
      maestro(['projects', 'list']),
      maestro(['project', 'get', id]),
      maestro(['project', 'get', 'proj_missing']),
    ]);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')).toContain(`${id}  Website  (/srv/website)`);
    expect(alias.stdout).toBe(listed.stdout);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^ID:\\s+${id}$`, 'm'));
    expect(shown.stdout).toMatch(/^Name:\s+Website$/m);
    expect(missing).toMatchObject({ code: 2, stdout: '', stderr: 'maestro: Project not found' });

    // Refused while a task needs it, then deleted.
    const task = await newTask(id, 'Keep me');
    const refused = await maestro(['project', 'delete', id]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Cannot delete project with 1 existing task(s)');
    await api('DELETE', `/api/tasks/${task.id}`);
    const deleted = await maestro(['project', 'delete', id]);
    expect(deleted).toMatchObject({ code: 0, stdout: `Deleted project ${id}` });
    expect((await call('GET', `/api/projects/${id}`)).status).toBe(404);
    expect((await maestro(['project', 'delete', id])).code).toBe(2);
  });
});

describe('tasks', SLOW, () => {
  let projectId: string;
  beforeAll(async () => {
    projectId = (await newProject('Tasks project')).id;
  });

  it("prints no control character from the server's data: a title cannot drive the reader's terminal", async () => {
    const evil = await api('POST', '/api/tasks', { projectId, title: 'Evil \u001b]0;pwned\u0007\u001b[2J title\r' });
    for (const args of [
      ['task', 'list', '-p', projectId],
      ['task', 'get', evil.id],
    ]) {
      const r = await maestro(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Evil ]0;pwned[2J title');
      expect(r.stdout).not.toMatch(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/);
    }
    await api('DELETE', `/api/tasks/${evil.id}`);
  });

  it('create (with flags or $MAESTRO_PROJECT_ID), list with filters, get', async () => {
    const created = await maestro([
      'task',
      'create',
      'Write docs',
      '-p',
      projectId,
      '-d',
      'All of them',
      '--priority',
      'high',
      '--prompt',
      'Start with the README',
    ]);
    expect(created.code).toBe(0);
    const id = idFrom(created.stdout, /^Created task (task_\S+)$/m);
    expect(created.stdout).toMatch(/^Title:\s+Write docs$/m);
    expect(created.stdout).toMatch(/^Status:\s+todo$/m);
    expect(created.stdout).toMatch(/^Priority:\s+high$/m);
    expect(await api('GET', `/api/tasks/${id}`)).toMatchObject({
      projectId,
      title: 'Write docs',
      description: 'All of them',
      priority: 'high',
      initialPrompt: 'Start with the README',
      status: 'todo',
    });

    const [fromEnv, noProject, unknownProject] = await Promise.all([
      maestro(['task', 'create', 'Second task'], { MAESTRO_PROJECT_ID: projectId }),
      maestro(['task', 'create', 'Orphan']),
      maestro(['task', 'create', 'Lost', '-p', 'proj_missing']),
    ]);
    expect(fromEnv.code).toBe(0);
    const second = idFrom(fromEnv.stdout, /^Created task (task_\S+)$/m);
    expect((await api('GET', `/api/tasks/${second}`)).projectId).toBe(projectId);
    expect(noProject.code).toBe(1);
    expect(noProject.stderr).toContain('No project ID given');
    expect(unknownProject.code).toBe(2);
    expect(unknownProject.stderr).toBe('maestro: Project not found');

    const [listed, listedFromEnv, inProgress, shown, shownFromEnv, missing] = await Promise.all([
      maestro(['task', 'list', '-p', projectId]),
      maestro(['task', 'list'], { MAESTRO_PROJECT_ID: projectId }),
      maestro(['task', 'list', '-p', projectId, '--status', 'in_progress']),
      maestro(['task', 'get', id]),
      maestro(['task', 'get'], { MAESTRO_TASK_IDS: `${second},${id}` }),
      maestro(['task', 'get', 'task_missing']),
    ]);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')).toEqual([`${id}  [todo]  high  Write docs`, `${second}  [todo]  medium  Second task`]);
    expect(listedFromEnv.stdout).toBe(listed.stdout);
    expect(inProgress).toMatchObject({ code: 0, stdout: 'No tasks.' });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^ID:\\s+${id}$`, 'm'));
    expect(shown.stdout).toMatch(/^Description:\s+All of them$/m);
    expect(shownFromEnv.stdout).toMatch(new RegExp(`^ID:\\s+${second}$`, 'm'));
    expect(missing).toMatchObject({ code: 2, stdout: '', stderr: 'maestro: Task not found' });
  });

  it('update changes the given fields and refuses an empty update', async () => {
    const task = await newTask(projectId, 'Rename me');
    const updated = await maestro([
      'task',
      'update',
      task.id,
      '--title',
      'Renamed',
      '--status',
      'in_progress',
      '--priority',
      'low',
      '-d',
      'New text',
    ]);
    expect(updated.code).toBe(0);
    expect(updated.stdout).toMatch(new RegExp(`^Updated task ${task.id}$`, 'm'));
    expect(updated.stdout).toMatch(/^Title:\s+Renamed$/m);
    expect(updated.stdout).toMatch(/^Status:\s+in_progress$/m);
    expect(updated.stdout).toMatch(/^Started:\s+\d{4}-\d\d-\d\dT/m);
    expect(await api('GET', `/api/tasks/${task.id}`)).toMatchObject({
      title: 'Renamed',
      status: 'in_progress',
      priority: 'low',
      description: 'New text',
      startedAt: expect.any(Number),
    });

    const [nothing, missing, alias] = await Promise.all([
      maestro(['task', 'update', task.id]),
      maestro(['task', 'update', 'task_missing', '--title', 'x']),
      maestro(['task', 'update', task.id, '--status', 'pending']),
    ]);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain('Nothing to update');
    expect(missing.code).toBe(2);
    expect(alias.code).toBe(0);
    expect((await api('GET', `/api/tasks/${task.id}`)).status).toBe('todo');
  });

  it('start, complete and block outside a session set the task status', async () => {
    const [a, b, c] = await Promise.all([newTask(projectId, 'Start me'), newTask(projectId, 'Finish me'), newTask(projectId, 'Block me')]);
    const [started, completed, blocked, missing] = await Promise.all([
      maestro(['task', 'start', a.id]),
      maestro(['task', 'complete', b.id]),
      maestro(['task', 'block', c.id, '--reason', 'waiting']),
      maestro(['task', 'start', 'task_missing']),
    ]);
    expect(started).toMatchObject({ code: 0, stdout: `Task ${a.id} is now in_progress` });
    expect(completed).toMatchObject({ code: 0, stdout: `Task ${b.id} is now completed` });
    expect(blocked).toMatchObject({ code: 0, stdout: `Task ${c.id} is now blocked` });
    expect(missing.code).toBe(2);
    expect(await api('GET', `/api/tasks/${a.id}`)).toMatchObject({ status: 'in_progress', startedAt: expect.any(Number) });
    expect(await api('GET', `/api/tasks/${b.id}`)).toMatchObject({ status: 'completed', completedAt: expect.any(Number) });
    const blockedTask = await api('GET', `/api/tasks/${c.id}`);
    expect(blockedTask.status).toBe('blocked');
    expect(blockedTask).not.toHaveProperty('sessionStatus');
  });

  it('inside a session, start/complete/block report sessionStatus and a timeline entry, not the task status', async () => {
    const task = await newTask(projectId, 'Agent work');
    const session = await api('POST', '/api/sessions', { projectId, taskIds: [task.id] });
    const env = { MAESTRO_SESSION_ID: session.id, MAESTRO_TASK_IDS: task.id, MAESTRO_PROJECT_ID: projectId };

    const started = await maestro(['task', 'start'], env);
    expect(started).toMatchObject({ code: 0, stdout: `Task ${task.id} reported working by session ${session.id}` });
    expect(await api('GET', `/api/tasks/${task.id}`)).toMatchObject({ status: 'todo', sessionStatus: 'working' });

    const blocked = await maestro(['task', 'block', '--reason', 'need the API key'], env);
    expect(blocked).toMatchObject({ code: 0, stdout: `Task ${task.id} reported blocked by session ${session.id}` });
    // --session-id does the same without the environment.
    const completed = await maestro(['task', 'complete', task.id, '--session-id', session.id]);
    expect(completed).toMatchObject({ code: 0, stdout: `Task ${task.id} reported completed by session ${session.id}` });
    expect(completed.stderr).toMatch(new RegExp(`^maestro: note: task ${task.id} is still todo, as only its claim holder`));

    expect(await api('GET', `/api/tasks/${task.id}`)).toMatchObject({ status: 'todo', sessionStatus: 'completed' });
    const timeline = (await api('GET', `/api/sessions/${session.id}`)).timeline;
    expect(timeline.slice(-3).map((e: any) => [e.type, e.message, e.taskId])).toEqual([
      ['task_started', 'Started task', task.id],
      ['task_blocked', 'Blocked: need the API key', task.id],
      ['task_completed', 'Completed task', task.id],
    ]);
  });

  it('a session whose claim ran out is told that its complete did not complete the task, and how to', async () => {
    const task = await newTask(projectId, 'Lease ran out');
    const session = await api('POST', '/api/sessions', { projectId, taskIds: [] });
    const env = { MAESTRO_SESSION_ID: session.id, MAESTRO_PROJECT_ID: projectId };
    await api('POST', `/api/tasks/${task.id}/claim`, { sessionId: session.id });
    // What an expired lease leaves (§18.3): no claim, the task back to todo.
    await api('DELETE', `/api/tasks/${task.id}/claim`);

    const late = await maestro(['task', 'complete', task.id], env);
    expect(late.code).toBe(0);
    expect(late.stderr).toBe(
      `maestro: note: task ${task.id} is still todo, as only its claim holder or a person completes it: session ${session.id} holds no claim on it (a lease that runs out is released); to complete it: maestro task claim ${task.id} && maestro task complete ${task.id}`,
    );
    expect(await maestro(['task', 'claim', task.id], env)).toMatchObject({ code: 0 });
    const done = await maestro(['task', 'complete', task.id], env);
    expect(done).toMatchObject({
      code: 0,
      stdout: `Task ${task.id} is now completed by session ${session.id}, its claim holder`,
      stderr: '',
    });

    const other = await api('POST', '/api/sessions', { projectId, taskIds: [] });
    const taken = await newTask(projectId, 'Taken by another');
    await api('POST', `/api/tasks/${taken.id}/claim`, { sessionId: other.id });
    const notMine = await maestro(['task', 'complete', taken.id], env);
    expect(notMine.stderr).toMatch(new RegExp(`is still in_progress, .*: session ${other.id} holds its claim$`));
  });

  it('children lists direct children; tree prints each child indented under its parent', async () => {
    const treeProject = (await newProject('Tree project')).id;
    const root = await newTask(treeProject, 'Root');
    const childA = await newTask(treeProject, 'Child A', { parentId: root.id });
    const childB = await newTask(treeProject, 'Child B', { parentId: root.id });
    const grandchild = await newTask(treeProject, 'Grandchild', { parentId: childA.id });
    const other = await newTask(treeProject, 'Another root');

    const [children, noChildren, missing, tree, treeFromEnv, subtree, noProject] = await Promise.all([
      maestro(['task', 'children', root.id]),
      maestro(['task', 'children', childB.id]),
      maestro(['task', 'children', 'task_missing']),
      maestro(['task', 'tree', '-p', treeProject]),
      maestro(['task', 'tree'], { MAESTRO_PROJECT_ID: treeProject }),
      maestro(['task', 'tree', childA.id]),
      maestro(['task', 'tree']),
    ]);
    expect(children.code).toBe(0);
    expect(children.stdout.split('\n')).toEqual([`${childA.id}  [todo]  medium  Child A`, `${childB.id}  [todo]  medium  Child B`]);
    expect(noChildren).toMatchObject({ code: 0, stdout: 'No tasks.' });
    expect(missing.code).toBe(2);

    expect(tree.code).toBe(0);
    const lines = tree.stdout.split('\n');
    // Depth first: each task right under its parent, children indented further than their parent.
    expect(lines.map((l) => [root, childA, grandchild, childB, other].find((t) => l.includes(t.id))?.title)).toEqual([
      'Root',
      'Child A',
      'Grandchild',
      'Child B',
      'Another root',
    ]);
    for (const line of lines) expect(line).toMatch(/\[todo\]\s+medium\s+\S/);
    expect(indentOf(lines, root.id)).toBe(0);
    expect(indentOf(lines, other.id)).toBe(0);
    expect(indentOf(lines, childA.id)).toBeGreaterThan(0);
    expect(indentOf(lines, childB.id)).toBe(indentOf(lines, childA.id));
    expect(indentOf(lines, grandchild.id)).toBeGreaterThan(indentOf(lines, childA.id));
    expect(treeFromEnv.stdout).toBe(tree.stdout);

    const sub = subtree.stdout.split('\n');
    expect(subtree.code).toBe(0);
    expect(sub).toHaveLength(2);
    expect(indentOf(sub, childA.id)).toBe(0);
    expect(indentOf(sub, grandchild.id)).toBeGreaterThan(0);
    expect(noProject.code).toBe(1);
    expect(noProject.stderr).toContain('No project ID given');
  });

  it('delete removes the task', async () => {
    const task = await newTask(projectId, 'Delete me');
    const deleted = await maestro(['task', 'delete', task.id]);
    expect(deleted).toMatchObject({ code: 0, stdout: `Deleted task ${task.id}` });
    expect((await call('GET', `/api/tasks/${task.id}`)).status).toBe(404);
    expect((await maestro(['task', 'delete', task.id])).code).toBe(2);
  });
});

describe('sessions', SLOW, () => {
  const sid = 'sess_cli_register';
  let projectId: string;
  let t1: string;
  let t2: string;
  beforeAll(async () => {
    projectId = (await newProject('Sessions project', '/srv/sessions')).id;
    t1 = (await newTask(projectId, 'First')).id;
    t2 = (await newTask(projectId, 'Second')).id;
  });

  it('register creates the session when missing, and marks it working when present', async () => {
    const env = { MAESTRO_SESSION_ID: sid, MAESTRO_PROJECT_ID: projectId, MAESTRO_TASK_IDS: `${t1},${t2}` };
    const created = await maestro(['session', 'register'], env);
    expect(created).toMatchObject({ code: 0, stdout: `Session ${sid} created: working` });
    expect(await api('GET', `/api/sessions/${sid}`)).toMatchObject({ id: sid, projectId, taskIds: [t1, t2], status: 'working' });
    expect((await api('GET', `/api/tasks/${t1}`)).sessionIds).toEqual([sid]);

    await api('PATCH', `/api/sessions/${sid}`, { status: 'idle' });
    const registered = await maestro(['session', 'register', '--agent-id', 'claude-code'], env);
    expect(registered).toMatchObject({ code: 0, stdout: `Session ${sid} registered: working` });
    expect(await api('GET', `/api/sessions/${sid}`)).toMatchObject({ status: 'working', agentId: 'claude-code', taskIds: [t1, t2] });

    // A hook (§13.7): without a session it warns and still exits 0.
    const anonymous = await maestro(['session', 'register']);
    expect(anonymous.code).toBe(0);
    expect(anonymous.stderr).toContain('No session ID given');
  });

  it('list (with filters), info and timeline', async () => {
    const line = `${sid}  [working]  Unnamed Session  (2 tasks)`;
    const [none, listed, byProject, byTask, byAlias, idle, info, infoFromEnv, timeline, missing, noId] = await Promise.all([
      maestro(['session', 'list'], { MAESTRO_API_URL: empty.url }),
      maestro(['session', 'list']),
      maestro(['sessions', 'list', '-p', projectId]),
      maestro(['session', 'list', '-t', t2]),
      maestro(['session', 'list', '-s', 'running', '-a']),
      maestro(['session', 'list', '-s', 'idle']),
      maestro(['session', 'info', sid]),
      maestro(['session', 'info'], { MAESTRO_SESSION_ID: sid }),
      maestro(['session', 'timeline', sid]),
      maestro(['session', 'info', 'sess_missing']),
      maestro(['session', 'info']),
    ]);
    expect(none).toMatchObject({ code: 0, stdout: 'No sessions.' });
    for (const r of [listed, byProject, byTask, byAlias]) {
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n')).toContain(line);
    }
    expect(idle.stdout.split('\n')).not.toContain(line);

    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(new RegExp(`^ID:\\s+${sid}$`, 'm'));
    expect(info.stdout).toMatch(/^Status:\s+working$/m);
    expect(info.stdout).toMatch(new RegExp(`^Tasks:\\s+${t1}, ${t2}$`, 'm'));
    expect(info.stdout).toContain('Timeline:');
    expect(info.stdout).toMatch(/session_started\s+Session created/);
    expect(infoFromEnv.stdout).toBe(info.stdout);

    expect(timeline.code).toBe(0);
    const entries = timeline.stdout.split('\n');
    expect(entries).toHaveLength(3);
    expect(entries[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+\s+session_started\s+Session created$/);
    expect(entries[1]).toMatch(new RegExp(`task_started \\[${t1}\\]\\s+Started working on task$`));
    expect(entries[2]).toMatch(new RegExp(`task_started \\[${t2}\\]\\s+Started working on task$`));

    expect(missing).toMatchObject({ code: 2, stderr: 'maestro: Session not found' });
    expect(noId.code).toBe(1);
    expect(noId.stderr).toContain('No session ID given');
  });

  it('report adds to the session timeline', async () => {
    const [inSession, withFlags, outside, badType] = await Promise.all([
      maestro(['report', 'Halfway there'], { MAESTRO_SESSION_ID: sid, MAESTRO_TASK_IDS: `${t1},${t2}` }),
      maestro(['report', 'Shipped', '--type', 'milestone', '-t', t2, '--session-id', sid]),
      maestro(['report', 'Nobody listens']),
      maestro(['report', 'Odd', '--type', 'gossip', '--session-id', sid]),
    ]);
    expect(inSession.code).toBe(0);
    expect(inSession.stdout).toBe(`Reported progress on ${t1}: Halfway there`);
    expect(withFlags.code).toBe(0);
    expect(withFlags.stdout).toBe(`Reported milestone on ${t2}: Shipped`);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toContain('No session ID given');
    expect(badType.code).not.toBe(0);

    const timeline = (await api('GET', `/api/sessions/${sid}`)).timeline.map((e: any) => [e.type, e.message, e.taskId]);
    expect(timeline).toContainEqual(['progress', 'Halfway there', t1]);
    expect(timeline).toContainEqual(['milestone', 'Shipped', t2]);
    expect(timeline).not.toContainEqual(expect.arrayContaining(['Odd']));
  });

  it('spawn: from a person (ui) or from inside a session (spawnSource session)', async () => {
    const spawned = await maestro([
      'session',
      'spawn',
      '-t',
      `${t1},${t2}`,
      '--strategy',
      'queue',
      '--skills',
      'maestro-worker,review',
      '-n',
      'CLI worker',
      '--reason',
      'from the CLI',
    ]);
    expect(spawned.code).toBe(0);
    const spawnedId = idFrom(spawned.stdout, /^Spawned session (sess_\S+)$/m);
    const manifestPath = join(server.config.sessionDir, spawnedId, 'manifest.json');
    expect(spawned.stdout).toContain(`Manifest: ${manifestPath}`);
    expect(spawned.stdout).toMatch(/^Command:\s+maestro worker init\s+\(in \/srv\/sessions\)$/m);
    expect(existsSync(manifestPath)).toBe(true);
    // The project came from the first task.
    expect(await api('GET', `/api/sessions/${spawnedId}`)).toMatchObject({
      projectId,
      name: 'CLI worker',
      strategy: 'queue',
      status: 'spawning',
      taskIds: [t1, t2],
      metadata: {
        spawnSource: 'ui',
        spawnedBy: null,
        role: 'worker',
        skills: ['maestro-worker', 'review'],
        context: { reason: 'from the CLI' },
      },
    });

    const [child, missingTask] = await Promise.all([
      maestro(['session', 'spawn', '-t', t1, '--role', 'orchestrator'], { MAESTRO_SESSION_ID: spawnedId, MAESTRO_PROJECT_ID: projectId }),
      maestro(['session', 'spawn', '-t', 'task_missing', '-p', projectId]),
    ]);
    expect(child.code).toBe(0);
    expect(child.stdout).toMatch(/^Command:\s+maestro orchestrator init/m);
    const childId = idFrom(child.stdout, /^Spawned session (sess_\S+)$/m);
    expect((await api('GET', `/api/sessions/${childId}`)).metadata).toMatchObject({
      spawnSource: 'session',
      spawnedBy: spawnedId,
      role: 'orchestrator',
    });
    expect(missingTask).toMatchObject({ code: 2, stderr: 'maestro: Task task_missing not found' });
  });

  it('complete and delete', async () => {
    const other = await api('POST', '/api/sessions', { projectId, taskIds: [t1] });
    const [completed, failed, missing] = await Promise.all([
      maestro(['session', 'complete', sid]),
      maestro(['session', 'complete', '--status', 'failed'], { MAESTRO_SESSION_ID: other.id }),
      maestro(['session', 'complete', 'sess_missing']),
    ]);
    expect(completed).toMatchObject({ code: 0, stdout: `Session ${sid} is now completed` });
    expect(failed).toMatchObject({ code: 0, stdout: `Session ${other.id} is now failed` });
    // A hook (§13.7): an unknown session is a warning, exit 0.
    expect(missing.code).toBe(0);
    expect(missing.stderr).toContain('warning: Session not found');
    expect(await api('GET', `/api/sessions/${sid}`)).toMatchObject({ status: 'completed', completedAt: expect.any(Number) });

    const deleted = await maestro(['session', 'delete', sid]);
    expect(deleted).toMatchObject({ code: 0, stdout: `Deleted session ${sid}` });
    expect((await call('GET', `/api/sessions/${sid}`)).status).toBe(404);
    expect((await api('GET', `/api/tasks/${t2}`)).sessionIds).not.toContain(sid);
    expect((await maestro(['session', 'delete', sid])).code).toBe(2);
  });
});

describe('queue', SLOW, () => {
  let sid: string;
  let simpleSid: string;
  let tasks: string[];
  beforeAll(async () => {
    const projectId = (await newProject('Queue project')).id;
    tasks = [];
    for (const title of ['Q1', 'Q2', 'Q3', 'Q4']) tasks.push((await newTask(projectId, title)).id);
    sid = (await api('POST', '/api/sessions/spawn', { projectId, taskIds: tasks.slice(0, 3), strategy: 'queue' })).sessionId;
    simpleSid = (await api('POST', '/api/sessions/spawn', { projectId, taskIds: [tasks[3]] })).sessionId;
  });

  it('works through a queue from the first item to empty', async () => {
    const [q1, q2, q3, q4] = tasks;
    const env = { MAESTRO_SESSION_ID: sid };
    const q = (args: string[]) => maestro(['queue', ...args], env);

    const [status, top] = await Promise.all([q(['status']), maestro(['queue', '--session-id', sid, 'top'])]);
    expect(status.code).toBe(0);
    expect(status.stdout.split('\n')).toEqual([
      '3 total: 3 queued, 0 processing, 0 completed, 0 failed, 0 skipped',
      expect.stringMatching(new RegExp(`^\\s*1\\. ${q1}  queued$`)),
      expect.stringMatching(new RegExp(`^\\s*2\\. ${q2}  queued$`)),
      expect.stringMatching(new RegExp(`^\\s*3\\. ${q3}  queued$`)),
    ]);
    expect(top).toMatchObject({ code: 0, stdout: `Next: ${q1}` });

    expect(await q(['start'])).toMatchObject({ code: 0, stdout: `Started processing task ${q1}` });
    const again = await q(['start']);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`maestro: Already processing task ${q1}. Complete or fail it first.`);
    expect((await api('GET', `/api/tasks/${q1}`)).sessionStatus).toBe('working');
    expect(await q(['complete'])).toMatchObject({ code: 0, stdout: `Completed ${q1}. Next: ${q2}` });
    expect((await api('GET', `/api/tasks/${q1}`)).sessionStatus).toBe('completed');

    expect(await q(['start'])).toMatchObject({ code: 0, stdout: `Started processing task ${q2}` });
    expect(await q(['fail', '--reason', 'tests are red'])).toMatchObject({ code: 0, stdout: `Failed ${q2}. Next: ${q3}` });
    expect((await api('GET', `/api/tasks/${q2}`)).sessionStatus).toBe('failed');

    const [pushed, duplicate, unknown] = await Promise.all([q(['push', q4!]), q(['push', q1!]), q(['push', 'task_missing'])]);
    expect(pushed).toMatchObject({ code: 0, stdout: `Queued ${q4}` });
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toBe(`maestro: Task ${q1} already in queue`);
    expect(unknown.code).toBe(2);

    const list = await q(['list']);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n').map((l) => l.trim())).toEqual([
      `1. ${q1}  completed`,
      `2. ${q2}  failed  (tests are red)`,
      `3. ${q3}  queued`,
      `4. ${q4}  queued`,
    ]);

    expect(await q(['skip'])).toMatchObject({ code: 0, stdout: `Skipped ${q3}. Next: ${q4}` });
    expect(await q(['skip'])).toMatchObject({ code: 0, stdout: `Skipped ${q4}. Queue is empty.` });
    const [emptyTop, emptySkip, emptyStart, finalStatus] = await Promise.all([
      q(['top']),
      q(['skip']),
      q(['start', '--no-wait']),
      q(['status']),
    ]);
    expect(emptyTop).toMatchObject({ code: 0, stdout: 'Queue is empty - all tasks processed' });
    expect(emptySkip).toMatchObject({ code: 1, stderr: 'maestro: No items left in queue to skip' });
    expect(emptyStart).toMatchObject({ code: 0, stdout: 'Queue is empty — no items to process' });
    expect(finalStatus.stdout.split('\n')[0]).toBe('4 total: 0 queued, 0 processing, 1 completed, 1 failed, 2 skipped');
  });

  it('completing an item whose task the session claimed (as a runner spawn does) completes the task, which stays done', async () => {
    const projectId = (await newProject('Claimed queue')).id;
    const first = (await newTask(projectId, 'Schema')).id;
    const later = (await api('POST', '/api/tasks', { projectId, title: 'Migration', dependencies: [first] })).id;
    const queued = (await api('POST', '/api/sessions/spawn', { projectId, taskIds: [first], strategy: 'queue' })).sessionId;
    await api('POST', `/api/tasks/${first}/claim`, { sessionId: queued });
    const q = (args: string[]) => maestro(['queue', ...args], { MAESTRO_SESSION_ID: queued });

    expect((await q(['start'])).code).toBe(0);
    expect(await q(['complete'])).toMatchObject({ code: 0, stdout: `Completed ${first}. Queue is empty.` });
    expect(await api('GET', `/api/tasks/${first}`)).toMatchObject({ status: 'completed', sessionStatus: 'completed' });
    expect(await api('GET', `/api/tasks/${later}`)).toMatchObject({ blockedBy: [], ready: true });
    // The session ending releases its claims (§18.3): a completed task stays completed, not ready to be done again.
    await api('PATCH', `/api/sessions/${queued}`, { status: 'completed' });
    const after = await until(call, `/api/tasks/${first}`, (t) => t.claim === undefined, { ms: 10_000 });
    expect(after).toMatchObject({ status: 'completed', ready: false });
  });

  it('refuses a session without a queue, an unknown session, and no session at all', async () => {
    const [simple, unknown, none] = await Promise.all([
      maestro(['queue', 'status', '--session-id', simpleSid]),
      maestro(['queue', 'status', '--session-id', 'sess_missing']),
      maestro(['queue', 'status']),
    ]);
    expect(simple).toMatchObject({ code: 1, stderr: `maestro: Session ${simpleSid} does not use queue strategy` });
    expect(unknown).toMatchObject({ code: 2, stderr: 'maestro: Session not found' });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('No session ID given');
  });
});

describe('worker init / orchestrator init', SLOW, () => {
  let projectId: string;
  let task: any;
  beforeAll(async () => {
    projectId = (await newProject('Init project', '/srv/init')).id;
    task = await newTask(projectId, 'Build the importer', {
      description: 'Import CSV files.\n\nAcceptance criteria:\n- handles quoted commas\n- reports bad rows\n',
      priority: 'high',
    });
  });

  /** The terminal of a spawned session: its envVars, with the API URL pinned to the test server's loopback address. */
  const terminalEnv = (spawned: any) => ({ ...spawned.envVars, MAESTRO_API_URL: server.url });

  it('worker init marks the session working and prints the prompt rendered from the manifest and template', async () => {
    const spawned = await api('POST', '/api/sessions/spawn', { projectId, taskIds: [task.id] });
    const init = await maestro(['worker', 'init', '--print-prompt'], terminalEnv(spawned));
    expect(init.code).toBe(0);
    expect(init.stdout).toContain(task.id);
    expect(init.stdout).toContain('Build the importer');
    expect(init.stdout).toContain('- handles quoted commas');
    expect(init.stdout).toContain('- reports bad rows');
    expect(init.stdout).toContain('/srv/init');
    expect(init.stdout).not.toMatch(/\$\{[A-Z_]+\}/);
    expect((await api('GET', `/api/sessions/${spawned.sessionId}`)).status).toBe('working');

    // The template the manifest names is the one rendered.
    const templateId = JSON.parse(readFileSync(spawned.manifestPath, 'utf8')).templateId;
    await api('PUT', `/api/templates/${templateId}`, {
      content: 'Task ${TASK_ID}: ${TASK_TITLE} (${TASK_PRIORITY})\nCriteria:\n${ACCEPTANCE_CRITERIA}\nAll:\n${ALL_TASKS}',
    });
    try {
      const custom = await maestro(['--json', 'worker', 'init'], terminalEnv(spawned));
      expect(custom.code).toBe(0);
      expect(json(custom)).toEqual({
        success: true,
        data: {
          sessionId: spawned.sessionId,
          role: 'worker',
          manifestPath: spawned.manifestPath,
          templateId,
          prompt: `Task ${task.id}: Build the importer (high)\nCriteria:\n- handles quoted commas\n- reports bad rows\nAll:\n- ${task.id}: Build the importer (high)`,
        },
      });
    } finally {
      await api('POST', `/api/templates/${templateId}/reset`);
    }
  });

  it('orchestrator init uses the orchestrator template; a role mismatch or a missing manifest fails', async () => {
    const [worker, orchestrator] = await Promise.all([
      api('POST', '/api/sessions/spawn', { projectId, taskIds: [task.id] }),
      api('POST', '/api/sessions/spawn', { projectId, taskIds: [task.id], role: 'orchestrator' }),
    ]);
    const templates = await api('GET', '/api/templates');
    const orchestratorTemplate = templates.find((t: any) => t.role === 'orchestrator' && t.isDefault);

    const [init, mismatch, noManifest, unreadable] = await Promise.all([
      maestro(['--json', 'orchestrator', 'init'], terminalEnv(orchestrator)),
      maestro(['orchestrator', 'init'], terminalEnv(worker)),
      maestro(['worker', 'init', '--print-prompt']),
      maestro(['worker', 'init', '--manifest', join(tempDir(), 'nope.json')]),
    ]);
    expect(init.code).toBe(0);
    expect(json(init).data).toMatchObject({ role: 'orchestrator', templateId: orchestratorTemplate.id, sessionId: orchestrator.sessionId });
    expect(json(init).data.prompt).toContain(task.id);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toContain('The manifest is for a worker');
    expect(noManifest.code).toBe(1);
    expect(noManifest.stderr).toContain('No manifest');
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr).toContain('Cannot read manifest');
    // A failed init leaves the session as it was.
    expect((await api('GET', `/api/sessions/${worker.sessionId}`)).status).toBe('spawning');
  });
});

describe('manifest generate (reads DATA_DIR directly, no server)', SLOW, () => {
  // A home directory holding a data directory written by hand, in the layout of contract §5.
  const home = tempDir('maestro-home-');
  const dataDir = join(home, '.maestro', 'data');
  const project = {
    id: 'proj_hand',
    name: 'Hand made',
    workingDir: '/code/hand',
    description: '',
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
  };
  const task1 = {
    id: 'task_hand_1',
    projectId: 'proj_hand',
    parentId: null,
    title: 'Hand task',
    description: 'Do it.\nAcceptance criteria:\n- one\n- [x] two',
    status: 'todo',
    priority: 'high',
    createdAt: 1_700_000_001_000,
    updatedAt: 1_700_000_001_000,
    startedAt: null,
    completedAt: null,
    initialPrompt: '',
    sessionIds: [],
    skillIds: [],
    agentIds: [],
    dependencies: [],
  };
  // A legacy task file, directly under tasks/ (§5).
  const task2 = {
    ...task1,
    id: 'task_hand_2',
    parentId: 'task_hand_1',
    title: 'Legacy child',
    description: '',
    priority: 'low',
    createdAt: 1_700_000_002_000,
  };
  mkdirSync(join(dataDir, 'projects'), { recursive: true });
  mkdirSync(join(dataDir, 'tasks', 'proj_hand'), { recursive: true });
  writeFileSync(join(dataDir, 'projects', 'proj_hand.json'), JSON.stringify(project));
  writeFileSync(join(dataDir, 'tasks', 'proj_hand', 'task_hand_1.json'), JSON.stringify(task1));
  writeFileSync(join(dataDir, 'tasks', 'task_hand_2.json'), JSON.stringify(task2));
  const out = tempDir('maestro-manifests-');
  // The server URL points nowhere: the command must not need it.
  const offline = { MAESTRO_API_URL: deadUrl, HOME: home, USERPROFILE: home };
  const generate = (output: string, extra: string[] = []) => [
    'manifest',
    'generate',
    '--role',
    'worker',
    '--project-id',
    'proj_hand',
    '--task-ids',
    'task_hand_1,task_hand_2',
    '--output',
    output,
    ...extra,
  ];

  it('writes the manifest of §6.5 from the files, with DATA_DIR absolute, ~-relative or defaulted', async () => {
    const paths = [join(out, 'absolute', 'manifest.json'), join(out, 'tilde.json'), join(out, 'default.json')];
    const runs = await Promise.all([
      maestroProcess(generate(paths[0]!, ['--skills', 'maestro-cli,maestro-worker', '--strategy', 'queue']), {
        ...offline,
        DATA_DIR: dataDir,
      }),
      maestroProcess(generate(paths[1]!), { ...offline, DATA_DIR: '~/.maestro/data' }),
      maestroProcess(generate(paths[2]!), offline),
    ]);
    runs.forEach((r, i) => expect(r, `run ${i}: ${r.stderr}`).toMatchObject({ code: 0, stdout: `Manifest written to ${paths[i]}` }));

    const text = readFileSync(paths[0]!, 'utf8');
    const manifest = JSON.parse(text);
    expect(text.trimEnd()).toBe(JSON.stringify(manifest, null, 2));
    expect(manifest).toEqual({
      manifestVersion: '1.0',
      role: 'worker',
      strategy: 'queue',
      tasks: [
        {
          id: 'task_hand_1',
          title: 'Hand task',
          description: task1.description,
          acceptanceCriteria: ['one', 'two'],
          projectId: 'proj_hand',
          createdAt: '2023-11-14T22:13:21.000Z',
          priority: 'high',
        },
        {
          id: 'task_hand_2',
          title: 'Legacy child',
          description: '',
          acceptanceCriteria: ['Task completion as described'],
          projectId: 'proj_hand',
          createdAt: '2023-11-14T22:13:22.000Z',
          parentId: 'task_hand_1',
          priority: 'low',
        },
      ],
      session: { model: 'sonnet', permissionMode: 'acceptEdits', thinkingMode: 'auto', workingDirectory: '/code/hand' },
      context: { custom: { taskIds: ['task_hand_1', 'task_hand_2'] } },
      skills: ['maestro-cli', 'maestro-worker'],
    });
    // Without --skills and --strategy: none, and simple.
    const tilde = JSON.parse(readFileSync(paths[1]!, 'utf8'));
    expect(tilde).toMatchObject({ strategy: 'simple', skills: [] });
    expect(JSON.parse(readFileSync(paths[2]!, 'utf8'))).toEqual(tilde);
  });

  it('exits 1 with a one-line reason on stderr for an unknown task, project or role, and writes nothing', async () => {
    const env = { ...offline, DATA_DIR: dataDir };
    const output = join(out, 'never.json');
    const base = ['manifest', 'generate', '--output', output];
    const [task, projectRun, role, strategy, missingFlag] = await Promise.all([
      maestro([...base, '--role', 'worker', '--project-id', 'proj_hand', '--task-ids', 'task_hand_1,task_nope'], env),
      maestro([...base, '--role', 'worker', '--project-id', 'proj_nope', '--task-ids', 'task_hand_1'], env),
      maestro([...base, '--role', 'boss', '--project-id', 'proj_hand', '--task-ids', 'task_hand_1'], env),
      maestro([...base, '--role', 'worker', '--project-id', 'proj_hand', '--task-ids', 'task_hand_1', '--strategy', 'random'], env),
      maestro(['manifest', 'generate', '--role', 'worker', '--output', output], env),
    ]);
    const oneLine = (r: Run, mention: string) => {
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(mention);
    };
    oneLine(task, 'task_nope');
    oneLine(projectRun, 'proj_nope');
    oneLine(role, 'boss');
    oneLine(strategy, 'random');
    expect(missingFlag.code).toBe(1);
    expect(missingFlag.stderr).toContain('--project-id');
    expect(existsSync(output)).toBe(false);
  });
});

describe('--json output', SLOW, () => {
  it('prints {"success":true,"data":…} and {"success":false,"error":{code,message,details?}} on stdout', async () => {
    const project = await newProject('Json project');
    const [ok, trailing, notFound, invalid, local] = await Promise.all([
      maestro(['--json', 'project', 'get', project.id]),
      maestro(['project', 'get', project.id, '--json']),
      maestro(['--json', 'task', 'get', 'task_missing']),
      maestro(['--json', 'task', 'create', '   ', '-p', project.id]),
      maestro(['--json', 'session', 'info']),
    ]);
    expect(ok.code).toBe(0);
    expect(json(ok)).toEqual({ success: true, data: await api('GET', `/api/projects/${project.id}`) });
    expect(json(trailing)).toEqual(json(ok));

    expect(notFound).toMatchObject({ code: 2, stderr: '' });
    expect(json(notFound)).toEqual({
      success: false,
      error: { code: 'TASK_NOT_FOUND', message: 'Task not found', details: { taskId: 'task_missing' } },
    });
    expect(invalid.code).toBe(1);
    expect(json(invalid)).toMatchObject({ success: false, error: { code: 'VALIDATION_ERROR', message: 'title is required' } });
    expect(local.code).toBe(1);
    expect(json(local)).toEqual({
      success: false,
      error: { code: expect.any(String), message: expect.stringContaining('No session ID given') },
    });
  });

  it('a usage error under --json is a {"success":false} answer too, not only text on stderr; help stays help', async () => {
    const [badChoice, unknown, missing, help] = await Promise.all([
      maestro(['--json', 'task', 'list', '--status', 'bogus']),
      maestro(['task', 'frobnicate', '--json']),
      maestro(['--json', 'project', 'create']),
      maestro(['--json', 'task', '--help']),
    ]);
    // Before: stdout was empty, and a script piping it to a JSON parser failed on nothing.
    expect(badChoice.code).toBe(1);
    expect(json(badChoice)).toEqual({
      success: false,
      error: {
        code: 'USAGE_ERROR',
        message:
          "option '-s, --status <status>' argument 'bogus' is invalid. Allowed choices are todo, in_progress, completed, cancelled, blocked, pending.",
      },
    });
    expect(badChoice.stderr).toContain('(run with --help for usage)');
    expect(json(unknown)).toMatchObject({ success: false, error: { code: 'USAGE_ERROR', message: expect.stringContaining('frobnicate') } });
    expect(json(missing)).toEqual({ success: false, error: { code: 'USAGE_ERROR', message: "missing required argument 'name'" } });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: maestro task/);
  });
});

describe('which server the CLI talks to', SLOW, () => {
  it('an unreachable server: exit 3, and the message names the URL tried', async () => {
    const [text, asJson] = await Promise.all([
      maestroProcess(['project', 'list'], { MAESTRO_API_URL: deadUrl }),
      maestroProcess(['--json', 'task', 'list'], { MAESTRO_API_URL: deadUrl }),
    ]);
    expect(text.code).toBe(3);
    expect(text.stderr).toContain(deadUrl);
    expect(asJson.code).toBe(3);
    expect(json(asJson).success).toBe(false);
    expect(json(asJson).error.message).toContain(deadUrl);
  });

  it('--server, then MAESTRO_API_URL, then MAESTRO_SERVER_URL', async () => {
    const good = server.url;
    await newProject('Precedence project');
    const cases: [string, string[], Record<string, string | undefined>, string | null][] = [
      ['--server over MAESTRO_API_URL', ['--server', good], { MAESTRO_API_URL: deadUrl, MAESTRO_SERVER_URL: deadUrl }, null],
      ['--server over MAESTRO_API_URL (dead)', ['--server', deadUrl], { MAESTRO_API_URL: good }, deadUrl],
      ['MAESTRO_API_URL over MAESTRO_SERVER_URL', [], { MAESTRO_API_URL: good, MAESTRO_SERVER_URL: deadUrl }, null],
      ['MAESTRO_API_URL over MAESTRO_SERVER_URL (dead)', [], { MAESTRO_API_URL: deadUrl, MAESTRO_SERVER_URL: good }, deadUrl],
      ['MAESTRO_SERVER_URL alone', [], { MAESTRO_API_URL: undefined, MAESTRO_SERVER_URL: good }, null],
      ['MAESTRO_SERVER_URL alone (dead)', [], { MAESTRO_API_URL: undefined, MAESTRO_SERVER_URL: deadUrl }, deadUrl],
    ];
    const runs = await Promise.all(cases.map(([, flags, env]) => maestro([...flags, 'project', 'list'], env)));
    cases.forEach(([name, , , dead], i) => {
      const r = runs[i]!;
      if (dead) {
        expect(r.code, name).toBe(3);
        expect(r.stderr, name).toContain(dead);
      } else {
        expect(r.code, `${name}: ${r.stderr}`).toBe(0);
        expect(r.stdout, name).toContain('Precedence project');
      }
    });
    const invalid = await maestro(['--server', 'not a url', 'project', 'list']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('Invalid server URL');
    // Without its scheme a host and port parse as a URL of scheme "localhost:": named as the mistake it is.
    const bare = await maestro(['project', 'list'], { MAESTRO_API_URL: 'localhost:3000' });
    expect(bare).toMatchObject({
      code: 1,
      stderr:
        'maestro: Invalid server URL "localhost:3000" (from MAESTRO_API_URL): give the address the server listens on, e.g. http://localhost:3000',
    });
  });

  it('MAESTRO_TOKEN is sent as the bearer token; a 401 names the variable to check', async () => {
    const env = { MAESTRO_API_URL: secured.url };
    const [without, wrong, staleSession, asJson, withToken] = await Promise.all([
      maestro(['project', 'list'], env),
      maestro(['project', 'list'], { ...env, MAESTRO_TOKEN: 'not-the-secret' }),
      maestro(['project', 'list'], { ...env, MAESTRO_SESSION_TOKEN: 'mst_from_an_ended_session' }),
      maestro(['--json', 'project', 'list'], env),
      maestro(['project', 'create', 'Guarded'], { ...env, MAESTRO_TOKEN: 'cli-secret' }),
    ]);
    expect(without.code).toBe(1);
    expect(without.stderr).toBe(
      "maestro: Missing or invalid bearer token: the server needs a token: set MAESTRO_TOKEN to the server's token (or to one an administrator gave you)",
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^maestro: Missing or invalid bearer token: check MAESTRO_TOKEN: the server does not accept it/);
    expect(staleSession.code).toBe(1);
    expect(staleSession.stderr).toMatch(/: check MAESTRO_SESSION_TOKEN: this session's token no longer works/);
    expect(json(asJson)).toMatchObject({ success: false, error: { code: 'UNAUTHORIZED' } });
    expect(withToken.code).toBe(0);
    const id = idFrom(withToken.stdout, /^Created project (proj_\S+)$/m);
    const listed = await secured.call('GET', '/api/projects', undefined, { authorization: 'Bearer cli-secret' });
    expect(listed.body.map((p: any) => p.id)).toEqual([id]);
  });
});

describe('watch', SLOW, () => {
  it("--project prints only that project's events", async () => {
    const one = await newProject('Watched one');
    const two = await newProject('Watched two');
    // Start after the events so far: the watcher replays from here, so the order below is what it prints in.
    const { latestSeq } = await api('GET', '/api/events?since=0&limit=1');
    const stop = new AbortController();
    let stdout = '';
    const printed = () =>
      stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    const seen = new Promise<void>((resolve) => {
      const write = (text: string) => {
        stdout += text;
        if (printed().some((e) => e.type === 'project:updated' && e.data.id === one.id)) resolve();
      };
      const args = ['--json', 'watch', '--project', one.id, '--since', String(latestSeq)];
      void run(args, { env: envFor({}), stdout: write, stderr: () => {}, signal: stop.signal });
    });
    await api('PUT', `/api/projects/${two.id}`, { description: 'not watched' });
    await api('PUT', `/api/projects/${one.id}`, { description: 'watched' });
    await seen;
    stop.abort();
    // The other project's update came first: had it passed the filter, it would have been printed before this one.
    expect(printed().map((e) => [e.type, e.data.id])).toEqual([['project:updated', one.id]]);
  });

  it('works behind a proxy that serves the server under a path prefix', async () => {
    // A proxy that passes /maestro/… on to the server without the prefix, HTTP and WebSocket, and nothing else (as
    // nginx's `location /maestro/ { proxy_pass http://server/; }` does).
    const upstream = new URL(server.url);
    const strip = (path = '') => (path.startsWith('/maestro/') ? path.slice('/maestro'.length) : undefined);
    const proxy = createServer((req, res) => {
      const path = strip(req.url);
      if (!path) return void res.writeHead(404).end('not here');
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, path, method: req.method, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode!, up.headers);
          up.pipe(res);
        },
      );
      req.pipe(forward);
    });
    proxy.on('upgrade', (req, socket, head) => {
      const path = strip(req.url);
      if (!path) return void socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      const up = connect(Number(upstream.port), upstream.hostname, () => {
        const headers = Object.entries(req.headers).map(([k, v]) => `${k}: ${v}\r\n`);
        up.write(`${req.method} ${path} HTTP/1.1\r\n${headers.join('')}\r\n`);
        up.write(head);
        up.pipe(socket).pipe(up);
      });
      socket.on('error', () => up.destroy());
      up.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const prefixed = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/maestro`;
    // From a seq before the project: the watcher replays it whenever it connects.
    const { latestSeq } = await api('GET', '/api/events?since=0&limit=1');
    const project = await newProject('Behind a prefix');
    const stop = new AbortController();
    let [stdout, stderr] = ['', ''];
    let timer: NodeJS.Timeout | undefined;
    try {
      const printed = new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`watch behind the prefix printed nothing:\n${stderr}`)), 15_000);
        const watching = run(['watch', '--since', String(latestSeq)], {
          env: envFor({ MAESTRO_API_URL: prefixed }),
          stdout: (t) => {
            stdout += t;
            if (stdout.includes(project.id)) resolve();
          },
          stderr: (t) => void (stderr += t),
          signal: stop.signal,
        });
        void watching.then((code) => reject(new Error(`watch ended with ${code}:\n${stderr}`)));
      });
      // Before: the stream dialled ws://…/maestro, which the proxy does not serve, and retried for ever.
      await printed;
      expect(stdout).toMatch(new RegExp(`project:created  ${project.id}`));
      expect(stderr).toBe('');
    } finally {
      clearTimeout(timer);
      stop.abort();
      proxy.closeAllConnections();
      proxy.close();
    }
  });

  it('--since past the end of the log says so, not that events "up to #0 are no longer logged"', async () => {
    const { latestSeq } = await api('GET', '/api/events?since=0&limit=1');
    const stop = new AbortController();
    let stderr = '';
    const warned = new Promise<void>((resolve) => {
      const write = (text: string) => {
        stderr += text;
        if (stderr.includes('\n')) resolve();
      };
      void run(['watch', '--since', String(latestSeq + 1000)], { env: envFor({}), stdout: () => {}, stderr: write, signal: stop.signal });
    });
    await warned;
    stop.abort();
    // The log may have grown meanwhile (other tests share the server): the seq it ends at is the one it named.
    const end = /events end at #(\d+),/.exec(stderr)?.[1];
    expect(stderr).toBe(
      `maestro: this server's events end at #${end}, before #${latestSeq + 1000} (another server, or one restored from a backup?); continuing from #${end}\n`,
    );
  });
});
