// `maestro attach`: join an agent's terminal, through tmux on this machine or the server's live terminal.
import { spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import type { Session } from '../domain/types.js';
import { refusal } from '../ws-refusal.js';
import { CliError } from './client.js';
import { action, type Ctx } from './context.js';
import { followEvents } from './stream.js';

const DETACH = 0x1d; // Ctrl-]
const DETACHED = 'detached';

/** `maestro attach <sessionId>` (contract §15.4): tmux attach on this machine, else the server's live terminal. */
export function attachCommands(program: Command) {
  program
    .command('attach <sessionId>')
    .description("Attach this terminal to an agent's terminal (detach: Ctrl-b d locally, Ctrl-] remotely; the agent keeps running)")
    .action(
      action(async (ctx, sessionId: string) => {
        // tmux would only say "open terminal failed: not a terminal".
        if (!process.stdin.isTTY || !process.stdout.isTTY) throw new CliError(notATerminal(sessionId));
        const session = await ctx.client.get<Session>(`/api/sessions/${encodeURIComponent(sessionId)}`);
        if (!session.host) throw new CliError('This session was not launched by a runner: it has no terminal to attach to');
        const socket = ctx.env.MAESTRO_TMUX_SOCKET || `maestro-${session.host}`;
        const target = `maestro-${session.id}`;
        // The agent's tmux is a server of its own: attaching from inside another tmux is not nesting one in itself.
        const env = Object.fromEntries(Object.entries(ctx.env).filter(([k]) => k !== 'TMUX' && k !== 'TMUX_PANE'));
        const tmux = (args: string[], stdio: 'ignore' | 'inherit') => spawnSync('tmux', ['-L', socket, ...args], { stdio, env });
        if (tmux(['has-session', '-t', `=${target}`], 'ignore').status === 0) {
          // A live viewer's resize fixed the window's size (tmux's `manual`): follow this terminal again, so that
          // attaching in a wider one does not leave the agent at its old width in a field of dots.
          tmux(['set-option', '-w', '-t', `=${target}:`, 'window-size', 'latest'], 'ignore');
          const result = tmux(['attach-session', '-t', `=${target}`], 'inherit');
          process.exitCode = result.status ?? 1;
          return;
        }
        const ended = endOf(session);
        if (ended) throw new CliError(`${ended}: there is nothing to attach to. ${lastScreen(session.id)}`);
        await remote(ctx, session);
      }),
    );
}

const notATerminal = (sessionId: string) =>
  `maestro attach needs an interactive terminal (its input or output is not one). Run it in a terminal window; ` +
  `without one, read the agent's screen with GET /api/sessions/${sessionId}/terminal or type into it with ` +
  `POST /api/sessions/${sessionId}/input, or open the session in the dashboard.`;

/** Why a session's agent no longer runs, or undefined while it runs (or waits to launch). */
function endOf(session: Session): string | undefined {
  const run = session.run;
  if (run?.state === 'exited') {
    const how = run.signal ? `signal ${run.signal}` : `exit code ${run.exitCode ?? '?'}`;
    return `The agent of ${session.id} has exited (${how}${run.reason ? `: ${run.reason}` : ''})`;
  }
  if (run?.state === 'lost') return `The agent of ${session.id} was lost${run.reason ? ` (${run.reason})` : ''}`;
  return undefined;
}

const lastScreen = (sessionId: string) => `Its last screen: GET /api/sessions/${sessionId}/terminal, or the session in the dashboard.`;

/**
 * The server's live terminal, until Ctrl-], the agent's exit, or the connection's loss. The terminal socket stays open
 * when the agent exits (a viewer keeps its last screen), so the session's events tell when to let the terminal go.
 */
async function remote(ctx: Ctx, session: Session): Promise<void> {
  const { default: WebSocket } = await import('ws');
  const { baseUrl } = ctx.client;
  const token = ctx.env.MAESTRO_TOKEN || ctx.env.MAESTRO_SESSION_TOKEN;
  const sessionId = session.id;
  const url = `${baseUrl.replace(/^http/, 'ws')}/api/sessions/${encodeURIComponent(sessionId)}/terminal`;
  const ws = new WebSocket(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  /** Why this end closed the terminal: a detach, or the agent's end. Unset when the server closed it. */
  let closedFor: string | undefined;
  const close = (why: string) => {
    closedFor ??= why;
    ws.close();
  };
  const events = followEvents({
    baseUrl,
    token,
    query: { projectId: session.projectId },
    onEvent: (e) => {
      if (e.type === 'session:deleted' && e.data?.id === sessionId) close(`Session ${sessionId} was deleted`);
      const ended = e.type === 'session:updated' && e.data?.id === sessionId && endOf(e.data);
      if (ended) close(ended);
    },
    // The agent may have ended before this stream began: look once it has.
    onStatus: (status) => {
      if (status !== 'connected') return;
      ctx.client.get<Session>(`/api/sessions/${encodeURIComponent(sessionId)}`).then(
        (s) => {
          const ended = endOf(s);
          if (ended) close(ended);
        },
        () => {},
      );
    },
  });
  events.done.catch(() => {}); // a refused event stream leaves the terminal as it was before
  const { stdin, stdout } = process;
  try {
    await new Promise<void>((resolve, reject) => {
      const resize = () => ws.send(JSON.stringify({ type: 'resize', cols: stdout.columns, rows: stdout.rows }));
      ws.on(
        'unexpected-response',
        (_req, res) =>
          void refusal(res).then((r) => reject(new CliError(`The server refused the terminal: ${r.message} (HTTP ${r.status} ${r.code})`))),
      );
      ws.on('error', (error) => reject(new CliError(`Terminal connection failed: ${error.message}`)));
      ws.on('open', () => {
        process.stderr.write(`Attached to ${sessionId} (Ctrl-] detaches)\r\n`);
        if (stdin.isTTY) stdin.setRawMode(true);
        if (stdout.isTTY) {
          resize();
          process.on('SIGWINCH', resize);
        }
        stdin.on('data', (chunk: Buffer) => {
          const at = chunk.indexOf(DETACH);
          if (at >= 0) {
            if (at > 0) ws.send(chunk.subarray(0, at).toString('utf8'));
            close(DETACHED);
            return;
          }
          ws.send(chunk.toString('utf8'));
        });
        stdin.resume();
      });
      ws.on('message', (data) => stdout.write(data as Buffer));
      ws.on('close', () => {
        if (stdin.isTTY) stdin.setRawMode(false);
        stdin.pause();
        process.off('SIGWINCH', resize);
        if (closedFor === DETACHED) process.stderr.write('\r\nDetached; the agent keeps running.\r\n');
        else if (closedFor) process.stderr.write(`\r\n${closedFor}; detached.\r\n`);
        else {
          const again = `Attach again once it is back: maestro attach ${sessionId}`;
          process.stderr.write('\r\n'); // the message starts on a line of its own, not after the agent's prompt
          return reject(new CliError(`The connection to Maestro Server was lost; the agent keeps running. ${again}`));
        }
        resolve();
      });
    });
  } finally {
    events.stop();
  }
}
