// A runner's terminal streaming: a session's screen, then every byte its tmux pipe-pane appends to its log (inotify).
import { closeSync, existsSync, type FSWatcher, openSync, readSync, statSync, truncateSync, watch } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { RunnerMessage } from '../runner-protocol.js';
import { type Tmux, tmuxName } from './tmux.js';

/** Sends a message to the server; false when no connection is open (the message is dropped). */
export type Send = (message: RunnerMessage) => boolean | undefined;

/**
 * tmux appends every byte an agent prints to its log for as long as the agent runs: days of a busy agent would fill
 * the (often memory-backed) temporary directory. The log is read only from where its live viewers are (a new viewer
 * gets the screen from tmux), so past this size it is emptied, once what it holds was sent.
 */
export const MAX_LOG_BYTES = 1024 * 1024;
/** A watched log is emptied only once its agent has printed nothing this long, so no output can fall into the cut. */
const QUIET_BEFORE_CUT_MS = 250;

type Tail = { watcher: FSWatcher; offset: number; reading: boolean; again: boolean };

export class TerminalStreams {
  #tails = new Map<string, Tail>();

  constructor(
    private readonly tmux: Tmux,
    private readonly logFile: (sessionId: string) => string,
    private readonly send: Send,
  ) {}

  /** Screen first, then every byte tmux's pipe-pane appends to the session's log, as the file grows (inotify). */
  async watch(sessionId: string) {
    const file = this.logFile(sessionId);
    const offset = (await stat(file).catch(() => undefined))?.size ?? 0;
    const screen = await this.tmux.run(['capture-pane', '-p', '-e', '-t', tmuxName(sessionId)]);
    const rows = screen.stdout.replace(/\n$/, '').split('\n');
    const data = Buffer.from(`\x1b[H\x1b[2J${rows.join('\r\n')}`);
    this.send({ type: 'output', sessionId, data: data.toString('base64'), screen: true });
    if (this.#tails.has(sessionId) || !existsSync(file)) return;
    const tail = { watcher: watch(file, () => void this.drain(sessionId)), offset, reading: false, again: false };
    this.#tails.set(sessionId, tail);
    void this.drain(sessionId);
  }

  unwatch(sessionId: string) {
    this.#tails.get(sessionId)?.watcher.close();
    this.#tails.delete(sessionId);
  }

  /** Stops every stream (the runner stops, or its connection dropped: the server asks again for those still watched). */
  close() {
    for (const tail of this.#tails.values()) tail.watcher.close();
    this.#tails.clear();
  }

  /** The sessions whose terminal is streamed now. */
  streamed = () => [...this.#tails.keys()];

  /**
   * Empties the session's log once it passed MAX_LOG_BYTES (tmux appends, so its next bytes go at the new start). A
   * watched one is cut between two bursts of output, after its rest was sent, all in one go: nothing runs between the
   * last read and the cut, and its agent would have to start printing in that instant for a byte to be missed.
   */
  trim(sessionId: string, now = Date.now()) {
    const tail = this.#tails.get(sessionId);
    if (tail?.reading) return;
    const file = this.logFile(sessionId);
    try {
      const { size, mtimeMs } = statSync(file);
      if (size <= MAX_LOG_BYTES || (tail && now - mtimeMs < QUIET_BEFORE_CUT_MS)) return;
      if (tail) this.#sendRest(sessionId, file, tail);
      truncateSync(file, 0);
      if (tail) tail.offset = 0;
    } catch {
      // the log went away (stopped session)
    }
  }

  #sendRest(sessionId: string, file: string, tail: Tail) {
    const fd = openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(64 * 1024);
      for (let n: number; (n = readSync(fd, buffer, 0, buffer.length, tail.offset)) > 0; tail.offset += n) {
        this.send({ type: 'output', sessionId, data: buffer.subarray(0, n).toString('base64') });
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Sends what the session's log has beyond what was sent (nothing when nobody watches it). */
  async drain(sessionId: string) {
    const tail = this.#tails.get(sessionId);
    if (!tail) return;
    if (tail.reading) return void (tail.again = true);
    tail.reading = true;
    try {
      do {
        tail.again = false;
        const handle = await open(this.logFile(sessionId), 'r');
        try {
          // Emptied since the stream started (the stream took its size before a cut): what it holds now is all new.
          if ((await handle.stat()).size < tail.offset) tail.offset = 0;
          const buffer = Buffer.alloc(64 * 1024);
          for (;;) {
            const { bytesRead } = await handle.read(buffer, 0, buffer.length, tail.offset);
            if (bytesRead === 0) break;
            tail.offset += bytesRead;
            this.send({ type: 'output', sessionId, data: buffer.subarray(0, bytesRead).toString('base64') });
          }
        } finally {
          await handle.close();
        }
      } while (tail.again);
    } catch {
      // the log went away (stopped session)
    } finally {
      tail.reading = false;
    }
  }
}
