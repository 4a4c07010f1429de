import { chmodSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { type Call, type Listener, settle, startTestServer, tempDir } from './helpers.js';

/*
 * POST /api/sessions/spawn (contract §6) through a real server: the answer, the files it leaves on disk, and the
 * events a UI sees on its WebSocket. The first part runs this package's own CLI, as a fresh install does; the second
 * swaps in small fake CLIs (MAESTRO_CLI_PATH) to see how failures are reported and rolled back.
 */

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const list = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

/** The file is JSON printed with a 2-space indent. */
function expectPrettyJson(path: string) {
  const text = readFileSync(path, 'utf8');
  expect(text.trimEnd()).toBe(JSON.stringify(JSON.parse(text), null, 2));
}

async function createProject(call: Call, name: string, workingDir: string) {
  const res = await call('POST', '/api/projects', { name, workingDir });
  expect(res.status).toBe(201);
  return res.body;
}

async function createTask(call: Call, projectId: string, title: string, extra: Record<string, unknown> = {}) {
  const res = await call('POST', '/api/tasks', { projectId, title, ...extra });
  expect(res.status).toBe(201);
  return res.body;
}

async function getTask(call: Call, id: string) {
  const res = await call('GET', `/api/tasks/${id}`);
  expect(res.status).toBe(200);
  return res.body;
}

async function defaultTemplateId(call: Call, role: string): Promise<string> {
  const res = await call('GET', '/api/templates');
  const template = res.body.find((t: any) => t.role === role && t.isDefault);
  expect(template).toBeDefined();
  return template.id;
}

/** Waits for exactly `count` events: the count, then a quiet moment in which nothing more arrives. */
async function eventsExactly(ws: Listener, count: number) {
  await ws.waitFor(count);
  await settle();
  const events = ws.events();
  expect(events.map((e) => e.type)).toHaveLength(count);
  events.forEach((e, i) => {
    expect(e.event).toBe(e.type);
    if (i > 0) expect(e.seq).toBe(events[i - 1].seq + 1);
  });
  return events;
}

describe('spawn with the CLI shipped in this package', async () => {
  const server = await startTestServer();
  const { call } = server;
  const ws = await server.listen();
  const project = await createProject(call, 'Spawn project', '/srv/code/spawn-project');
  const workerTemplateId = await defaultTemplateId(call, 'worker');
  beforeEach(() => ws.clear());

  it('answers 201 per §6.8, writes the manifest and the session, links the tasks and tells the UIs, in order', async () => {
    const t1 = await createTask(call, project.id, 'Write the parser', {
      description: 'Parse the input.\n\nAcceptance criteria:\n- handles empty input\n- reports the line of an error\n',
      priority: 'high',
    });
    const t2 = await createTask(call, project.id, 'Document the parser');
    ws.clear();

    const res = await call('POST', '/api/sessions/spawn', {
      projectId: project.id,
      taskIds: [t1.id, t2.id],
      context: { reason: 'ship it', ticket: 42 },
    });
    expect(res.status).toBe(201);

    const sid: string = res.body.sessionId;
    expect(sid).toMatch(/^sess_\d+_[0-9a-z]{1,9}$/);
    const manifestPath = join(server.config.sessionDir, sid, 'manifest.json');
    const envVars = {
      MAESTRO_SESSION_ID: sid,
      MAESTRO_MANIFEST_PATH: manifestPath,
      MAESTRO_SERVER_URL: `http://localhost:${server.port}`,
      MAESTRO_STRATEGY: 'simple',
      MAESTRO_PROJECT_ID: project.id,
      MAESTRO_TASK_IDS: `${t1.id},${t2.id}`,
      MAESTRO_SKILLS: '',
    };
    // The session's own token (§15.6) reaches the terminal through the answer and the spawn events, never session.env.
    const withToken = { ...envVars, MAESTRO_SESSION_TOKEN: expect.stringMatching(/^mst_[A-Za-z0-9_-]{32}$/) };
    // Without SERVER_URL, the config value is derived from the port actually bound.
    expect(server.config.serverUrl).toBe(`http://localhost:${server.port}`);
    expect(res.body).toEqual({
      success: true,
      sessionId: sid,
      manifestPath,
      message: 'Spawn request sent to Agents UI',
      session: expect.any(Object),
      host: null,
      agent: null,
      envVars: withToken,
      initialCommand: 'maestro worker init',
      cwd: '/srv/code/spawn-project',
    });

    // The session as stored and served.
    const session = res.body.session;
    expect(session).toMatchObject({
      id: sid,
      projectId: project.id,
      taskIds: [t1.id, t2.id],
      name: `Worker for ${t1.id}`,
      env: envVars,
      strategy: 'simple',
      status: 'spawning',
      completedAt: null,
      hostname: hostname(),
      platform: process.platform,
      events: [],
    });
    expect(session.metadata).toEqual({
      skills: [],
      spawnedBy: null,
      spawnSource: 'ui',
      role: 'worker',
      strategy: 'simple',
      context: { reason: 'ship it', ticket: 42 },
    });
    expect(session.timeline.map((e: any) => [e.type, e.message, e.taskId])).toEqual([
      ['session_started', 'Session created', undefined],
      ['task_started', 'Started working on task', t1.id],
      ['task_started', 'Started working on task', t2.id],
    ]);
    expect((await call('GET', `/api/sessions/${sid}`)).body).toEqual(session);
    const sessionFile = join(server.config.dataDir, 'sessions', `${sid}.json`);
    expect(readJson(sessionFile)).toEqual(session);
    expectPrettyJson(sessionFile);

    // The manifest the CLI wrote from DATA_DIR, with the role's default template added by the server.
    const manifest = readJson(manifestPath);
    expectPrettyJson(manifestPath);
    expect(manifest).toEqual({
      manifestVersion: '1.0',
      role: 'worker',
      strategy: 'simple',
      tasks: [
        expect.objectContaining({
          id: t1.id,
          title: 'Write the parser',
          description: t1.description,
          acceptanceCriteria: ['handles empty input', 'reports the line of an error'],
          projectId: project.id,
          createdAt: new Date(t1.createdAt).toISOString(),
          priority: 'high',
        }),
        expect.objectContaining({
          id: t2.id,
          title: 'Document the parser',
          description: '',
          acceptanceCriteria: ['Task completion as described'],
          projectId: project.id,
        }),
      ],
      session: { model: 'sonnet', permissionMode: 'acceptEdits', thinkingMode: 'auto', workingDirectory: '/srv/code/spawn-project' },
      context: { custom: { taskIds: [t1.id, t2.id] } },
      skills: [],
      templateId: workerTemplateId,
    });
    expect(manifest.tasks[0]).not.toHaveProperty('parentId');

    // Both sides of each link.
    for (const t of [t1, t2]) {
      const task = await getTask(call, t.id);
      expect(task.sessionIds).toEqual([sid]);
      expect(task.sessionCount).toBe(1);
      expect(readJson(join(server.config.dataDir, 'tasks', project.id, `${t.id}.json`)).sessionIds).toEqual([sid]);
    }

    // What a UI sees: no session:created, the spawn pair, then the links.
    const events = await eventsExactly(ws, 7);
    expect(events.map((e) => e.type)).toEqual([
      'session:updated',
      'session:spawn',
      'session:spawn_request',
      'task:session_added',
      'task:updated',
      'task:session_added',
      'task:updated',
    ]);
    expect(events[0].data).toEqual(session);
    const spawnEvent = {
      session,
      command: 'maestro worker init',
      cwd: '/srv/code/spawn-project',
      envVars: withToken,
      manifest,
      projectId: project.id,
      taskIds: [t1.id, t2.id],
      spawnSource: 'ui',
      parentSessionId: null,
      host: null,
      agent: null,
      _isSpawnCreated: true,
    };
    expect(events[1].data).toEqual(spawnEvent);
    expect(events[1].data.envVars.MAESTRO_SESSION_TOKEN).toBe(res.body.envVars.MAESTRO_SESSION_TOKEN);
    expect(events[2].data).toEqual({ ...spawnEvent, skillIds: [], name: `Worker for ${t1.id}` });
    expect(events[3].data).toEqual({ taskId: t1.id, sessionId: sid });
    expect(events[4].data).toEqual(await getTask(call, t1.id));
    expect(events[5].data).toEqual({ taskId: t2.id, sessionId: sid });
    expect(events[6].data).toEqual(await getTask(call, t2.id));

    // The API description names every field of the answer and of the spawn event.
    const published = (schema: { properties: object }, value: object) => Object.keys(value).filter((k) => !(k in schema.properties));
    const { body: openapi } = await call('GET', '/api/openapi.json');
    expect(published(openapi.components.schemas.SpawnResult, res.body)).toEqual([]);
    expect(published(openapi.components.schemas.SpawnEvent, events[1].data)).toEqual([]);

    // A simple session has no queue.
    expect(existsSync(join(server.config.dataDir, 'queues', `${sid}.json`))).toBe(false);
  });

  it('strategy queue: writes queues/<sessionId>.json with every task queued and announces it after the rest', async () => {
    const tasks = [
      await createTask(call, project.id, 'Queue one'),
      await createTask(call, project.id, 'Queue two'),
      await createTask(call, project.id, 'Queue three'),
    ];
    const taskIds = tasks.map((t) => t.id);
    ws.clear();

    const res = await call('POST', '/api/sessions/spawn', {
      projectId: project.id,
      taskIds,
      strategy: 'queue',
      sessionName: 'Night shift',
      skills: ['maestro-worker', 'code-review'],
    });
    expect(res.status).toBe(201);
    const sid = res.body.sessionId;
    expect(res.body.session).toMatchObject({ name: 'Night shift', strategy: 'queue', status: 'spawning' });
    // A queue starts one task at a time: only its first item gets a task_started entry (§18.4).
    expect(res.body.session.timeline.map((e: any) => [e.type, e.taskId])).toEqual([
      ['session_started', undefined],
      ['task_started', taskIds[0]],
    ]);
    expect(res.body.session.metadata).toEqual({
      skills: ['maestro-worker', 'code-review'],
      spawnedBy: null,
      spawnSource: 'ui',
      role: 'worker',
      strategy: 'queue',
      context: {},
    });
    expect(res.body.envVars).toMatchObject({
      MAESTRO_STRATEGY: 'queue',
      MAESTRO_SKILLS: 'maestro-worker,code-review',
      MAESTRO_TASK_IDS: taskIds.join(','),
    });

    const manifest = readJson(res.body.manifestPath);
    expect(manifest).toMatchObject({ strategy: 'queue', skills: ['maestro-worker', 'code-review'], context: { custom: { taskIds } } });
    expect(manifest.tasks.map((t: any) => t.id)).toEqual(taskIds);

    const queueFile = join(server.config.dataDir, 'queues', `${sid}.json`);
    const queue = readJson(queueFile);
    expectPrettyJson(queueFile);
    expect(queue).toEqual({
      sessionId: sid,
      strategy: 'queue',
      items: taskIds.map((taskId) => ({ taskId, status: 'queued', addedAt: expect.any(Number) })),
      currentIndex: -1,
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
    });
    const served = await call('GET', `/api/sessions/${sid}/queue`);
    expect(served.status).toBe(200);
    expect(served.body).toEqual({ queue, stats: { total: 3, queued: 3, processing: 0, completed: 0, failed: 0, skipped: 0 } });

    const events = await eventsExactly(ws, 10);
    expect(events.map((e) => e.type)).toEqual([
      'session:updated',
      'session:spawn',
      'session:spawn_request',
      'task:session_added',
      'task:updated',
      'task:session_added',
      'task:updated',
      'task:session_added',
      'task:updated',
      'queue:created',
    ]);
    expect(events[2].data).toMatchObject({ skillIds: ['maestro-worker', 'code-review'], name: 'Night shift' });
    expect(events[9].data).toEqual({ sessionId: sid, queue });
  });

  it('spawnSource session: the parent session becomes metadata.spawnedBy and parentSessionId', async () => {
    const root = await createTask(call, project.id, 'Big feature');
    const child = await createTask(call, project.id, 'Piece of the feature', { parentId: root.id });
    const parent = await call('POST', '/api/sessions', { projectId: project.id, taskIds: [root.id], name: 'Lead' });
    expect(parent.status).toBe(201);
    ws.clear();

    const res = await call('POST', '/api/sessions/spawn', {
      projectId: project.id,
      taskIds: [child.id],
      spawnSource: 'session',
      sessionId: parent.body.id,
      spawnedBy: 'sess_ignored_when_sessionId_given',
      context: { reason: 'split the work' },
    });
    expect(res.status).toBe(201);
    expect(res.body.session.metadata).toEqual({
      skills: [],
      spawnedBy: parent.body.id,
      spawnSource: 'session',
      role: 'worker',
      strategy: 'simple',
      context: { reason: 'split the work' },
    });
    const manifest = readJson(res.body.manifestPath);
    expect(manifest.tasks[0]).toMatchObject({ id: child.id, parentId: root.id });

    // A child task's task:updated is followed by its subtask:updated projection (§4.4).
    const events = await eventsExactly(ws, 6);
    expect(events.map((e) => e.type)).toEqual([
      'session:updated',
      'session:spawn',
      'session:spawn_request',
      'task:session_added',
      'task:updated',
      'subtask:updated',
    ]);
    expect(events[1].data).toMatchObject({ spawnSource: 'session', parentSessionId: parent.body.id, _isSpawnCreated: true });
    expect(events[2].data).toMatchObject({ spawnSource: 'session', parentSessionId: parent.body.id, name: `Worker for ${child.id}` });
    expect(events[5].data).toEqual({ taskId: root.id, subtask: await getTask(call, child.id) });

    // The parent is untouched: spawning a child session does not link anything to it.
    expect((await call('GET', `/api/sessions/${parent.body.id}`)).body).toEqual(parent.body);
  });

  it('orchestrator role: its name, command, manifest role and default template', async () => {
    const task = await createTask(call, project.id, 'Plan the release');
    const orchestratorTemplateId = await defaultTemplateId(call, 'orchestrator');
    expect(orchestratorTemplateId).not.toBe(workerTemplateId);
    ws.clear();

    const res = await call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], role: 'orchestrator' });
    expect(res.status).toBe(201);
    expect(res.body.initialCommand).toBe('maestro orchestrator init');
    expect(res.body.session.name).toBe(`Orchestrator for ${task.id}`);
    expect(res.body.session.metadata).toMatchObject({ role: 'orchestrator', spawnSource: 'ui', spawnedBy: null });
    const manifest = readJson(res.body.manifestPath);
    expect(manifest).toMatchObject({ role: 'orchestrator', templateId: orchestratorTemplateId });
    const events = await eventsExactly(ws, 5);
    expect(events[1].data).toMatchObject({ command: 'maestro orchestrator init', manifest });
  });

  it('legacy fields: spawnedBy without a sessionId, spawnReason kept; skills that are not an array count as none', async () => {
    const task = await createTask(call, project.id, 'Legacy caller');
    const res = await call('POST', '/api/sessions/spawn', {
      projectId: project.id,
      taskIds: [task.id],
      spawnedBy: 'sess_legacy_parent',
      spawnReason: 'old client',
      skills: 'maestro-worker',
    });
    expect(res.status).toBe(201);
    expect(res.body.session.metadata).toMatchObject({ spawnedBy: 'sess_legacy_parent', spawnReason: 'old client', skills: [] });
    expect(res.body.envVars.MAESTRO_SKILLS).toBe('');
    expect(readJson(res.body.manifestPath).skills).toEqual([]);
  });
});

describe('spawn validation (§6.2, first failure wins)', async () => {
  const server = await startTestServer();
  const { call } = server;
  const ws = await server.listen();
  const projectId: string = (await createProject(call, 'Validation', '/tmp/validation')).id;
  const taskId: string = (await createTask(call, projectId, 'Valid task')).id;
  const parentId: string = (await call('POST', '/api/sessions', { projectId, taskIds: [] })).body.id;

  type Case = [name: string, body: () => unknown, status: number, code: string, message: () => string];
  const cases: Case[] = [
    ['no body at all', () => undefined, 400, 'missing_project_id', () => 'projectId is required'],
    [
      'projectId missing (and everything else wrong)',
      () => ({ taskIds: 'x', spawnSource: 'x', role: 'x', strategy: 'x' }),
      400,
      'missing_project_id',
      () => 'projectId is required',
    ],
    ['projectId blank', () => ({ projectId: '  ', taskIds: [taskId] }), 400, 'missing_project_id', () => 'projectId is required'],
    ['taskIds missing', () => ({ projectId }), 400, 'invalid_task_ids', () => 'taskIds must be a non-empty array'],
    [
      'taskIds empty (and a bad spawnSource)',
      () => ({ projectId, taskIds: [], spawnSource: 'robot' }),
      400,
      'invalid_task_ids',
      () => 'taskIds must be a non-empty array',
    ],
    ['taskIds a string', () => ({ projectId, taskIds: taskId }), 400, 'invalid_task_ids', () => 'taskIds must be a non-empty array'],
    [
      'spawnSource invalid (and a bad role)',
      () => ({ projectId, taskIds: [taskId], spawnSource: 'robot', role: 'boss' }),
      400,
      'invalid_spawn_source',
      () => 'spawnSource must be "ui" or "session"',
    ],
    [
      'spawnSource session without sessionId (and a bad role)',
      () => ({ projectId, taskIds: [taskId], spawnSource: 'session', role: 'boss' }),
      400,
      'missing_session_id',
      () => 'sessionId is required when spawnSource is "session"',
    ],
    [
      'unknown parent session (and a bad role)',
      () => ({ projectId, taskIds: [taskId], spawnSource: 'session', sessionId: 'sess_nobody', role: 'boss' }),
      404,
      'parent_session_not_found',
      () => 'Parent session sess_nobody not found',
    ],
    [
      'role invalid (and an unknown task)',
      () => ({ projectId, taskIds: ['task_missing'], role: 'boss' }),
      400,
      'invalid_role',
      () => 'role must be "worker" or "orchestrator"',
    ],
    [
      'role invalid with a valid parent',
      () => ({ projectId, taskIds: [taskId], spawnSource: 'session', sessionId: parentId, role: 'boss' }),
      400,
      'invalid_role',
      () => 'role must be "worker" or "orchestrator"',
    ],
    [
      'unknown task (and an unknown project)',
      () => ({ projectId: 'proj_missing', taskIds: [taskId, 'task_missing'], strategy: 'bogus' }),
      404,
      'task_not_found',
      () => 'Task task_missing not found',
    ],
    [
      'unknown project (and a bad strategy)',
      () => ({ projectId: 'proj_missing', taskIds: [taskId], strategy: 'bogus' }),
      404,
      'project_not_found',
      () => 'Project proj_missing not found',
    ],
    [
      'strategy invalid',
      () => ({ projectId, taskIds: [taskId], strategy: 'bogus' }),
      400,
      'invalid_strategy',
      () => 'strategy must be "simple", "queue", or "tree"',
    ],
    // It becomes the argument after the agent's `--model`: "--yolo" would be Gemini CLI's flag, not a model.
    [
      'model that is an option',
      () => ({ projectId, taskIds: [taskId], agent: 'gemini', model: '--yolo' }),
      400,
      'VALIDATION_ERROR',
      () => 'model must be a model name, not an option',
    ],
    [
      'model that is a short option',
      () => ({ projectId, taskIds: [taskId], model: ' -y' }),
      400,
      'VALIDATION_ERROR',
      () => 'model must be a model name, not an option',
    ],
    // A NUL can be in no argument or variable of the agent's launch: let through, the launch failed on the runner
    // with "tmux could not start the agent: unknown error".
    [
      'model holding a NUL',
      () => ({ projectId, taskIds: [taskId], model: 'opus\u0000x' }),
      400,
      'VALIDATION_ERROR',
      () => 'model must not contain a NUL character',
    ],
    [
      'skill holding a NUL',
      () => ({ projectId, taskIds: [taskId], skills: ['review', 'a\u0000b'] }),
      400,
      'VALIDATION_ERROR',
      () => 'skills must not contain a NUL character',
    ],
  ];

  it.each(cases)('%s', async (_name, body, status, code, message) => {
    ws.clear();
    const res = await call('POST', '/api/sessions/spawn', body());
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ error: true, code, message: message() });
    expect(Object.keys(res.body).every((k) => ['error', 'code', 'message', 'details'].includes(k))).toBe(true);
    if (code === 'task_not_found') expect(res.body.details).toEqual({ taskId: 'task_missing' });
  });

  it('creates nothing and says nothing when a spawn is refused', async () => {
    ws.clear();
    await call('POST', '/api/sessions/spawn', { projectId, taskIds: [taskId], strategy: 'bogus' });
    await call('POST', '/api/sessions/spawn', { projectId, taskIds: [taskId], role: 'boss' });
    await call('POST', '/api/sessions/spawn', { projectId, taskIds: [taskId], model: '--yolo' });
    await call('POST', '/api/sessions/spawn', { projectId, taskIds: [taskId], skills: ['a\u0000b'] });
    await settle();
    expect(ws.events()).toEqual([]);
    expect((await call('GET', '/api/sessions')).body.map((s: any) => s.id)).toEqual([parentId]);
    expect((await getTask(call, taskId)).sessionIds).toEqual([]);
    expect(list(server.config.sessionDir)).toEqual([]);
  });
});

describe('spawn with MAESTRO_CLI_PATH', async () => {
  const cliDir = tempDir('maestro-fake-cli-');
  const cliPath = join(cliDir, 'maestro');
  const callsFile = join(cliDir, 'calls.jsonl');
  /** Replaces the CLI the server runs (a new file each time, so a still-running old one is never rewritten). */
  function installCli(script: string, mode = 0o755) {
    const temp = `${cliPath}.${Math.random().toString(36).slice(2)}`;
    writeFileSync(temp, script);
    chmodSync(temp, mode);
    renameSync(temp, cliPath);
  }

  /** A compatible CLI that records its argv and environment, then writes a compact manifest from its flags. */
  const recordingCli = `#!${process.execPath}
const fs = require('node:fs');
const path = require('node:path');
const argv = process.argv.slice(2);
const opt = (name) => { const i = argv.indexOf(name); return i < 0 ? undefined : argv[i + 1]; };
const dataDir = process.env.DATA_DIR;
const projectId = opt('--project-id');
const taskIds = opt('--task-ids').split(',');
fs.appendFileSync(${JSON.stringify(callsFile)}, JSON.stringify({
  argv,
  dataDir,
  marker: process.env.MAESTRO_FAKE_CLI_MARKER,
  stdin: fs.readFileSync(0, 'utf8'),
  projectOnDisk: fs.existsSync(path.join(dataDir, 'projects', projectId + '.json')),
  tasksOnDisk: taskIds.map((id) => fs.existsSync(path.join(dataDir, 'tasks', projectId, id + '.json'))),
}) + '\\n');
fs.writeFileSync(opt('--output'), JSON.stringify({
  manifestVersion: '1.0', role: opt('--role'), strategy: opt('--strategy'), tasks: taskIds.map((id) => ({ id })),
  skills: (opt('--skills') || '').split(',').filter(Boolean), madeBy: 'fake',
}));
`;

  const lastCall = () => {
    const lines = readFileSync(callsFile, 'utf8').trim().split('\n');
    return JSON.parse(lines.at(-1)!);
  };

  // Set in this process, so in the in-process server's environment: the CLI must inherit it (§6.4).
  process.env.MAESTRO_FAKE_CLI_MARKER = 'inherited';
  afterAll(() => {
    delete process.env.MAESTRO_FAKE_CLI_MARKER;
  });
  installCli(recordingCli);
  // Short enough for the hanging CLI, long enough for a node-based fake to start on a busy machine.
  const server = await startTestServer({
    MAESTRO_CLI_PATH: cliPath,
    MAESTRO_CLI_TIMEOUT_MS: '3000',
    SERVER_URL: 'http://maestro.test:4000',
  });
  const { call } = server;
  const ws = await server.listen();
  const project = await createProject(call, 'Fake CLI project', '/srv/fake');
  const taskA = await createTask(call, project.id, 'Task A');
  const taskB = await createTask(call, project.id, 'Task B');
  beforeEach(() => ws.clear());

  it('runs the CLI with the argv of §6.4 and DATA_DIR, after the data is on disk, and patches in templateId', async () => {
    const res = await call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [taskA.id, taskB.id] });
    expect(res.status).toBe(201);
    const sid = res.body.sessionId;
    const output = join(server.config.sessionDir, sid, 'manifest.json');
    const recorded = lastCall();
    expect(recorded).toEqual({
      // No --skills when there are none.
      argv: [
        'manifest',
        'generate',
        '--role',
        'worker',
        '--project-id',
        project.id,
        '--task-ids',
        `${taskA.id},${taskB.id}`,
        '--strategy',
        'simple',
        '--output',
        output,
      ],
      dataDir: server.config.dataDir,
      marker: 'inherited',
      stdin: '',
      projectOnDisk: true,
      tasksOnDisk: [true, true],
    });
    expect(res.body.manifestPath).toBe(output);
    expect(res.body.envVars.MAESTRO_SERVER_URL).toBe('http://maestro.test:4000');
    // The fake's manifest is opaque to the server: kept as written, plus templateId, rewritten with a 2-space indent.
    expect(readJson(output)).toEqual({
      manifestVersion: '1.0',
      role: 'worker',
      strategy: 'simple',
      tasks: [{ id: taskA.id }, { id: taskB.id }],
      skills: [],
      madeBy: 'fake',
      templateId: await defaultTemplateId(call, 'worker'),
    });
    expectPrettyJson(output);
    const events = await eventsExactly(ws, 7);
    expect(events[1].data.manifest).toEqual(readJson(output));
  });

  it('passes --skills, --strategy and --role when given', async () => {
    const res = await call('POST', '/api/sessions/spawn', {
      projectId: project.id,
      taskIds: [taskB.id],
      skills: ['maestro-cli', 'maestro-orchestrator'],
      strategy: 'tree',
      role: 'orchestrator',
    });
    expect(res.status).toBe(201);
    expect(lastCall().argv).toEqual([
      'manifest',
      'generate',
      '--role',
      'orchestrator',
      '--project-id',
      project.id,
      '--task-ids',
      taskB.id,
      '--skills',
      'maestro-cli,maestro-orchestrator',
      '--strategy',
      'tree',
      '--output',
      res.body.manifestPath,
    ]);
    expect(readJson(res.body.manifestPath).skills).toEqual(['maestro-cli', 'maestro-orchestrator']);
    expect(res.body.envVars.MAESTRO_SKILLS).toBe('maestro-cli,maestro-orchestrator');
  });

  const reason = (text: string) => `Failed to generate manifest: ${text}`;
  const sleeperPidFile = join(cliDir, 'sleeper.pid');
  /** A process that exited but was not reaped yet (a zombie) counts as gone. */
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return !existsSync('/proc');
    }
  };
  const failures: [name: string, setUp: () => void, expected: string | RegExp, after?: () => Promise<void>][] = [
    [
      'exits non-zero with a message on stderr',
      () => installCli('#!/bin/sh\necho "something went wrong" >&2\necho "  on line 2" >&2\nexit 3\n'),
      reason('Manifest generation failed (exit code 3): something went wrong\n  on line 2'),
    ],
    [
      // A wrapper whose child holds the output pipes: killing the wrapper alone would not end the wait.
      'hangs past MAESTRO_CLI_TIMEOUT_MS',
      () => installCli(`#!/bin/sh\nsleep 30 &\necho $! > ${sleeperPidFile}\nwait\n`),
      /^Failed to generate manifest: .*timed out/i,
      async () => {
        // What the CLI started is ended too, not left running.
        const pid = Number(readFileSync(sleeperPidFile, 'utf8'));
        await expect.poll(() => alive(pid), { timeout: 5000 }).toBe(false);
      },
    ],
    [
      'reports "command not found"',
      () => installCli('#!/bin/sh\necho "sh: 1: maestro: command not found" >&2\nexit 127\n'),
      reason('maestro CLI not found. Please install maestro: npm install -g maestro-cli'),
    ],
    [
      'reports ENOENT on stderr',
      () => installCli('#!/bin/sh\necho "Error: spawn maestro ENOENT" >&2\nexit 1\n'),
      reason('maestro CLI not found. Please install maestro: npm install -g maestro-cli'),
    ],
    ['does not exist', () => rmSync(cliPath, { force: true }), /^Failed to generate manifest: Failed to spawn maestro CLI: .*ENOENT/],
    [
      'is not executable',
      () => installCli('#!/bin/sh\nexit 0\n', 0o644),
      /^Failed to generate manifest: Failed to spawn maestro CLI: .*EACCES/,
    ],
    [
      'exits 0 without writing the manifest',
      () => installCli('#!/bin/sh\nexit 0\n'),
      /^Failed to generate manifest: Failed to read manifest: .*ENOENT/,
    ],
    [
      'exits 0 after writing something that is not JSON',
      () => installCli('#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = --output ] && out="$2"; shift; done\necho "not json {" > "$out"\n'),
      /^Failed to generate manifest: Failed to read manifest: .+/,
    ],
  ];

  it.each(failures)(
    'a CLI that %s: 500 manifest_generation_failed, full rollback, no event, server fine',
    async (_name, setUp, expected, after) => {
      const sessionsBefore = (await call('GET', '/api/sessions')).body;
      const tasksBefore = [await getTask(call, taskA.id), await getTask(call, taskB.id)];
      const files = () => ({
        sessions: list(join(server.config.dataDir, 'sessions')),
        queues: list(join(server.config.dataDir, 'queues')),
        manifests: list(server.config.sessionDir),
      });
      const filesBefore = files();
      setUp();
      ws.clear();

      const res = await call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [taskA.id, taskB.id], strategy: 'queue' });
      expect(res.status).toBe(500);
      expect(Object.keys(res.body).sort()).toEqual(['code', 'error', 'message']);
      expect(res.body).toMatchObject({ error: true, code: 'manifest_generation_failed' });
      if (typeof expected === 'string') expect(res.body.message).toBe(expected);
      else expect(res.body.message).toMatch(expected);
      await after?.();

      // Rolled back: no session, no link, no queue, no manifest directory.
      expect((await call('GET', '/api/sessions')).body).toEqual(sessionsBefore);
      expect(files()).toEqual(filesBefore);
      for (const before of tasksBefore) {
        const after = await getTask(call, before.id);
        expect(after.sessionIds).toEqual(before.sessionIds);
        expect(readJson(join(server.config.dataDir, 'tasks', project.id, `${before.id}.json`)).sessionIds).toEqual(before.sessionIds);
      }
      await settle();
      expect(ws.events()).toEqual([]);

      // Still serving, and the next spawn with a working CLI goes through.
      expect((await call('GET', '/health')).status).toBe(200);
      installCli(recordingCli);
      const good = await call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [taskA.id], strategy: 'queue' });
      expect(good.status).toBe(201);
      expect(existsSync(join(server.config.dataDir, 'queues', `${good.body.sessionId}.json`))).toBe(true);
      const events = await eventsExactly(ws, 6);
      expect(events.map((e) => e.type)).toEqual([
        'session:updated',
        'session:spawn',
        'session:spawn_request',
        'task:session_added',
        'task:updated',
        'queue:created',
      ]);
    },
  );
});
