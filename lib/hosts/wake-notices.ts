// When and how the wake-up notice reaches a runner-managed agent (contract §16.3, §24.8): never as a shell command.
import { wakeNotice } from '../domain/stores/messages.js';
import type { Message, Session } from '../domain/types.js';
import type { Logger } from '../log.js';
import type { Db } from '../storage/db.js';
import type { HostManager } from './index.js';
import { isFinal } from './session-runs.js';

/** The session's attention (§21) once the server tracks it; undefined while it does not. */
const attentionOf = (s: Session) => s.attention ?? undefined;

/**
 * Whether a notice may be typed now (§24.8: only while the agent waits). An agent that finished its turn waits at its
 * own prompt, as does one that asked through `maestro report needs-input`. One whose hook or screen says it waits for a
 * person shows a permission menu, a question or a `[y/N]`: keys typed there (a digit of a session ID, then Enter) would
 * answer it in the person's place. The notice waits until that is answered.
 */
const mayType = (attention: ReturnType<typeof attentionOf>) =>
  attention === undefined || attention.state === 'idle' || (attention.state === 'needs_input' && attention.source === 'report');

/**
 * Delivers wake-up notices. A `shell` agent gets the notice printed on its screen: typed, its shell would run it as a
 * command and any half-typed line would be lost. Other agents get it typed only while they wait at their own prompt:
 * attention `idle`, or `needs_input` they reported themselves (see mayType), when the server knows it, else a terminal
 * quiet for `MAESTRO_IDLE_MS`. A busy agent is asked again
 * (one notice per session at a time) until the notice goes in, the message is no longer pending, or the agent ended:
 * a message to an agent in the middle of its work wakes it when it finishes, not never.
 */
export class WakeNotices {
  readonly #waiting = new Set<string>();
  #closed = false;

  constructor(
    private readonly db: Db,
    private readonly hosts: HostManager,
    private readonly idleMs: number,
    private readonly log: Logger,
    private readonly retryMs = Math.min(1000, idleMs),
  ) {}

  /** The `MessageStore.notify` hook: true once the notice was printed or typed (the message is then `delivered`). */
  notify = async (sessionId: string, message: Message): Promise<boolean> => {
    // One waiting notice per agent: it tells of every message, since `maestro inbox` lists them all.
    if (this.#waiting.has(sessionId)) return false;
    this.#waiting.add(sessionId);
    try {
      return await this.#deliver(sessionId, message);
    } finally {
      this.#waiting.delete(sessionId);
    }
  };

  close() {
    this.#closed = true;
  }

  async #deliver(sessionId: string, message: Message): Promise<boolean> {
    for (;;) {
      if (this.#closed) return false;
      const session = this.db.get('sessions', sessionId);
      if (!session || isFinal(session) || session.run?.state !== 'running') return false;
      // Several instances (§22.2): the one its runner is connected to wakes it, so the 30 s rule holds across them.
      if (!this.hosts.runsHere(sessionId)) return false;
      if (this.db.get('messages', message.id)?.status !== 'pending') return false;
      const print = session.agent === 'shell';
      const attention = attentionOf(session);
      if (print || mayType(attention)) {
        const quietMs = print || attention !== undefined ? 0 : this.idleMs;
        try {
          if (await this.hosts.notice(sessionId, wakeNotice(message), print, quietMs)) return true;
        } catch (error) {
          // Not running, or its host offline: the message stays pending, for the agent's next `maestro inbox`.
          this.log.debug(`wake-up notice for ${sessionId} not delivered: ${(error as Error).message}`);
          return false;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, this.retryMs).unref());
    }
  }
}
