/**
 * Work that runs one at a time per key, in arrival order, each after the one before has settled (whether it succeeded
 * or not); keys with nothing waiting hold no memory.
 */
export class Turns {
  readonly #last = new Map<string, Promise<unknown>>();

  run<T>(key: string, op: () => Promise<T>): Promise<T> {
    const turn = (this.#last.get(key) ?? Promise.resolve()).then(op);
    const done = turn.catch(() => undefined);
    this.#last.set(key, done);
    void done.then(() => this.#last.get(key) === done && this.#last.delete(key));
    return turn;
  }
}
