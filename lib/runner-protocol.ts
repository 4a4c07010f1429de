import * as v from 'valibot';

/*
 * The runner protocol (contract §15.2): JSON text frames on the WebSocket `/api/hosts/connect`. Both ends are this
 * package; every frame is checked against these schemas on arrival and a frame that does not match is ignored.
 */

const sessionId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,128}$/));
const count = v.pipe(v.number(), v.integer(), v.minValue(0));

/** One agent session the runner still has: its tmux session exists (`running`), or its pane is dead (`exited`). */
/** A runner's (host's) name (§15.1). */
export const HOST_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

export const RunnerSession = v.object({
  sessionId,
  state: v.picklist(['running', 'exited']),
  pid: v.optional(count),
  exitCode: v.optional(v.nullable(v.number())),
  signal: v.optional(v.nullable(v.string())),
  lastLine: v.optional(v.string()),
});

export const RunnerMessage = v.variant('type', [
  v.object({
    type: v.literal('hello'),
    name: v.pipe(v.string(), v.regex(HOST_NAME_PATTERN)),
    hostname: v.string(),
    platform: v.string(),
    arch: v.string(),
    version: v.string(),
    agents: v.array(v.string()),
    /** Proves the runner runs inside the server process (`local: true`). */
    localKey: v.optional(v.string()),
    sessions: v.array(RunnerSession),
  }),
  v.object({ type: v.literal('started'), sessionId, pid: v.optional(count) }),
  v.object({
    type: v.literal('exited'),
    sessionId,
    exitCode: v.nullable(v.number()),
    signal: v.nullable(v.string()),
    lastLine: v.optional(v.string()),
  }),
  v.object({ type: v.literal('failed'), sessionId, reason: v.string() }),
  /** Terminal bytes, base64: the screen first (`screen: true`), then every chunk as tmux's pipe-pane writes it. */
  v.object({ type: v.literal('output'), sessionId, data: v.string(), screen: v.optional(v.boolean()) }),
  v.object({
    type: v.literal('reply'),
    id: count,
    ok: v.boolean(),
    error: v.optional(v.string()),
    text: v.optional(v.string()),
    cols: v.optional(count),
    rows: v.optional(count),
    alive: v.optional(v.boolean()),
  }),
]);
export type RunnerMessage = v.InferOutput<typeof RunnerMessage>;

export const ServerMessage = v.variant('type', [
  v.object({ type: v.literal('welcome'), name: v.string() }),
  v.object({
    type: v.literal('launch'),
    sessionId,
    cwd: v.string(),
    /** The command as an argument vector (never a shell string). */
    argv: v.array(v.string()),
    env: v.record(v.string(), v.string()),
  }),
  v.object({ type: v.literal('stop'), sessionId }),
  /** Types `text` as a bracketed paste, then presses Enter ≥ 100 ms later when `submit`. Answered by `reply`. */
  v.object({ type: v.literal('input'), id: count, sessionId, text: v.string(), submit: v.boolean() }),
  /**
   * The wake-up notice (§16.3, §24.8), answered by `reply` (`ok: false`, error `busy`, when it was not typed): `print`
   * writes it to the terminal's screen (never the shell's input); otherwise it is typed as `input` with Enter, but
   * only once the terminal has been quiet for `quietMs` (0: at once).
   */
  v.object({ type: v.literal('notice'), id: count, sessionId, text: v.string(), print: v.boolean(), quietMs: count }),
  /** Raw keys from a live viewer. */
  v.object({ type: v.literal('keys'), sessionId, data: v.string() }),
  v.object({ type: v.literal('resize'), sessionId, cols: count, rows: count }),
  v.object({ type: v.literal('snapshot'), id: count, sessionId, lines: count }),
  /** Start (`on`) or stop streaming a session's output to the server. */
  v.object({ type: v.literal('watch'), sessionId, on: v.boolean() }),
]);
export type ServerMessage = v.InferOutput<typeof ServerMessage>;

/** Parses a frame; undefined when it is not JSON or not a message of the schema. */
export function decode<S extends v.GenericSchema>(schema: S, frame: unknown): v.InferOutput<S> | undefined {
  if (typeof frame !== 'string') return undefined;
  try {
    const result = v.safeParse(schema, JSON.parse(frame));
    return result.success ? result.output : undefined;
  } catch {
    return undefined;
  }
}

/** A runner's `reply` error to a `notice` it did not type because the agent's terminal was not quiet. */
export const NOTICE_BUSY = 'busy';

/** The close code a runner gets when another runner already holds its name. */
export const NAME_TAKEN = 4409;
