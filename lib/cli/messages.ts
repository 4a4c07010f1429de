// `maestro send|inbox|message`: messages between sessions and people (§16).
import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { MESSAGE_TYPES, type Message, TASK_PRIORITIES } from '../domain/types.js';
import { CliError, EXIT } from './client.js';
import { action, type Ctx } from './context.js';
import * as f from './format.js';
import { followEvents } from './stream.js';
import { streamFailure } from './watch.js';

const inboxPath = (id: string) => `/api/sessions/${encodeURIComponent(id)}/messages`;
const messagePath = (id: string) => `/api/messages/${encodeURIComponent(id)}`;

/** `30s`, `5m`, `2h`, `1d`, `1500ms`; a bare number is seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new CliError(`Invalid duration "${text}": use a number with ms, s, m, h or d (e.g. 30s, 10m, 2h)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 's']!;
  return Math.round(Number(match[1]) * unit);
}

/** `maestro session send`: registered under the `session` command. */
export function sendCommand(session: Command) {
  session
    .command('send [source]')
    .description('Send a message to another session (source "-" reads it from stdin); the sender is $MAESTRO_SESSION_ID, else "user"')
    .requiredOption('--to <sessionId>', 'receiving session')
    .option('-m, --message <text>', 'the message')
    .option('-f, --file <path>', 'read the message from a file')
    .addOption(new Option('--priority <priority>').choices(TASK_PRIORITIES))
    .addOption(new Option('--type <type>').choices(MESSAGE_TYPES))
    .option('--task <id>', 'the task it is about')
    .option('--reply-to <msgId>', 'the message this answers')
    .option('--requires-ack', 'ask the receiver to acknowledge it')
    .option('--expires-in <duration>', 'expire unless read within this time (30s, 10m, 2h, 7d)')
    .action(
      action(async (ctx, source: string | undefined, opts: SendOptions) => {
        const sources = [opts.message !== undefined, opts.file !== undefined, source === '-'].filter(Boolean).length;
        if (source !== undefined && source !== '-')
          throw new CliError(`Unexpected argument "${source}": pass --message <text>, --file <path> or -`);
        if (sources !== 1) throw new CliError('Give the message exactly one way: --message <text>, --file <path>, or - for stdin');
        // A file or a pipe (`echo … |`) ends with a newline that is not part of the message.
        const text = opts.message ?? readFileSync(opts.file ?? 0, 'utf8').replace(/\r?\n$/, '');
        const metadata = {
          ...(opts.priority && { priority: opts.priority }),
          ...(opts.type && { type: opts.type }),
          ...(opts.task && { taskId: opts.task }),
          ...(opts.replyTo && { replyTo: opts.replyTo }),
          ...(opts.requiresAck && { requiresAck: true }),
        };
        const body = { message: text, metadata, ...(opts.expiresIn && { expiresInMs: parseDuration(opts.expiresIn) }) };
        const m = await ctx.client.post<Message>(inboxPath(opts.to), body).catch((error: unknown) => {
          const retry = (error as CliError).details as { retryAfterMs?: number } | undefined;
          if (error instanceof CliError && error.code === 'RATE_LIMITED' && retry?.retryAfterMs) {
            error.message += ` (retry in ${Math.ceil(retry.retryAfterMs / 1000)} s)`;
          }
          throw error;
        });
        ctx.out(m, () => m.id);
      }),
    );
}

interface SendOptions {
  to: string;
  message?: string;
  file?: string;
  priority?: string;
  type?: string;
  task?: string;
  replyTo?: string;
  requiresAck?: boolean;
  expiresIn?: string;
}

interface InboxOptions {
  session?: string;
  sent?: boolean;
  all?: boolean;
  markRead?: boolean;
  clear?: boolean;
  quiet?: boolean;
  watch?: boolean;
}

/** `maestro inbox` and `maestro message read|delete` (contract §16.5). */
export function messageCommands(program: Command) {
  program
    .command('inbox')
    .description('List messages to this session (pending and delivered; --all for every status). Reading your own inbox takes delivery')
    .option('--session <id>', 'whose inbox (default: $MAESTRO_SESSION_ID)')
    .option('--sent', 'the messages this session sent instead')
    .option('--all', 'every status, read, failed and expired included')
    .option('--mark-read', 'acknowledge the messages shown')
    .option('--clear', 'delete the messages shown')
    .option('--quiet', 'only new (pending) messages; print nothing and exit 0 when there are none, or on any error (for hooks)')
    .option('--watch', 'keep running and print each new message as it arrives')
    .action(
      action(async (ctx, opts: InboxOptions) => {
        if (opts.sent && opts.markRead) throw new CliError('--mark-read acknowledges received messages: it does not go with --sent');
        try {
          await inbox(ctx, opts);
        } catch (error) {
          if (!opts.quiet) throw error;
          // A hook must never break the agent's prompt (Claude Code blocks the prompt on exit code 2).
          ctx.warn(`maestro inbox: ${(error as Error).message}\n`);
        }
      }),
    );

  const message = program.command('message').alias('messages').description('Acknowledge or delete one message');
  message
    .command('read <msgId>')
    .description('Mark a message read (acknowledge it)')
    .action(
      action(async (ctx, id: string) => {
        const m = await ctx.client.patch<Message>(messagePath(id), { status: 'read' });
        ctx.out(m, () => `Message ${m.id} is ${m.status}`);
      }),
    );
  message
    .command('delete <msgId>')
    .description('Delete a message (its receiver, its sender or a person)')
    .action(
      action(async (ctx, id: string) => {
        ctx.out(await ctx.client.delete(messagePath(id)), () => `Deleted message ${id}`);
      }),
    );
}

async function inbox(ctx: Ctx, opts: InboxOptions) {
  const sessionId = ctx.sessionId(opts.session, '--session');
  const query = new URLSearchParams();
  if (opts.sent) query.set('box', 'sent');
  const status = opts.quiet ? 'pending' : opts.all ? undefined : 'pending,delivered';
  if (status) query.set('status', status);
  if (opts.watch) {
    for await (const m of watchMessages(ctx, sessionId, query)) {
      const [shown] = await markRead(ctx, [m], opts);
      ctx.print(`${ctx.json ? JSON.stringify(shown) : f.messageBlock(shown!)}\n`);
      await clear(ctx, [m], opts);
    }
    return;
  }
  const messages = await markRead(ctx, await ctx.client.get<Message[]>(`${inboxPath(sessionId)}?${query}`), opts);
  if (opts.quiet && messages.length === 0) return;
  ctx.out(messages, (ms) => (opts.quiet ? f.newMessages(ms) : f.messageList(ms)));
  await clear(ctx, messages, opts);
}

/** `--mark-read` (without `--clear`): acknowledges the messages before they are shown, so they show as `read`. */
async function markRead(ctx: Ctx, messages: Message[], opts: InboxOptions): Promise<Message[]> {
  if (!opts.markRead || opts.clear) return messages;
  const marked: Message[] = [];
  for (const m of messages) {
    const unread = m.status === 'pending' || m.status === 'delivered';
    marked.push(unread ? await ctx.client.patch<Message>(messagePath(m.id), { status: 'read' }) : m);
  }
  return marked;
}

/** `--clear`: deletes what was just shown. */
async function clear(ctx: Ctx, messages: Message[], opts: InboxOptions) {
  if (opts.clear) for (const m of messages) await ctx.client.delete(messagePath(m.id));
}

/** A fetch also runs this often without any event, in case the event stream cannot be reached. */
const FALLBACK_MS = 2_000;
/** Messages created up to this long before the newest one seen are asked for again (and skipped if seen). */
const OVERLAP_MS = 5_000;

/**
 * Every new message of the box, each once, as it arrives. The inbox itself is the source of truth: it is fetched
 * (as the receiver, which takes delivery) when the session's message events say something changed
 * (`?sessionId=<id>&messages=only`, resumed after the last `seq` across reconnects, §17), on every (re)connect, and
 * every 2 s regardless. So a message sent while the connection was down is fetched on reconnect, and the IDs
 * already printed are skipped: no gap, no repeat.
 */
export async function* watchMessages(ctx: Ctx, sessionId: string, query: URLSearchParams): AsyncGenerator<Message> {
  let due = true;
  let wakeUp: (() => void) | undefined;
  const wake = () => {
    due = true;
    wakeUp?.();
  };
  const follow = followEvents({
    baseUrl: ctx.client.baseUrl,
    token: ctx.client.token,
    query: { sessionId, messages: 'only' },
    onEvent: wake,
    onResync: wake,
    onStatus: wake,
  });
  // A refused stream (revoked or wrong token) ends the watch with its reason instead of retrying forever.
  let failed: unknown;
  follow.done.catch((error) => {
    failed = streamFailure(ctx, error);
    wake();
  });
  const fetchNew = newMessagesOf(ctx, sessionId, query);
  try {
    for (;;) {
      if (failed !== undefined) throw failed;
      if (!due) {
        await new Promise<void>((resolve) => {
          wakeUp = resolve;
          setTimeout(resolve, FALLBACK_MS); // not unref: it is what keeps `--watch` running while the server is down
        });
      }
      due = false;
      wakeUp = undefined;
      if (failed !== undefined) throw failed;
      for (const m of await fetchNew()) yield m;
    }
  } finally {
    follow.stop();
  }
}

/** A fetch of the box that returns only messages not returned before; a lost server is reported once and retried. */
function newMessagesOf(ctx: Ctx, sessionId: string, query: URLSearchParams) {
  const seen = new Map<string, number>();
  let since: number | undefined;
  let lost = false;
  return async (): Promise<Message[]> => {
    let batch: Message[];
    try {
      const q = new URLSearchParams(query);
      if (since !== undefined) q.set('since', String(since));
      batch = await ctx.client.get<Message[]>(`${inboxPath(sessionId)}?${q}`);
    } catch (error) {
      if (!(error instanceof CliError) || error.exitCode !== EXIT.unreachable) throw error;
      if (!lost) ctx.warn(`maestro inbox: ${error.message}; retrying\n`);
      lost = true;
      return [];
    }
    if (lost) ctx.warn('maestro inbox: reconnected\n');
    lost = false;
    const fresh = batch.filter((m) => !seen.has(m.id));
    for (const m of fresh) seen.set(m.id, m.createdAt);
    if (seen.size) {
      since = Math.max(since ?? 0, Math.max(...seen.values()) - OVERLAP_MS);
      for (const [id, at] of seen) if (at <= since) seen.delete(id);
    }
    return fresh;
  };
}
