// Live terminal viewers (contract §15.4): browser sockets on a running session, fed by its runner's output stream.
import type { WSContext, WSEvents } from 'hono/ws';
import { MAX_BUFFERED_BYTES } from '../domain/events.js';
import type { RunnerHub, RunnerReport } from './hub.js';

interface Viewer {
  ws: WSContext;
  /** Has had the screen: from now on it gets every chunk. */
  ready: boolean;
  /** The host its session runs on. */
  host: string;
}

/**
 * What a browser's terminal sends by itself rather than for a key the person pressed: focus in and out (for agents
 * that ask for focus reports), and its answers to the agent's queries (cursor position, device attributes, DECRQM,
 * keyboard flags, OSC colours, DCS version). The agent gets them all the same; they only do not count as an answer.
 */
const TERMINAL_REPORTS = /\x1b\[(?:[IO]|\d+;\d+R|[?>][\d;]*c|\??[\d;]*\$y|\?\d*u)|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1bP[^\x1b]*\x1b\\/g;
/** Whether `data` from a live terminal holds anything a person typed (§21: input → `working`). */
const typedByPerson = (data: string) => data.replace(TERMINAL_REPORTS, '') !== '';

export class TerminalViewers {
  readonly #viewers = new Map<string, Set<Viewer>>();

  constructor(
    private readonly hub: RunnerHub,
    /** A person typed into the live terminal (attention, §21). */
    private readonly onKeys: (sessionId: string) => void = () => {},
  ) {}

  /** The sessions someone is watching (their runner is asked to stream again when it reconnects). */
  watched = () => [...this.#viewers].filter(([, viewers]) => viewers.size > 0).map(([sessionId]) => sessionId);

  /**
   * The session's viewers take the next screen again (its runner is asked to stream anew after a reconnect: what the
   * agent printed while no runner was connected was never streamed, and a screen starts by clearing theirs).
   */
  rescreen(sessionId: string) {
    for (const viewer of this.#viewers.get(sessionId) ?? []) viewer.ready = false;
  }

  /** A runner's output: the screen to viewers that have none yet, then every chunk to those that have it. */
  output(message: Extract<RunnerReport, { type: 'output' }>) {
    const viewers = this.#viewers.get(message.sessionId);
    if (!viewers) return;
    const bytes = Buffer.from(message.data, 'base64');
    for (const viewer of viewers) {
      if (message.screen ? viewer.ready : !viewer.ready) continue;
      viewer.ready = true;
      viewer.ws.send(bytes as unknown as ArrayBuffer);
      // A viewer that stopped reading would hold an agent's whole output in memory: cut it off (§24.4) as the event
      // streams do. It reconnects and gets the current screen.
      const raw = viewer.ws.raw as { bufferedAmount?: number; terminate?: () => void } | undefined;
      if ((raw?.bufferedAmount ?? 0) > MAX_BUFFERED_BYTES) {
        this.#drop(message.sessionId, viewer, viewer.host);
        if (raw?.terminate) raw.terminate();
        else viewer.ws.close(1013, 'Too far behind');
      }
    }
  }

  /** Handlers of one viewer socket on a session running on `host`: keys and resizes go to the runner, unless `readOnly` (a viewer watches, never types: §23). */
  socket(sessionId: string, host: string, readOnly = false): WSEvents {
    const viewer: Partial<Viewer> = { ready: false, host };
    return {
      onOpen: (_e, ws) => {
        viewer.ws = ws;
        let set = this.#viewers.get(sessionId);
        if (!set) this.#viewers.set(sessionId, (set = new Set()));
        set.add(viewer as Viewer);
        this.hub.send(host, { type: 'watch', sessionId, on: true });
      },
      onMessage: (event) => {
        if (readOnly) return;
        const data = typeof event.data === 'string' ? event.data : Buffer.from(event.data as ArrayBuffer).toString('utf8');
        if (data.startsWith('{')) {
          try {
            const m = JSON.parse(data) as { type?: string; cols?: unknown; rows?: unknown };
            if (m.type === 'resize') {
              const [cols, rows] = [Number(m.cols), Number(m.rows)];
              if (Number.isInteger(cols) && Number.isInteger(rows) && cols > 0 && rows > 0 && cols <= 1000 && rows <= 1000) {
                this.hub.send(host, { type: 'resize', sessionId, cols, rows });
              }
              return;
            }
          } catch {
            // not JSON: keys
          }
        }
        this.hub.send(host, { type: 'keys', sessionId, data });
        if (typedByPerson(data)) this.onKeys(sessionId);
      },
      onClose: () => this.#drop(sessionId, viewer as Viewer, host),
      onError: () => this.#drop(sessionId, viewer as Viewer, host),
    };
  }

  #drop(sessionId: string, viewer: Viewer, host: string) {
    const set = this.#viewers.get(sessionId);
    if (!set?.delete(viewer)) return;
    if (set.size === 0) {
      this.#viewers.delete(sessionId);
      this.hub.send(host, { type: 'watch', sessionId, on: false });
    }
  }
}
