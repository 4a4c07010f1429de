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
 * What the machine remembers beside the served value: whether an explicit source (a hook or a report) holds the
 * state against the terminal's guesses. Only the terminal's next output (or input) releases it (§21).
 */
export interface AttentionMachine {
  attention: Attention | null;
  held: boolean;
}

type Match = AttentionSource | '*';
interface Rule {
  /** Which signal the row is about. */
  source: Match | Match[];
  state: AttentionState | '*';
  /** Extra condition on the machine. */
  when?: (m: AttentionMachine) => boolean;
  action: 'ignore' | 'apply';
  why: string;
}

/** The rules, first match wins. Keep them few: each row is a test case in test/attention.test.ts. */
export const RULES: readonly Rule[] = [
  {
    source: 'terminal',
    state: 'idle',
    when: (m) => m.held,
    action: 'ignore',
    why: "a hook's or report's state wins over the terminal's until the next output",
  },
  {
    source: 'terminal',
    state: 'needs_input',
    when: (m) => m.held,
    action: 'ignore',
    why: "a hook's or report's state wins over the terminal's until the next output",
  },
  {
    source: ['hook', 'terminal'],
    state: 'idle',
    when: (m) => m.attention?.state === 'needs_input' && m.attention.source === 'report',
    action: 'ignore',
    why: 'an agent that asked through `report needs-input` and ended its turn still waits for the answer',
  },
  { source: '*', state: '*', action: 'apply', why: 'anything else is the newest truth' },
];

const matches = (pattern: Match | Match[], source: AttentionSource) =>
  Array.isArray(pattern) ? pattern.includes(source) : pattern === '*' || pattern === source;

/** Hooks and reports hold the state; output and input release it; an ignored signal changes nothing. */
const holdsAfter = (signal: AttentionSignal, held: boolean): boolean => {
  // A progress report says the agent works now, not that it will: the terminal going quiet after it still counts. (The
  // runner reports `working` once per spell, so a hold taken in the middle of a spell would never see its release.)
  if (signal.source === 'report' && signal.state === 'working') return false;
  if (signal.source === 'hook' || signal.source === 'report') return true;
  if (signal.source === 'input' || signal.state === 'working') return false;
  return held;
};

/**
 * The next machine for `signal` at `now`, and whether the served `attention` changed (an event and, for
 * `needs_input`, a timeline entry are due). A signal naming the state the session is already in changes nothing:
 * a permission request that two hooks report is one change.
 */
export function transition(m: AttentionMachine, signal: AttentionSignal, now: number): { next: AttentionMachine; changed: boolean } {
  const rule = RULES.find(
    (r) => matches(r.source, signal.source) && (r.state === '*' || r.state === signal.state) && (r.when?.(m) ?? true),
  );
  if (rule?.action === 'ignore') return { next: m, changed: false };
  const held = holdsAfter(signal, m.held);
  if (m.attention?.state === signal.state) return { next: { attention: m.attention, held }, changed: false };
  const reason = signal.state === 'working' ? null : (signal.reason?.trim().slice(0, 500) ?? null) || null;
  return { next: { attention: { state: signal.state, since: now, reason, source: signal.source }, held }, changed: true };
}
