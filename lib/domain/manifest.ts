// The session manifest a spawn writes (§6.5), built from the stored entities.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { isId } from '../ids.js';
import { parseJson } from '../parse.js';
import { ROLES, type Role, STRATEGIES, type Strategy } from './types.js';

/** The session manifest the CLI writes for a spawn (contract §6.5). */
export interface Manifest {
  manifestVersion: '1.0';
  role: Role;
  strategy: Strategy;
  tasks: ManifestTask[];
  session: { model: string; permissionMode: string; thinkingMode: string; workingDirectory: string };
  context: { custom: { taskIds: string[] } };
  skills: string[];
  templateId?: string;
}

export interface ManifestTask {
  id: string;
  title: string;
  description: string;
  acceptanceCriteria: string[];
  projectId: string;
  createdAt: string;
  parentId?: string;
  dependencies?: string[];
  priority?: string;
  metadata?: Record<string, unknown>;
}

/** Where the entities come from: the server's own store (PostgreSQL, §22.2) instead of DATA_DIR's files. */
export interface ManifestSource {
  project(id: string): Record<string, any> | undefined;
  task(id: string): Record<string, any> | undefined;
}

export interface ManifestOptions {
  dataDir: string;
  /** Reads entities from here instead of `dataDir` when given. */
  source?: ManifestSource;
  role: string;
  projectId: string;
  taskIds: string[];
  skills: string[];
  strategy: string;
}

/** Why a manifest cannot be made: one line, for stderr. */
export class ManifestError extends Error {}

/** Reads one entity file of `DATA_DIR`, or undefined when there is none. */
async function readEntity(path: string): Promise<Record<string, any> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return parseJson(text) as Record<string, any>;
  } catch (error) {
    throw new ManifestError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** A task file: under its project, else a legacy file in `tasks/`, else under any project (contract §5). */
async function findTask(dataDir: string, projectId: string, taskId: string) {
  const tasks = join(dataDir, 'tasks');
  const direct = (await readEntity(join(tasks, projectId, `${taskId}.json`))) ?? (await readEntity(join(tasks, `${taskId}.json`)));
  if (direct) return direct;
  const dirs = await readdir(tasks, { withFileTypes: true }).catch(() => []);
  for (const dir of dirs.filter((d) => d.isDirectory() && isId(d.name))) {
    const task = await readEntity(join(tasks, dir.name, `${taskId}.json`));
    if (task) return task;
  }
  return undefined;
}

/** Bullet items under an "Acceptance criteria" heading of a description, if it has one. */
export function acceptanceCriteria(description: string): string[] {
  const block = /acceptance criteria:?\s*\n((?:[ \t]*[-*][^\n]*(?:\n|$))+)/i.exec(description)?.[1] ?? '';
  const items = block
    .split('\n')
    .map((line) => line.replace(/^\s*[-*]\s*(\[[ xX]\]\s*)?/, '').trim())
    .filter(Boolean);
  // §13.2: never empty, the original CLI's schema requires one item.
  return items.length ? items : ['Task completion as described'];
}

/** Builds the manifest from the files in `DATA_DIR` (or `source`); throws ManifestError with a one-line reason. */
export async function buildManifest(opts: ManifestOptions): Promise<Manifest> {
  if (!ROLES.includes(opts.role as Role)) throw new ManifestError(`Invalid role "${opts.role}": must be worker or orchestrator`);
  if (!STRATEGIES.includes(opts.strategy as Strategy))
    throw new ManifestError(`Invalid strategy "${opts.strategy}": must be simple, queue or tree`);
  if (!isId(opts.projectId)) throw new ManifestError(`Invalid project ID "${opts.projectId}"`);
  if (opts.taskIds.length === 0) throw new ManifestError('No task IDs given');
  const badId = opts.taskIds.find((id) => !isId(id));
  if (badId !== undefined) throw new ManifestError(`Invalid task ID "${badId}"`);

  const where = opts.source ? 'the database' : opts.dataDir;
  const project = opts.source
    ? opts.source.project(opts.projectId)
    : await readEntity(join(opts.dataDir, 'projects', `${opts.projectId}.json`));
  if (!project) throw new ManifestError(`Project ${opts.projectId} not found in ${where}`);
  const tasks: ManifestTask[] = [];
  for (const taskId of opts.taskIds) {
    const t = opts.source ? opts.source.task(taskId) : await findTask(opts.dataDir, opts.projectId, taskId);
    if (!t) throw new ManifestError(`Task ${taskId} not found in ${where}`);
    const description = typeof t.description === 'string' ? t.description : '';
    tasks.push({
      id: taskId,
      title: String(t.title ?? ''),
      description,
      acceptanceCriteria: acceptanceCriteria(description),
      projectId: String(t.projectId ?? opts.projectId),
      createdAt: new Date(typeof t.createdAt === 'number' ? t.createdAt : Date.now()).toISOString(),
      ...(typeof t.parentId === 'string' && { parentId: t.parentId }),
      ...(Array.isArray(t.dependencies) && t.dependencies.length > 0 && { dependencies: t.dependencies }),
      ...(typeof t.priority === 'string' && { priority: t.priority }),
      ...(typeof t.initialPrompt === 'string' && t.initialPrompt && { metadata: { initialPrompt: t.initialPrompt } }),
    });
  }
  return {
    manifestVersion: '1.0',
    role: opts.role as Role,
    strategy: opts.strategy as Strategy,
    tasks,
    session: {
      model: 'sonnet',
      permissionMode: 'acceptEdits',
      thinkingMode: 'auto',
      workingDirectory: typeof project.workingDir === 'string' ? project.workingDir : '',
    },
    context: { custom: { taskIds: opts.taskIds } },
    skills: opts.skills,
  };
}

/** Writes JSON through a temporary file and a rename, so a reader never sees half a manifest. */
export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  const target = resolve(path);
  await mkdir(dirname(target), { recursive: true });
  const temp = join(dirname(target), `.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temp, target);
}
