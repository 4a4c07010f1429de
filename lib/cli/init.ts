// `maestro worker init` and `maestro orchestrator init`: start a spawned session's agent from its manifest.
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { hookWiring } from '../domain/agent-hooks.js';
import { type AgentPreset, agentCommand, isAgentPreset, which } from '../domain/agents.js';
import type { Manifest } from '../domain/manifest.js';
import type { Template } from '../domain/types.js';
import { CliError } from './client.js';
import { action } from './context.js';

const article = (role: string) => (role === 'orchestrator' ? 'an' : 'a');
const bullets = (items: string[], none: string) => (items.length ? items.map((i) => `- ${i}`).join('\n') : none);

/** Fills the placeholders of a template (contract §3.6) from a manifest; the server never does this. */
export function renderPrompt(content: string, manifest: Manifest): string {
  const [task, ...others] = manifest.tasks;
  const values: Record<string, string> = {
    TASK_ID: task?.id ?? '',
    TASK_TITLE: task?.title ?? '',
    TASK_DESCRIPTION: task?.description || '(no description)',
    TASK_PRIORITY: task?.priority ?? 'medium',
    ACCEPTANCE_CRITERIA: bullets(task?.acceptanceCriteria ?? [], '- The task as described is done and verified.'),
    CODEBASE_CONTEXT: manifest.session.workingDirectory ? `Working directory: ${manifest.session.workingDirectory}` : '(none given)',
    RELATED_TASKS: bullets(
      others.map((t) => `${t.id}: ${t.title}`),
      '(none)',
    ),
    PROJECT_STANDARDS: 'Follow the conventions already in the codebase; keep changes small and tested.',
    ALL_TASKS: bullets(
      manifest.tasks.map((t) => `${t.id}: ${t.title}${t.priority ? ` (${t.priority})` : ''}`),
      '(none)',
    ),
  };
  return content.replace(/\$\{([A-Z_]+)\}/g, (match, name: string) => values[name] ?? match);
}

/** `maestro worker init` / `maestro orchestrator init`: what a spawned terminal runs first (contract §6.6). */
export function initCommands(program: Command) {
  for (const role of ['worker', 'orchestrator'] as const) {
    program
      .command(role)
      .description(`Commands run in ${article(role)} ${role} session`)
      .command('init')
      .description(`Start ${article(role)} ${role} session: mark it working, write the agent's prompt to prompt.md and run the agent`)
      .option('--manifest <path>', 'manifest file (default: $MAESTRO_MANIFEST_PATH)')
      .option(
        '--agent <preset>',
        'claude, codex, gemini, shell or custom (default: $MAESTRO_AGENT, else claude when installed, else shell)',
      )
      .option('--print-prompt', 'print the prompt and exit without starting the agent')
      .action(
        action(async (ctx, opts: { manifest?: string; agent?: string; printPrompt?: boolean }) => {
          const manifestPath = opts.manifest ?? ctx.env.MAESTRO_MANIFEST_PATH;
          if (!manifestPath) throw new CliError('No manifest: pass --manifest, or run inside a spawned session terminal');
          let manifest: Manifest;
          try {
            manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Manifest;
          } catch (error) {
            throw new CliError(`Cannot read manifest ${manifestPath}: ${(error as Error).message}`);
          }
          if (manifest.role !== role)
            throw new CliError(`The manifest is for ${article(manifest.role)} ${manifest.role}, not ${article(role)} ${role}`);
          const sessionId = ctx.env.MAESTRO_SESSION_ID;
          if (sessionId) await ctx.client.patch(`/api/sessions/${encodeURIComponent(sessionId)}`, { status: 'working' });
          const template =
            (await (manifest.templateId
              ? ctx.client.get<Template>(`/api/templates/${encodeURIComponent(manifest.templateId)}`).catch(() => undefined)
              : undefined)) ?? (await ctx.client.get<Template>(`/api/templates/role/${role}`));
          const prompt = renderPrompt(template.content, manifest);
          if (opts.printPrompt || ctx.json) {
            ctx.out({ sessionId: sessionId ?? null, role, manifestPath, templateId: template.id, prompt }, (r) => r.prompt);
            return;
          }
          const preset = opts.agent ?? ctx.env.MAESTRO_AGENT ?? (which('claude') ? 'claude' : 'shell');
          if (!isAgentPreset(preset)) throw new CliError(`Unknown agent preset "${preset}" (claude, codex, gemini, shell, custom)`);
          const promptFile = join(dirname(manifestPath), 'prompt.md');
          await writeFile(promptFile, `${prompt}\n`);
          // Attention (§21): this launch's hooks report to the server; the user's own settings files stay untouched.
          const wiring = sessionId ? hookWiring(preset as AgentPreset, dirname(manifestPath), ctx.env) : undefined;
          for (const file of wiring?.files ?? []) await writeFile(file.path, file.content, { mode: 0o600 });
          const argv = agentCommand(preset as AgentPreset, {
            prompt,
            promptFile,
            model: ctx.env.MAESTRO_MODEL || undefined,
            manifestModel: manifest.session?.model,
            permissionMode: manifest.session?.permissionMode,
            hookArgs: wiring?.args,
          });
          const code = await runAgent(argv, wiring?.env);
          // For the runner: tmux does not always report a pane's exit status (§15.3 step 5).
          if (ctx.env.MAESTRO_EXIT_FILE) await writeFile(ctx.env.MAESTRO_EXIT_FILE, `${code}\n`).catch(() => {});
          process.exitCode = code;
        }),
      );
  }
}

/** Runs the agent in this terminal (stdio inherited, signals forwarded); resolves with its exit code (§15.5). */
function runAgent(argv: string[], env?: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', ...(env && { env: { ...process.env, ...env } }) });
    const forward = (signal: NodeJS.Signals) => () => void child.kill(signal);
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((signal) => [signal, forward(signal)] as const);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    child.once('error', (error) => reject(new CliError(`Cannot start ${argv[0]}: ${error.message}`)));
    child.once('exit', (code, signal) => {
      for (const [name, handler] of handlers) process.off(name, handler);
      resolve(code ?? (signal ? 128 + ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal]! || 1 : 1));
    });
  });
}
