// `maestro hook <event>`: an agent's hook reports itself to the server (contract §21) and never slows or fails the agent.
import { request as httpRequest } from 'node:http';
import type { Command } from 'commander';
import type { HookPayload } from '../domain/hook-events.js';
import { serverUrl } from './client.js';
import { ioOf } from './context.js';

/** The whole command's budget: the agent waits for a hook, so it ends well within 2 s whatever happens (§13.7). */
const DEADLINE_MS = 1500;
const MAX_STDIN_BYTES = 1024 * 1024;

/** Reads stdin until it ends, is too long, or the deadline passes; a terminal on stdin is never waited for. */
async function readStdin(source: NodeJS.ReadableStream | string | undefined, until: number): Promise<string> {
  if (typeof source === 'string') return source;
  const stream = (source ?? process.stdin) as NodeJS.ReadStream;
  if (stream.isTTY) return '';
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', done);
      stream.off('error', done);
      stream.pause();
      if (stream === process.stdin) process.stdin.unref?.();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onData = (chunk: Buffer | string) => {
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      size += bytes.length;
      if (size > MAX_STDIN_BYTES) return done();
      chunks.push(bytes);
    };
    const timer = setTimeout(done, Math.max(0, until - Date.now()));
    stream.on('data', onData);
    stream.once('end', done);
    stream.once('error', done);
  });
}

const str = (value: unknown, max = 2000) => (typeof value === 'string' ? value.slice(0, max) : undefined);

/** Only what attention reads leaves the machine: not the tool's input (file contents, commands), only a question asked. */
export function hookPayload(text: string): HookPayload {
  let raw: Record<string, unknown>;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
    raw = parsed as Record<string, unknown>;
  } catch {
    return {};
  }
  const questions = (raw.tool_input as { questions?: { question?: unknown }[] } | undefined)?.questions;
  const question = Array.isArray(questions) ? str(questions[0]?.question) : undefined;
  const payload: HookPayload = {
    tool_name: str(raw.tool_name, 200),
    message: str(raw.message),
    notification_type: str(raw.notification_type, 100),
    type: str(raw.type, 100),
    ...(question && { tool_input: { questions: [{ question }] } }),
  };
  return Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined)) as HookPayload;
}

/**
 * POSTs JSON and resolves with the status code. node:http rather than fetch: fetch loads undici on first use, which
 * costs a hook process about 100 ms more to start (measured in the attention bench), and agents wait for their hooks.
 */
async function postJson(url: URL, headers: Record<string, string>, body: string, timeoutMs: number): Promise<number> {
  const request = url.protocol === 'https:' ? (await import('node:https')).request : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      clearTimeout(timer);
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    // A deadline for the whole exchange, connecting included (a socket timeout would only bound each silence).
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(body);
  });
}

/** Reports one hook; never throws, never takes longer than the deadline. Used by the command and by the bin's fast path. */
export async function reportHook(options: {
  event: string;
  json: string | undefined;
  env: Record<string, string | undefined>;
  stdin?: NodeJS.ReadableStream | string;
  server?: string;
  warn: (text: string) => void;
}): Promise<void> {
  const until = Date.now() + DEADLINE_MS;
  const warn = (text: string) => options.warn(`maestro hook: warning: ${text}\n`);
  try {
    const text = options.json ?? (await readStdin(options.stdin, until - 700));
    const env = options.env;
    const sessionId = env.MAESTRO_SESSION_ID?.trim();
    // The session's own identity only: an agent never holds the admin token (§15.6).
    const token = env.MAESTRO_SESSION_TOKEN?.trim();
    if (!sessionId) return warn('not inside a Maestro session (no MAESTRO_SESSION_ID)');
    const base = serverUrl(options.server, env);
    const status = await postJson(
      new URL(`${base}/api/sessions/${encodeURIComponent(sessionId)}/attention`),
      { 'content-type': 'application/json', 'x-session-id': sessionId, ...(token && { authorization: `Bearer ${token}` }) },
      JSON.stringify({ event: options.event, payload: hookPayload(text) }),
      Math.max(50, until - Date.now()),
    );
    if (status < 200 || status >= 300) warn(`the server answered ${status}`);
  } catch (error) {
    warn((error as Error).message);
  }
}

export function hookCommands(program: Command) {
  program
    .command('hook <event> [json]')
    .description(
      "Report an agent hook (Claude Code, Codex, Gemini CLI) to this session's attention: reads the hook's JSON on stdin " +
        '(or as the last argument, as Codex `notify` passes it); always exits 0 at once',
    )
    .action(async (event: string, json: string | undefined, _opts: unknown, command: Command) => {
      const io = ioOf(command);
      const server = command.optsWithGlobals<{ server?: string }>().server;
      await reportHook({ event, json, env: io.env, stdin: io.stdin, server, warn: io.stderr });
      io.exitCode = 0;
    });
}
