// A runner's terminal streaming: a session's screen, then every byte its tmux pipe-pane appends to its log (inotify).
import { existsSync, type FSWatcher, watch } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { RunnerMessage } from '../runner-protocol.js';
import { type Tmux, tmuxName } from './tmux.js';

export type Send = (message: RunnerMessage) => void;

export class TerminalStreams {
  #tails = new Map<string, { watcher: FSWatcher; offset: number; reading: boolean; again: boolean }>();

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

  close() {
    for (const tail of this.#tails.values()) tail.watcher.close();
    this.#tails.clear();
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
