// Agent runs on runners (contract §15.3): launches, the runner's started/exited/failed reports, reconciliation on hello.

import { bounded, timelineEntry } from '../domain/stores/session-history.js';
import type { TokenStore } from '../domain/tokens.js';
import { FINAL_SESSION_STATUSES, type Session, type SessionRun, type TimelineEntry } from '../domain/types.js';
import type { Db, Tx } from '../storage/db.js';
import type { Hello, RunnerHub, RunnerReport } from './hub.js';
import { launchWorkspace } from './workspace-launch.js';

export const isFinal = (s: Session) => FINAL_SESSION_STATUSES.includes(s.status);
export const timeline = (tx: Tx, type: TimelineEntry['type'], message: string): TimelineEntry => timelineEntry(tx, { type, message });

/** A session's next state given its current one, or undefined for no change. */
type Change = (s: Session, tx: Tx) => Session | undefined;

export class SessionRuns {
  /** Raw tokens minted at spawn for launches not sent yet; never written anywhere. */
  readonly #launchTokens = new Map<string, string>();

  constructor(
    private readonly db: Db,
    private readonly tokens: TokenStore,
    private readonly hub: RunnerHub,
  ) {
    // A launch that can no longer happen (the session ended or went while its host was away) keeps no token.
    db.onApply((kind, before, after) => {
      if (kind !== 'sessions') return;
      const session = after as Session | null;
      const id = (before as Session | undefined)?.id ?? session?.id;
      if (id !== undefined && (session?.run?.state !== 'pending' || isFinal(session))) this.#launchTokens.delete(id);
    });
  }

  /** Spawns whose launch waits for their host (for tests). */
  waitingLaunches = () => this.#launchTokens.size;

  /** Remembers the spawn's token for the launch, then launches at once if the host is online (§15.3 steps 1–2). */
  async spawned(session: Session, token: string) {
    this.#launchTokens.set(session.id, token);
    if (session.host && this.hub.isOnline(session.host)) await this.#launch(session);
  }

  /** Launches the spawns made here that still wait for the runner of `name` (it connected to another instance). */
  async launchWaiting(name: string) {
    for (const id of [...this.#launchTokens.keys()]) {
      const session = this.db.get('sessions', id);
      if (session?.host === name) await this.#launch(session);
    }
  }

  report(name: string, message: Exclude<RunnerReport, { type: 'output' | 'workspace' }>) {
    switch (message.type) {
      case 'started':
        return this.#started(name, message.sessionId, message.pid);
      case 'exited':
        return this.#exited(name, message.sessionId, message.exitCode, message.signal, message.lastLine);
      case 'failed':
        return this.#failed(name, message.sessionId, message.reason);
      case 'lost':
        return this.#update(message.sessionId, this.#lostChange(name));
    }
  }

  /**
   * §15.3 step 6, and the launches that waited for this host (step 2). Every session the hello changes is changed
   * in one mutation (one commit for the runner, however many agents it has), then the waiting launches go out.
   */
  async reconcile(name: string, reported: Hello['sessions']) {
    const byId = new Map(reported.map((r) => [r.sessionId, r]));
    for (const r of reported) {
      const session = this.db.get('sessions', r.sessionId);
      // An agent whose session was stopped or deleted while the runner was away is ended now.
      if ((!session || session.status === 'stopped') && r.state === 'running')
        this.hub.send(name, { type: 'stop', sessionId: r.sessionId });
    }
    const changes: [string, Change][] = [];
    const launches: Session[] = [];
    for (const session of this.db.all('sessions')) {
      if (session.host !== name || isFinal(session) || !session.run) continue;
      const r = byId.get(session.id);
      if (r?.state === 'running') {
        if (session.run.state !== 'running') changes.push([session.id, this.#startedChange(name, r.pid)]);
      } else if (r?.state === 'exited') {
        changes.push([session.id, this.#exitedChange(name, r.exitCode ?? null, r.signal ?? null, r.lastLine)]);
      } else if (session.run.state === 'pending') {
        launches.push(session);
      } else {
        changes.push([session.id, this.#lostChange(name)]);
      }
    }
    if (changes.length > 0) await this.db.mutate((tx) => changes.forEach(([id, change]) => this.#apply(tx, id, change)));
    for (const session of launches) await this.#launch(session);
  }

  async #launch(session: Session) {
    const host = session.host!;
    const current = this.db.get('sessions', session.id);
    if (!current || isFinal(current) || current.run?.state !== 'pending') return void this.#launchTokens.delete(session.id);
    // After a server restart the spawn's token is gone (only its hash was kept): the launch gets a fresh one.
    const token = this.#launchTokens.get(session.id) ?? (await this.db.mutate((tx) => this.tokens.mint(tx, session.id)));
    this.#launchTokens.delete(session.id);
    const project = this.db.get('projects', current.projectId);
    const role = current.metadata?.role === 'orchestrator' ? 'orchestrator' : 'worker';
    this.hub.send(host, {
      type: 'launch',
      sessionId: current.id,
      cwd: project?.workingDir ?? '',
      argv: ['maestro', role, 'init'],
      env: { ...current.env, MAESTRO_SESSION_TOKEN: token },
      workspace: launchWorkspace(current, project, this.db.get('tasks', current.taskIds[0] ?? '')?.title ?? ''),
    });
  }

  /** Applies `change` to a session that still exists; emits `session:updated`. */
  #update(sessionId: string, change: Change) {
    return this.db.mutate((tx) => this.#apply(tx, sessionId, change));
  }

  #apply(tx: Tx, sessionId: string, change: Change): Session | undefined {
    const current = tx.get('sessions', sessionId);
    if (!current) return undefined;
    const next = change(current, tx);
    if (!next) return current;
    const updated = bounded(tx, { ...next, lastActivity: tx.now });
    tx.put('sessions', updated);
    tx.emit('session:updated', updated);
    return updated;
  }

  /** The agent is gone and its exit unknown: not reported by its runner's hello, or its tmux session vanished. */
  #lostChange(name: string): Change {
    return (s, tx) => {
      if (s.host !== name || isFinal(s) || !s.run) return undefined;
      return {
        ...s,
        status: 'failed',
        completedAt: tx.now,
        run: { ...s.run, state: 'lost', endedAt: tx.now },
        timeline: [...s.timeline, timeline(tx, 'error', `Agent process not found on ${name}`)],
      };
    };
  }

  #started = (name: string, sessionId: string, pid?: number) => this.#update(sessionId, this.#startedChange(name, pid));

  #startedChange(name: string, pid?: number): Change {
    return (s, tx) => {
      if (s.host !== name || isFinal(s)) return undefined;
      const run: SessionRun = { state: 'running', ...(pid !== undefined && { pid }), launchedAt: s.run?.launchedAt ?? tx.now };
      return {
        ...s,
        status: s.status === 'spawning' ? 'idle' : s.status,
        run,
        timeline: s.run?.state === 'running' ? s.timeline : [...s.timeline, timeline(tx, 'session_started', `Launched on ${name}`)],
      };
    };
  }

  #exited = (name: string, sessionId: string, exitCode: number | null, signal: string | null, lastLine?: string) =>
    this.#update(sessionId, this.#exitedChange(name, exitCode, signal, lastLine));

  #exitedChange(name: string, exitCode: number | null, signal: string | null, lastLine?: string): Change {
    return (s, tx) => {
      if (s.host !== name || !s.run || (s.run.state === 'exited' && s.run.endedAt !== undefined && s.run.exitCode !== undefined)) {
        return undefined;
      }
      const run: SessionRun = { ...s.run, state: 'exited', exitCode, signal, endedAt: s.run.endedAt ?? tx.now };
      if (isFinal(s)) return { ...s, run };
      const ok = exitCode === 0;
      const how = signal ? `was ended by ${signal}` : `exited with code ${exitCode}`;
      return {
        ...s,
        status: ok ? 'completed' : 'failed',
        completedAt: tx.now,
        run,
        timeline: [
          ...s.timeline,
          timeline(tx, ok ? 'session_stopped' : 'error', `Agent ${how}${lastLine ? `; last output: ${lastLine}` : ''}`),
        ],
      };
    };
  }

  #failed(name: string, sessionId: string, reason: string) {
    return this.#update(sessionId, (s, tx) => {
      if (s.host !== name || isFinal(s)) return undefined;
      return {
        ...s,
        status: 'failed',
        completedAt: tx.now,
        run: { state: 'exited', exitCode: null, signal: null, endedAt: tx.now, reason },
        timeline: [...s.timeline, timeline(tx, 'error', `Launch on ${name} failed: ${reason}`)],
      };
    });
  }
}
