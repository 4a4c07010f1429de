// Agent presets (claude, codex, gemini, shell, custom) and the command line each one runs (§15.5).
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Agent presets (contract §15.5). */
export const AGENT_PRESETS = ['claude', 'codex', 'gemini', 'shell', 'custom'] as const;
export type AgentPreset = (typeof AGENT_PRESETS)[number];
export const isAgentPreset = (value: unknown): value is AgentPreset => AGENT_PRESETS.includes(value as AgentPreset);

/** An executable named `program` on `PATH`, or undefined. */
export function which(program: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (program.includes('/')) return canRun(program) ? program : undefined;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && canRun(join(dir, program))) return join(dir, program);
  }
  return undefined;
}

const canRun = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The presets whose program this machine has (a runner's `agents`, §15.1). */
export function availableAgents(env: NodeJS.ProcessEnv = process.env): AgentPreset[] {
  return AGENT_PRESETS.filter((preset) => {
    if (preset === 'shell') return true;
    if (preset === 'custom') return Boolean(env.MAESTRO_AGENT_COMMAND?.trim());
    return which(preset, env) !== undefined;
  });
}

export interface AgentLaunch {
  prompt: string;
  promptFile: string;
  /** The spawn's `model`, when one was given. */
  model?: string;
  /** The manifest's `session.model` and `permissionMode` (Claude Code reads both). */
  manifestModel?: string;
  permissionMode?: string;
  /** Arguments that wire the agent's hooks for this launch (agent-hooks.ts). */
  hookArgs?: string[];
}

/** POSIX single-quoting: the value reaches the program as one argument, whatever it holds. */
export const shellQuote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

/**
 * The argument vector of a preset (§15.5). Flags, and where each tool documents them, are listed in the README.
 * `shell` and `custom` go through `sh -c`: `shell` with its values shell-quoted, `custom` with them as positional
 * arguments, never pasted into the line.
 */
export function agentCommand(preset: AgentPreset, launch: AgentLaunch, env: NodeJS.ProcessEnv = process.env): string[] {
  const { prompt, promptFile, model } = launch;
  switch (preset) {
    case 'claude':
      // Prompt first: --allowedTools takes a variable number of values and would swallow a prompt after it.
      return [
        'claude',
        prompt,
        ...((model ?? launch.manifestModel) ? ['--model', (model ?? launch.manifestModel)!] : []),
        ...(launch.permissionMode ? ['--permission-mode', launch.permissionMode] : []),
        ...(launch.hookArgs ?? []),
        '--allowedTools',
        'Bash(maestro:*)',
      ];
    case 'codex':
      return [
        'codex',
        ...(model ? ['--model', model] : []),
        ...(launch.hookArgs ?? []),
        '--sandbox',
        'workspace-write',
        '--ask-for-approval',
        'on-request',
        prompt,
      ];
    case 'gemini':
      return ['gemini', ...(model ? ['--model', model] : []), ...(launch.hookArgs ?? []), '--prompt-interactive', prompt];
    case 'shell': {
      const shell = env.SHELL?.trim() || '/bin/sh';
      return ['sh', '-c', `cat -- ${shellQuote(promptFile)}; echo; exec ${shellQuote(shell)} -i`];
    }
    case 'custom': {
      const line = env.MAESTRO_AGENT_COMMAND?.trim();
      if (!line)
        throw new Error('The custom agent preset needs MAESTRO_AGENT_COMMAND (a command line; {promptFile} and {prompt} are replaced)');
      return ['sh', '-c', customLine(line), 'sh', prompt, promptFile];
    }
  }
}

/**
 * `MAESTRO_AGENT_COMMAND` as a `sh -c` line reading the prompt from `$1` and the prompt file from `$2` (issue 21
 * item 6): the values stay out of the line, so no quoting of the user's (`"{prompt}"`, `'{prompt}'`) can let task
 * text run as shell code. A placeholder the user quoted is unquoted first, so it still expands to one argument.
 */
export function customLine(line: string): string {
  const positional = (key: string) => (key === 'prompt' ? '"$1"' : '"$2"');
  return line
    .replace(/"\{(promptFile|prompt)\}"|'\{(promptFile|prompt)\}'/g, (_, a?: string, b?: string) => positional((a ?? b)!))
    .replace(/\{(promptFile|prompt)\}/g, (_, key: string) => positional(key));
}
