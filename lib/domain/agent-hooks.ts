// Wires each agent preset's documented hooks to `maestro hook` for one launch (contract §21), never the user's own files.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LIB_DIR } from '../package-root.js';
import { type AgentPreset, shellQuote } from './agents.js';

/** What a launch adds for attention: arguments, environment, and files to write under the session's directory. */
export interface HookWiring {
  args: string[];
  env: Record<string, string>;
  files: { path: string; content: string }[];
}

/** Claude Code's hook events (docs: code.claude.com/docs/en/hooks). */
export const CLAUDE_EVENTS = ['Notification', 'PermissionRequest', 'PreToolUse', 'PostToolUse', 'UserPromptSubmit', 'Stop'] as const;
/** Codex's hooks (developers.openai.com/codex/hooks), besides its `notify` program (developers.openai.com/codex/config-advanced). */
export const CODEX_EVENTS = ['PermissionRequest', 'UserPromptSubmit', 'PostToolUse', 'Stop'] as const;
/** Gemini CLI's hook events (geminicli.com/docs/hooks/reference). */
export const GEMINI_EVENTS = ['Notification', 'BeforeAgent', 'AfterAgent'] as const;

/** This package's CLI as argv, by absolute path: the agent's `PATH` may have no `maestro`. */
export function maestroCli(): string[] {
  const cli = join(LIB_DIR, 'cli/main.js');
  return existsSync(cli) ? [process.execPath, cli] : ['maestro'];
}

const hookLine = (cli: string[], event: string) => [...cli, 'hook', event].map(shellQuote).join(' ');
/** A TOML basic string: JSON's escapes are TOML's for every character a path or argument holds. */
const toml = (value: string) => JSON.stringify(value);

/** Where Gemini CLI reads its system settings when nothing overrides it (its `getSystemSettingsPath`). */
function geminiSystemSettingsPath(env: NodeJS.ProcessEnv): string {
  if (env.GEMINI_CLI_SYSTEM_SETTINGS_PATH) return env.GEMINI_CLI_SYSTEM_SETTINGS_PATH;
  if (process.platform === 'darwin') return '/Library/Application Support/GeminiCli/settings.json';
  if (process.platform === 'win32') return 'C:\\ProgramData\\gemini-cli\\settings.json';
  return '/etc/gemini-cli/settings.json';
}

/**
 * Where Gemini CLI reads its system defaults: `GEMINI_CLI_SYSTEM_DEFAULTS_PATH`, else `system-defaults.json` beside
 * the system settings. Pointing the system settings at our file would move that too, so the launch names it.
 */
const geminiSystemDefaultsPath = (env: NodeJS.ProcessEnv) =>
  env.GEMINI_CLI_SYSTEM_DEFAULTS_PATH || join(dirname(geminiSystemSettingsPath(env)), 'system-defaults.json');

/** The system settings Gemini CLI would read, kept under ours so that an administrator's settings still apply. */
function geminiSystemSettings(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const path = geminiSystemSettingsPath(env);
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * The per-launch wiring of `preset`'s hooks to `maestro hook <event>`: Claude Code through `--settings <file>`, Codex
 * through `-c` overrides (`notify` and `hooks.*`), Gemini CLI through a system settings file named by
 * `GEMINI_CLI_SYSTEM_SETTINGS_PATH`. `shell` and `custom` have none (the terminal tells their state).
 */
export function hookWiring(preset: AgentPreset, sessionDir: string, env: NodeJS.ProcessEnv = process.env, cli = maestroCli()): HookWiring {
  const none: HookWiring = { args: [], env: {}, files: [] };
  switch (preset) {
    case 'claude': {
      const path = join(sessionDir, 'claude-settings.json');
      const hooks = Object.fromEntries(
        CLAUDE_EVENTS.map((event) => [event, [{ hooks: [{ type: 'command', command: hookLine(cli, event), timeout: 5 }] }]]),
      );
      return { args: ['--settings', path], env: {}, files: [{ path, content: `${JSON.stringify({ hooks }, null, 2)}\n` }] };
    }
    case 'codex': {
      const notify = `notify=[${[...cli, 'hook', 'notify'].map(toml).join(', ')}]`;
      const hooks = CODEX_EVENTS.flatMap((event) => [
        '-c',
        `hooks.${event}=[{ hooks = [{ type = "command", command = ${toml(hookLine(cli, event))}, timeout = 5 }] }]`,
      ]);
      return { args: ['-c', notify, ...hooks], env: {}, files: [] };
    }
    case 'gemini': {
      const path = join(sessionDir, 'gemini-settings.json');
      const system = geminiSystemSettings(env);
      const systemHooks = (system.hooks ?? {}) as Record<string, unknown>;
      // The administrator's own hooks for the same events run too: ours come after them, not instead of them.
      const hooks = {
        ...systemHooks,
        ...Object.fromEntries(
          GEMINI_EVENTS.map((event) => [
            event,
            [
              ...(Array.isArray(systemHooks[event]) ? systemHooks[event] : []),
              { hooks: [{ name: `maestro-${event}`, type: 'command', command: hookLine(cli, event), timeout: 5000 }] },
            ],
          ]),
        ),
      };
      const settings = { ...system, hooksConfig: { ...(system.hooksConfig as object | undefined), enabled: true }, hooks };
      return {
        args: [],
        env: { GEMINI_CLI_SYSTEM_SETTINGS_PATH: path, GEMINI_CLI_SYSTEM_DEFAULTS_PATH: geminiSystemDefaultsPath(env) },
        files: [{ path, content: `${JSON.stringify(settings, null, 2)}\n` }],
      };
    }
    default:
      return none;
  }
}
