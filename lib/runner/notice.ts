// The wake-up notice on the runner's side (contract §16.3, §24.8): printed on a shell's screen, or typed into a quiet agent.
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { type Tmux, tmuxName } from './tmux.js';

export type NoticeOutcome = 'printed' | 'typed' | 'busy';

/**
 * Writes `text` on the pane's screen through its terminal device, as output: nothing reaches the program's input, so
 * a shell neither runs it nor loses a half-typed line. Non-blocking, so a terminal stopped with Ctrl-S cannot hold
 * up the runner, and without becoming the runner's controlling terminal.
 */
export async function printOnScreen(tmux: Tmux, sessionId: string, text: string): Promise<void> {
  const tty = (await tmux.must(['display-message', '-p', '-t', tmuxName(sessionId), '#{pane_tty}'])).trim();
  if (!tty.startsWith('/dev/')) throw new Error(`tmux named no terminal device for ${sessionId}`);
  const handle = await open(tty, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
  try {
    await handle.write(`\r\n${text}\r\n`);
  } finally {
    await handle.close();
  }
}

/**
 * True when the agent's terminal printed nothing for `quietMs`: the log that tmux's pipe-pane appends every output
 * byte to was last written that long ago. No log (nothing known) counts as not quiet.
 */
export async function isQuiet(logFile: string, quietMs: number, now = Date.now()): Promise<boolean> {
  if (quietMs <= 0) return true;
  const info = await stat(logFile).catch(() => undefined);
  return info !== undefined && now - info.mtimeMs >= quietMs;
}

/**
 * Delivers a notice: `print` puts it on the screen; otherwise it is typed (with Enter) only into a quiet terminal,
 * and `busy` says it was not, so that the server leaves the message pending and may try again.
 */
export async function deliverNotice(
  tmux: Tmux,
  logFile: string,
  notice: { sessionId: string; text: string; print: boolean; quietMs: number },
  type: (text: string) => Promise<void>,
): Promise<NoticeOutcome> {
  if (notice.print) {
    await printOnScreen(tmux, notice.sessionId, notice.text);
    return 'printed';
  }
  if (!(await isQuiet(logFile, notice.quietMs))) return 'busy';
  await type(notice.text);
  return 'typed';
}
