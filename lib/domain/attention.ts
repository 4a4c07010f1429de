// Attention (contract §21): the one state machine that fuses hooks, terminal, reports and input into session.attention.

export const ATTENTION_STATES = ['working', 'needs_input', 'idle'] as const;
export const ATTENTION_SOURCES = ['hook', 'terminal', 'report', 'input'] as const;
export type AttentionState = (typeof ATTENTION_STATES)[number];
export type AttentionSource = (typeof ATTENTION_SOURCES)[number];

export interface Attention {
  state: AttentionState;
  since: number;
  reason: string | null;
  source: AttentionSource;
}

/** One observation about an agent: what its source says the state is now. */
export interface AttentionSignal {
  source: AttentionSource;
  state: AttentionState;
  reason?: string | null;
}

/**
 * Whether an explicit source holds `attention` against the terminal's guesses (§21: a hook's state wins over the
 * terminal's until the next output). Read from the stored value itself, not from one process's memory, so the hold
 * survives a restart and is the same on every instance of a cluster (§22.2). A progress report holds nothing: it says
 * the agent works now, not that it will, so the terminal going quiet after it still counts (the runner reports
 * `working` once per spell, so a hold taken in the middle of a spell would never see its release).
 */
export const isHeld = (attention: Attention | null): boolean =>
  attention !== null && (attention.source === 'hook' || (attention.source === 'report' && attention.state !== 'working'));

type Match = AttentionSource | '*';
interface Rule {
  /** Which signal the row is about. */
  source: Match | Match[];
  state: AttentionState | '*';
  /** Extra condition on the current attention. */
  when?: (current: Attention | null) => boolean;
  action: 'ignore' | 'apply';
  why: string;
}

/** The rules, first match wins. Keep them few: each row is a test case in test/attention.test.ts. */
export const RULES: readonly Rule[] = [
  {
    source: 'terminal',
    state: 'idle',
    when: isHeld,
    action: 'ignore',
    why: "a hook's or report's state wins over the terminal's until the next output",
  },
  {
    source: 'terminal',
    state: 'needs_input',
    when: isHeld,
    action: 'ignore',
    why: "a hook's or report's state wins over the terminal's until the next output",
  },
  {
    source: ['hook', 'terminal'],
    state: 'idle',
    when: (current) => current?.state === 'needs_input' && current.source === 'report',
    action: 'ignore',
    why: 'an agent that asked through `report needs-input` and ended its turn still waits for the answer',
  },
  { source: '*', state: '*', action: 'apply', why: 'anything else is the newest truth' },
];

const matches = (pattern: Match | Match[], source: AttentionSource) =>
  Array.isArray(pattern) ? pattern.includes(source) : pattern === '*' || pattern === source;

/**
 * The attention after `signal` at `now`. `changed`: the served value changed (the session is written); `announced`:
 * its state changed (`session:attention` and, for `needs_input`, a timeline entry are due). A signal naming the state
 * the session is already in changes nothing, unless it takes or releases the hold: then only `source` changes (a hook
 * confirming the terminal's state now holds it; output or typed input after a hook's `working` releases it), so that
 * the hold is stored. A permission request that two hooks report is one change.
 */
export function transition(
  current: Attention | null,
  signal: AttentionSignal,
  now: number,
): { next: Attention | null; changed: boolean; announced: boolean } {
  const rule = RULES.find(
    (r) => matches(r.source, signal.source) && (r.state === '*' || r.state === signal.state) && (r.when?.(current) ?? true),
  );
  const same = { next: current, changed: false, announced: false };
  if (rule?.action === 'ignore') return same;
  if (current?.state === signal.state) {
    const adopted = { ...current, source: signal.source };
    return isHeld(adopted) === isHeld(current) ? same : { next: adopted, changed: true, announced: false };
  }
  const reason = signal.state === 'working' ? null : (signal.reason?.trim().slice(0, 500) ?? null) || null;
  return { next: { state: signal.state, since: now, reason, source: signal.source }, changed: true, announced: true };
}
