// The messages between a runner and the server, as valibot schemas both ends import.
import * as v from 'valibot';

/*
 * The runner protocol (contract §15.2): JSON text frames on the WebSocket `/api/hosts/connect`. Both ends are this
 * package; every frame is checked against these schemas on arrival and a frame that does not match is ignored.
 */

/**
 * The largest frame the server takes from a runner: a diff's answer carries a patch of up to 2 MiB (§20.3) and a
 * terminal snapshot up to 5,000 lines (§15.4), both escaped as JSON, so more than an HTTP body's 1 MiB.
 */
export const MAX_RUNNER_FRAME_BYTES = 16 * 1024 * 1024;

const sessionId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,128}$/));
const count = v.pipe(v.number(), v.integer(), v.minValue(0));

/** One agent session the runner still has: its tmux session exists (`running`), or its pane is dead (`exited`). */
/** A runner's (host's) name (§15.1). */
export const HOST_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/** A host name the server can keep: `.` and `..` match the pattern but name directories, not a host's file. */
export const isHostName = (name: string) => HOST_NAME_PATTERN.test(name) && name !== '.' && name !== '..';

/** What a spawn asks of the workspace (§20.1): the mode and the project's settings, and the first task's title. */
export const WorkspaceRequest = v.object({
  mode: v.picklist(['auto', 'worktree', 'shared']),
  baseBranch: v.optional(v.string()),
  copy: v.optional(v.array(v.string())),
  setup: v.optional(v.string()),
  title: v.string(),
});
export type WorkspaceRequest = v.InferOutput<typeof WorkspaceRequest>;

/** The workspace a runner made (§20.2): `session.workspace` without its `state`. */
export const WorkspaceReport = v.object({
  mode: v.picklist(['worktree', 'shared']),
  path: v.string(),
  branch: v.nullable(v.string()),
  baseBranch: v.nullable(v.string()),
  baseCommit: v.nullable(v.string()),
  repoPath: v.nullable(v.string()),
});
export type WorkspaceReport = v.InferOutput<typeof WorkspaceReport>;

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
  /** The agent's tmux session went away while it ran (killed from outside): its exit is unknown (§15.3 step 6). */
  v.object({ type: v.literal('lost'), sessionId }),
  /** What the terminal says of the agent (§21): output after a quiet spell, or quiet for `MAESTRO_IDLE_MS`. */
  v.object({
    type: v.literal('attention'),
    sessionId,
    state: v.picklist(['working', 'needs_input', 'idle']),
    reason: v.optional(v.pipe(v.string(), v.maxLength(500))),
  }),
  /** The worktree the agent runs in (§20.2), reported before `started`. */
  v.object({ type: v.literal('workspace'), sessionId, workspace: WorkspaceReport }),
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
    /** A git request's answer (§20), or the code and details of its refusal. */
    data: v.optional(v.unknown()),
    code: v.optional(v.string()),
    details: v.optional(v.record(v.string(), v.unknown())),
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
    /** Set for runner-managed spawns: the worktree to create first (§20.1, §20.2). */
    workspace: v.optional(WorkspaceRequest),
  }),
  /** Diff, merge or removal of a session's worktree (§20.3–§20.5), answered by `reply` with `data`. */
  v.object({
    type: v.literal('git'),
    id: count,
    sessionId,
    op: v.picklist(['diff', 'merge', 'remove']),
    workspace: WorkspaceReport,
    options: v.record(v.string(), v.unknown()),
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
/** The close code a runner gets when its runner token is for another host name. */
export const WRONG_HOST = 4403;
/** The close code a runner gets when its hello names no valid host. */
export const BAD_NAME = 4400;
