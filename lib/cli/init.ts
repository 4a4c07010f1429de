import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Manifest } from '../manifest.js';
import type { Template } from '../types.js';
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
    RELATED_TASKS: bullets(others.map((t) => `${t.id}: ${t.title}`), '(none)'),
    PROJECT_STANDARDS: 'Follow the conventions already in the codebase; keep changes small and tested.',
    ALL_TASKS: bullets(manifest.tasks.map((t) => `${t.id}: ${t.title}${t.priority ? ` (${t.priority})` : ''}`), '(none)'),
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
      .description(`Start ${article(role)} ${role} session: mark it working and print the agent's prompt from its manifest and template`)
      .option('--manifest <path>', 'manifest file (default: $MAESTRO_MANIFEST_PATH)')
      .action(action(async (ctx, opts: { manifest?: string }) => {
        const manifestPath = opts.manifest ?? ctx.env.MAESTRO_MANIFEST_PATH;
        if (!manifestPath) throw new CliError('No manifest: pass --manifest, or run inside a spawned session terminal');
        let manifest: Manifest;
        try {
          manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Manifest;
        } catch (error) {
          throw new CliError(`Cannot read manifest ${manifestPath}: ${(error as Error).message}`);
        }
        if (manifest.role !== role) throw new CliError(`The manifest is for ${article(manifest.role)} ${manifest.role}, not ${article(role)} ${role}`);
        const sessionId = ctx.env.MAESTRO_SESSION_ID;
        if (sessionId) await ctx.client.patch(`/api/sessions/${encodeURIComponent(sessionId)}`, { status: 'working' });
        const template = await (manifest.templateId
          ? ctx.client.get<Template>(`/api/templates/${encodeURIComponent(manifest.templateId)}`).catch(() => undefined)
          : undefined) ?? (await ctx.client.get<Template>(`/api/templates/role/${role}`));
        const prompt = renderPrompt(template.content, manifest);
        ctx.out({ sessionId: sessionId ?? null, role, manifestPath, templateId: template.id, prompt }, (r) => r.prompt);
      }));
  }
}
