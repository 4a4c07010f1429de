// What each agent hook event means for attention (contract §21): one table for Claude Code, Codex and Gemini CLI.
import type { AttentionState } from './attention.js';

/** The fields of a hook's JSON that attention reads; `maestro hook` sends only these. */
export interface HookPayload {
  /** Claude Code, Codex (`PreToolUse`, `PermissionRequest`, …) and Gemini CLI events carry the tool's name. */
  tool_name?: string;
  tool_input?: unknown;
  /** `Notification` (Claude Code, Gemini CLI). */
  message?: string;
  notification_type?: string;
  /** Codex's `notify` program: `agent-turn-complete`. */
  type?: string;
}

/** Tools that ask the person something: their `PreToolUse` means the agent now waits (Claude Code fires no `Notification`). */
const ASKING_TOOLS = new Set(['AskUserQuestion', 'ExitPlanMode']);

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() ? value.trim() : undefined);

/** The question an `AskUserQuestion` call puts to the person, when its input has one. */
function question(input: unknown): string | undefined {
  const questions = (input as { questions?: { question?: unknown }[] } | undefined)?.questions;
  return Array.isArray(questions) ? text(questions[0]?.question) : undefined;
}

/**
 * The state a hook event reports, with its reason; undefined when the event says nothing about attention (an
 * unknown event, Claude Code's `auth_success` notice). Codex names its hooks like Claude Code, so one table serves
 * both; Gemini CLI's `BeforeAgent`/`AfterAgent` and Codex's `notify` have their own rows.
 */
export function hookState(event: string, payload: HookPayload): { state: AttentionState; reason?: string } | undefined {
  const tool = text(payload.tool_name);
  switch (event) {
    case 'Notification':
      // Claude Code's idle reminder (about 60 s after a finished turn) is a finished turn, not a question.
      if (payload.notification_type === 'idle_prompt') return { state: 'idle', reason: text(payload.message) };
      if (payload.notification_type === 'auth_success') return undefined;
      // An MCP server's question (`elicitation_dialog`) waits for the person; these two say the person answered it
      // (or a URL elicitation completed), so the agent goes on working.
      if (payload.notification_type === 'elicitation_response' || payload.notification_type === 'elicitation_complete')
        return { state: 'working' };
      return { state: 'needs_input', reason: text(payload.message) ?? 'The agent needs your attention' };
    case 'PermissionRequest':
      return { state: 'needs_input', reason: text(payload.message) ?? `Permission to use ${tool ?? 'a tool'}` };
    case 'PreToolUse':
      if (tool && ASKING_TOOLS.has(tool)) {
        const reason =
          tool === 'ExitPlanMode' ? 'A plan is ready for your approval' : (question(payload.tool_input) ?? 'The agent asks you a question');
        return { state: 'needs_input', reason };
      }
      return { state: 'working' };
    case 'PostToolUse':
    case 'UserPromptSubmit':
    case 'BeforeAgent':
      return { state: 'working' };
    case 'Stop':
    case 'AfterAgent':
      return { state: 'idle', reason: 'Finished its turn' };
    case 'notify':
      return payload.type === 'agent-turn-complete' ? { state: 'idle', reason: 'Finished its turn' } : undefined;
    default:
      return undefined;
  }
}
