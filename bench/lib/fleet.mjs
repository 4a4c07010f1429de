// Simulated runners for the fleet scenario: each speaks the real runner protocol (lib/runner-protocol.ts) over
// `/api/hosts/connect` for its agents, without tmux: hello with its sessions, output while watched, replies, exits,
// and a reconnect 200 ms after the server goes away.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';

export const PROJECT = 'proj_fleet';
const RETRY_MS = 200;

/** The data directory of `runners` × `agents` sessions, each running on its runner (`runner-NN`). */
export function writeFleet(data, runners, agents) {
  const write = (path, value) => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
  };
  const now = Date.now() - 60_000;
  write(join(data, 'projects', `${PROJECT}.json`), {
    id: PROJECT,
    name: 'Fleet',
    workingDir: '',
    description: '',
    createdAt: now,
    updatedAt: now,
  });
  const fleet = [];
  for (let r = 0; r < runners; r++) {
    const name = `runner-${String(r).padStart(2, '0')}`;
    const sessions = [];
    for (let a = 0; a < agents; a++) {
      const id = `sess_fleet_${r}_${a}`;
      sessions.push(id);
      write(join(data, 'sessions', `${id}.json`), {
        id,
        projectId: PROJECT,
        taskIds: [],
        name: `fleet-${name}-agent${a}`,
        env: {},
        strategy: 'simple',
        status: 'working',
        startedAt: now + a,
        lastActivity: now + a,
        completedAt: null,
        hostname: name,
        platform: 'linux',
        events: [],
        timeline: [],
        host: name,
        agent: 'custom',
        run: { state: 'running', pid: 1000 + a, launchedAt: now },
        attention: null,
      });
    }
    fleet.push({ name, sessions });
  }
  return fleet;
}

/**
 * One simulated runner. `exited` holds the agents that ended (reported in the next hello); `onWelcome` is called at
 * each welcome; output goes out at `bytesPerSecond` for every watched session while `streaming`.
 */
export class FakeRunner {
  exited = new Set();
  watched = new Set();
  welcomes = 0;
  #ws;
  #closed = false;
  #outputTimer;

  constructor(url, name, sessions, { bytesPerSecond = 2048, onWelcome = () => {} } = {}) {
    this.url = url;
    this.name = name;
    this.sessions = sessions;
    this.bytesPerSecond = bytesPerSecond;
    this.onWelcome = onWelcome;
  }

  connect() {
    const ws = new WebSocket(`${this.url.replace(/^http/, 'ws')}/api/hosts/connect`);
    this.#ws = ws;
    ws.on('open', () =>
      this.#send({
        type: 'hello',
        name: this.name,
        hostname: this.name,
        platform: 'linux',
        arch: 'x64',
        version: 'bench',
        agents: ['custom'],
        sessions: this.sessions.map((sessionId, i) =>
          this.exited.has(sessionId)
            ? { sessionId, state: 'exited', exitCode: 0, signal: null, lastLine: 'done' }
            : { sessionId, state: 'running', pid: 1000 + i },
        ),
      }),
    );
    ws.on('message', (data) => this.#onMessage(JSON.parse(String(data))));
    ws.on('error', () => {});
    ws.on('close', () => {
      this.watched.clear();
      if (!this.#closed) setTimeout(() => this.connect(), RETRY_MS);
    });
  }

  /** Streams 1/8 of a second of output to every watched session, 8 times a second. */
  startOutput() {
    const chunk = Buffer.alloc(Math.round(this.bytesPerSecond / 8), 'x').toString('base64');
    this.#outputTimer = setInterval(() => {
      for (const sessionId of this.watched) this.#send({ type: 'output', sessionId, data: chunk });
    }, 125);
  }

  close() {
    this.#closed = true;
    clearInterval(this.#outputTimer);
    this.#ws?.close();
  }

  #send(message) {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(message));
  }

  #onMessage(m) {
    if (m.type === 'welcome') {
      this.welcomes++;
      this.onWelcome(this);
    } else if (m.type === 'watch') {
      if (m.on) {
        this.watched.add(m.sessionId);
        this.#send({ type: 'output', sessionId: m.sessionId, data: Buffer.from('$ ').toString('base64'), screen: true });
      } else this.watched.delete(m.sessionId);
    } else if (m.type === 'snapshot') {
      this.#send({ type: 'reply', id: m.id, ok: true, text: '', cols: 80, rows: 24, alive: true });
    } else if (m.type === 'input') {
      this.#send({ type: 'reply', id: m.id, ok: true });
    } else if (m.type === 'stop') {
      this.exited.add(m.sessionId);
      this.#send({ type: 'exited', sessionId: m.sessionId, exitCode: null, signal: 'SIGTERM' });
    }
  }
}
