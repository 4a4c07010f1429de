// A live terminal viewer's keystrokes, typed into tmux once per tick per session (issue 21 item 15).

/**
 * Every frame of keys used to start its own `tmux send-keys` process: a viewer pasting or holding a key made hundreds.
 * Keys that arrive in one tick are joined per session and sent with one process, in the order they came.
 */
export class KeyBatcher {
  readonly #pending = new Map<string, string>();
  #scheduled = false;
  /** The flushes so far: the next one starts after them, so keys never overtake each other. */
  #chain: Promise<void> = Promise.resolve();

  constructor(private readonly type: (sessionId: string, data: string) => Promise<unknown>) {}

  add(sessionId: string, data: string): void {
    this.#pending.set(sessionId, (this.#pending.get(sessionId) ?? '') + data);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const batch = [...this.#pending];
      this.#pending.clear();
      this.#chain = this.#chain.then(async () => {
        for (const [id, keys] of batch) await this.type(id, keys).catch(() => {});
      });
    });
  }

  /** Resolves once every key added so far was handed to tmux. */
  async settled(): Promise<void> {
    while (this.#scheduled) await new Promise((r) => setImmediate(r));
    await this.#chain;
  }
}
