// The terminal's side of attention (contract §21): output, quiet spells and waiting prompts, from the output stream.
import { type FSWatcher, watch } from 'node:fs';
import type { AgentPreset } from '../domain/agents.js';
import type { Send } from './terminal-stream.js';
import { type Tmux, tmuxName } from './tmux.js';

export const DEFAULT_IDLE_MS = 5000;
/** How many of the screen's last non-blank lines a waiting prompt is looked for in. */
const SCREEN_LINES = 15;

/**
 * The waiting prompts each preset shows on screen (listed in docs/attention.md): a permission or choice menu that
 * only a person can answer. `custom` takes `MAESTRO_AGENT_WAITING`; `shell` has none (a quiet shell is idle).
 */
export const WAITING_PROMPTS: Record<Exclude<AgentPreset, 'custom'>, RegExp[]> = {
  claude: [
    /Do you want to (proceed|make this edit|create|allow)/,
    /No, and tell Claude what to do differently/,
    /Would you like to proceed\?/,
    /Enter to select · ↑\/↓ to navigate/,
  ],
  codex: [
    /Would you like to (run the following command|make the following edits|proceed)/,
    /Allow command\?/,
    /Press enter to confirm or esc to cancel/i,
  ],
  gemini: [/Allow execution of/, /Apply this change\?/, /Yes, allow (once|always)/, /Waiting for user confirmation/],
  shell: [],
};

/** The waiting prompts of the preset an agent runs with; a `MAESTRO_AGENT_WAITING` that is no regular expression is ignored. */
export function waitingPrompts(preset: string | undefined, custom: string | undefined, log?: (m: string) => void): RegExp[] {
  if (preset === 'custom' || (custom && !(preset && preset in WAITING_PROMPTS))) {
    if (!custom?.trim()) return [];
    try {
      return [new RegExp(custom, 'm')];
    } catch {
      log?.(`MAESTRO_AGENT_WAITING is not a regular expression: ${custom}`);
      return [];
    }
  }
  return WAITING_PROMPTS[(preset ?? 'claude') as keyof typeof WAITING_PROMPTS] ?? WAITING_PROMPTS.claude;
}

/** The line of `screen` that shows a waiting prompt, if one of its last lines does. */
export function waitingLine(screen: string, prompts: RegExp[]): string | undefined {
  const lines = screen
    .split('\n')
    .map((l) => l.replace(/[│╭╮╰╯─]/g, ' ').trim())
    .filter(Boolean)
    .slice(-SCREEN_LINES);
  for (const line of lines) if (prompts.some((p) => p.test(line))) return line.slice(0, 200);
  return undefined;
}

type TerminalState = 'working' | 'needs_input' | 'idle';
interface Tracked {
  watcher: FSWatcher | undefined;
  lastOutput: number;
  /** What was last reported (null: nothing yet). */
  reported: TerminalState | null;
  timer: NodeJS.Timeout | undefined;
  prompts: RegExp[];
  /** The last report, made while no server listened: sent once connected again. */
  missed?: { state: TerminalState; reason?: string };
}

/**
 * Follows each running agent's output log (the file tmux's pipe-pane appends to, the same stream live viewers get):
 * output after a quiet spell → `working`; nothing for `idleMs` → one look at the screen → `needs_input` when a
 * waiting prompt shows, else `idle`. Only changes are sent; output costs a timestamp, never a tmux call.
 */
export class TerminalAttention {
  readonly #tracked = new Map<string, Tracked>();

  constructor(
    private readonly tmux: Tmux,
    private readonly logFile: (sessionId: string) => string,
    private readonly send: Send,
    readonly idleMs = DEFAULT_IDLE_MS,
    private readonly log: (message: string) => void = () => {},
  ) {}

  /** Starts following a session (at launch, or for a running agent found at a runner's start). */
  track(sessionId: string, prompts: RegExp[]) {
    if (this.#tracked.has(sessionId)) return;
    const t: Tracked = { watcher: undefined, lastOutput: Date.now(), reported: null, timer: undefined, prompts };
    this.#tracked.set(sessionId, t);
    try {
      t.watcher = watch(this.logFile(sessionId), () => this.#output(sessionId));
      t.watcher.on('error', () => this.untrack(sessionId));
    } catch {
      // No log (an agent of an older runner): nothing to follow.
      this.#tracked.delete(sessionId);
      return;
    }
    this.#arm(t, sessionId, this.idleMs);
  }

  untrack(sessionId: string) {
    const t = this.#tracked.get(sessionId);
    if (!t) return;
    t.watcher?.close();
    clearTimeout(t.timer);
    this.#tracked.delete(sessionId);
  }

  close() {
    for (const id of [...this.#tracked.keys()]) this.untrack(id);
  }

  /** After a reconnect the server may have missed a report: the next change is sent whatever was sent before. */
  forgetReported() {
    for (const t of this.#tracked.values()) t.reported = null;
  }

  /**
   * Connected again: what the agents did while no server listened (a turn that ended, a prompt that appeared) is
   * told now, or the server would show the state from before the outage until the agent's next output.
   */
  resendMissed() {
    for (const [sessionId, t] of this.#tracked) if (t.missed) this.#report(sessionId, t, t.missed.state, t.missed.reason);
  }

  #output(sessionId: string) {
    const t = this.#tracked.get(sessionId);
    if (!t) return;
    t.lastOutput = Date.now();
    if (t.reported !== 'working') this.#report(sessionId, t, 'working');
    if (!t.timer) this.#arm(t, sessionId, this.idleMs);
  }

  /** One timer per session, re-armed for the rest of the spell rather than reset on every chunk. */
  #arm(t: Tracked, sessionId: string, ms: number) {
    t.timer = setTimeout(() => void this.#quiet(sessionId), ms);
    t.timer.unref?.();
  }

  async #quiet(sessionId: string) {
    const t = this.#tracked.get(sessionId);
    if (!t) return;
    t.timer = undefined;
    const left = t.lastOutput + this.idleMs - Date.now();
    if (left > 0) return this.#arm(t, sessionId, left);
    const screen = t.prompts.length ? await this.tmux.run(['capture-pane', '-p', '-t', tmuxName(sessionId)]) : undefined;
    // Output while the screen was read: the spell is over.
    if (this.#tracked.get(sessionId) !== t || Date.now() - t.lastOutput < this.idleMs || t.timer) return;
    const line = screen?.ok ? waitingLine(screen.stdout, t.prompts) : undefined;
    const state = line ? 'needs_input' : 'idle';
    if (t.reported !== state) this.#report(sessionId, t, state, line);
  }

  #report(sessionId: string, t: Tracked, state: TerminalState, reason?: string) {
    t.reported = state;
    const sent = this.send({ type: 'attention', sessionId, state, ...(reason && { reason }) }) !== false;
    t.missed = sent ? undefined : { state, reason };
    if (!sent) this.log(`${sessionId}: ${state}${reason ? ` (${reason})` : ''}, to tell the server once connected again`);
  }
}
