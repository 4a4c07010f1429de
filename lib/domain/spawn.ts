// Spawn (§6): the session, its manifest and token, and the hand-over to a runner.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { ApiError } from '../errors.js';
import type { HostManager } from '../hosts/index.js';
import type { Logger } from '../log.js';
import type { Db } from '../storage/db.js';
import type { SpawnEvent } from './events.js';
import { writeJsonFile } from './manifest.js';
import { runManifestCli } from './manifest-cli.js';
import { claimSpawnedTasks, refuseClaimedTasks } from './spawn-claims.js';
import type { SpawnRequest } from './spawn-request.js';
import { emitTask } from './stores/links.js';
import { newQueue } from './stores/queues.js';
import { createSession } from './stores/sessions.js';
import type { TemplateStore } from './stores/templates.js';
import type { TokenStore } from './tokens.js';
import type { Session, Task } from './types.js';

export { parseSpawnRequest, type SpawnRequest } from './spawn-request.js';

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * `POST /api/sessions/spawn` (contract §6.3): records the session silently, has the CLI write its manifest,
 * then tells every UI to open a terminal. If the CLI fails, everything the spawn created is rolled back.
 */
export class Spawner {
  constructor(
    private readonly db: Db,
    private readonly templates: TemplateStore,
    private readonly config: Config,
    private readonly log: Logger,
    private readonly tokens: TokenStore,
    private readonly hosts: HostManager,
  ) {}

  async spawn(request: SpawnRequest) {
    const { projectId, taskIds, role, strategy, spawnSource } = request;
    const parentSessionId = request.sessionId ?? null;
    const name = request.sessionName ?? `${capitalise(role)} for ${taskIds[0]}`;
    const metadata = {
      skills: request.skills,
      spawnedBy: parentSessionId ?? request.spawnedBy ?? null,
      spawnSource,
      role,
      strategy,
      context: request.context,
      ...(request.spawnReason !== undefined && { spawnReason: request.spawnReason }),
      ...(request.workspace !== undefined && { workspace: request.workspace }),
    };

    // §15.3: the runner (the local one by default) and the agent preset it runs.
    const host = request.host ?? this.hosts.localName ?? null;
    const hostRecord = host ? this.db.get('hosts', host) : undefined;
    const agent = host
      ? (request.agent ??
        this.db.get('projects', projectId)?.agent ??
        this.config.agent ??
        (hostRecord?.agents.includes('claude') ? 'claude' : 'shell'))
      : null;

    // 1–2: the session, its links and its queue, on disk but announced to nobody yet.
    const created = await this.db.mutate((tx) => {
      // §24.7: a spawn that launches takes its tasks, so one held by another live session is refused first.
      if (host) refuseClaimedTasks(tx, taskIds, metadata.spawnedBy);
      const before = taskIds.map((id) => tx.get('tasks', id)!);
      // A queue works on one task at a time: only its first item is started (contract §18.4).
      const started = strategy === 'queue' ? taskIds.slice(0, 1) : taskIds;
      const made = createSession(tx, { projectId, taskIds, name, strategy, status: 'spawning', env: {}, metadata }, started);
      const session: Session = { ...made.session, host, agent, run: host ? { state: 'pending' } : null };
      tx.put('sessions', session);
      const { tasks } = made;
      if (strategy === 'queue') newQueue(tx, session);
      return { session, before, after: tasks };
    });
    const { session } = created;
    const sessionDir = join(this.config.sessionDir, session.id);
    const manifestPath = join(sessionDir, 'manifest.json');

    let manifest: Record<string, unknown>;
    try {
      await mkdir(sessionDir, { recursive: true });
      const fromStore =
        this.config.databaseType === 'postgres'
          ? { project: (id: string) => this.db.get('projects', id), task: (id: string) => this.db.get('tasks', id) }
          : undefined;
      manifest = await runManifestCli(this.config, this.log, request, manifestPath, fromStore);
    } catch (error) {
      await this.#rollBack(created, sessionDir);
      if (error instanceof ApiError) throw error;
      throw new ApiError(500, 'spawn_error', (error as Error).message, undefined, { cause: error });
    }

    try {
      const template = this.templates.forRole(role);
      if (template) manifest.templateId = template.id;
      if (request.model && typeof manifest.session === 'object' && manifest.session !== null) {
        (manifest.session as Record<string, unknown>).model = request.model;
      }
      if (template || request.model) await writeJsonFile(manifestPath, manifest);
      const project = this.db.get('projects', projectId);
      const envVars: Record<string, string> = {
        MAESTRO_SESSION_ID: session.id,
        MAESTRO_MANIFEST_PATH: manifestPath,
        MAESTRO_SERVER_URL: this.config.serverUrl ?? `http://localhost:${this.config.port}`,
        MAESTRO_STRATEGY: strategy,
        MAESTRO_PROJECT_ID: projectId,
        MAESTRO_TASK_IDS: taskIds.join(','),
        MAESTRO_SKILLS: request.skills.join(','),
        ...(agent && { MAESTRO_AGENT: agent }),
        ...(request.model && { MAESTRO_MODEL: request.model }),
      };
      const command = `maestro ${role} init`;
      const cwd = project?.workingDir ?? '';

      // 7–9: env filled, then the events in the contract's order.
      const spawned = await this.db.mutate((tx) => {
        const current = tx.get('sessions', session.id);
        if (!current) throw new Error(`Session ${session.id} was deleted while it was being spawned`);
        const updated: Session = { ...current, env: { ...current.env, ...envVars }, lastActivity: tx.now };
        tx.put('sessions', updated);
        tx.emit('session:updated', updated);
        // §15.6: the token reaches the terminal through the spawn events and the launch, never the stored session.
        const token = this.tokens.mint(tx, session.id);
        const event: SpawnEvent = {
          session: updated,
          command,
          cwd,
          envVars: { ...envVars, MAESTRO_SESSION_TOKEN: token },
          manifest,
          host,
          agent,
          projectId,
          taskIds,
          spawnSource,
          parentSessionId,
          _isSpawnCreated: true,
        };
        tx.emit('session:spawn', event);
        tx.emit('session:spawn_request', { ...event, skillIds: request.skills, name: updated.name });
        for (const taskId of taskIds) {
          tx.emit('task:session_added', { taskId, sessionId: session.id });
          const task = tx.get('tasks', taskId);
          if (task) emitTask(tx, 'updated', task);
        }
        const queue = tx.get('queues', session.id);
        if (queue) tx.emit('queue:created', { sessionId: session.id, queue });
        if (host) claimSpawnedTasks(tx, session.id, taskIds);
        return { session: updated, token };
      });
      if (host) await this.hosts.spawned(spawned.session, spawned.token);

      return {
        success: true as const,
        sessionId: session.id,
        manifestPath,
        message: !host
          ? 'Spawn request sent to Agents UI'
          : this.hosts.isOnline(host)
            ? `Launching on ${host}`
            : `Waiting for host ${host} to connect`,
        session: spawned.session,
        host,
        agent,
        envVars: { ...envVars, MAESTRO_SESSION_TOKEN: spawned.token },
        initialCommand: command,
        cwd,
      };
    } catch (error) {
      throw new ApiError(500, 'spawn_error', (error as Error).message, undefined, { cause: error });
    }
  }

  /** Undoes steps 1–3 with no event: session, links (tasks restored if nobody changed them since), queue, manifest dir. */
  async #rollBack(created: { session: Session; before: Task[]; after: Task[] }, sessionDir: string) {
    const { session } = created;
    try {
      await this.db.mutate((tx) => {
        tx.remove('sessions', session.id);
        if (tx.get('queues', session.id)) tx.remove('queues', session.id);
        created.after.forEach((written, i) => {
          const current = tx.get('tasks', written.id);
          if (!current) return;
          if (current === written) tx.put('tasks', created.before[i]!);
          else tx.put('tasks', { ...current, sessionIds: current.sessionIds.filter((id) => id !== session.id) });
        });
      });
      await rm(sessionDir, { recursive: true, force: true });
    } catch (error) {
      this.log.error(`Rolling back spawn of ${session.id} failed`, error);
    }
  }
}
