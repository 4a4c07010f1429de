// Who is acting (contract §23): carried through a request, a runner's report or a sweep, and stamped on its events.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Actor } from './types.js';

export type { Actor };

const current = new AsyncLocalStorage<Actor>();

/** Sweeps, startup and anything else no request or runner started. */
export const SYSTEM: Actor = { kind: 'system' };

/** Runs `fn` (and everything it awaits or schedules) as `actor`. */
export const actAs = <T>(actor: Actor, fn: () => T): T => current.run(actor, fn);

/** The actor of the running code: `system` outside any request or runner report. */
export const currentActor = (): Actor => current.getStore() ?? SYSTEM;
