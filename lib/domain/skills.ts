// Skills read from `SKILLS_DIR`: their manifests and text (§7).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as v from 'valibot';
import { notFound } from '../errors.js';
import { isId } from '../ids.js';
import type { Logger } from '../log.js';
import { parseJson } from '../parse.js';
import type { Role } from './types.js';

/** `manifest.json` of a skill (contract §7.2). Fields of the wrong type fall back rather than break the skill. */
const SkillManifest = v.looseObject({
  name: v.fallback(v.optional(v.string()), undefined),
  version: v.fallback(v.optional(v.string()), undefined),
  description: v.fallback(v.optional(v.string()), undefined),
  type: v.fallback(v.optional(v.string()), undefined),
  assignTo: v.fallback(v.optional(v.array(v.string())), undefined),
  capabilities: v.fallback(v.optional(v.array(v.string())), undefined),
  dependencies: v.fallback(v.optional(v.array(v.string())), undefined),
});

export interface SkillSummary {
  id: string;
  name: string;
  description: string;
  type: string;
  version: string;
}

export interface Skill extends SkillSummary {
  instructions: string;
  manifest: v.InferOutput<typeof SkillManifest>;
}

const ROLE_SKILLS: Record<Role, string[]> = {
  worker: ['maestro-cli', 'maestro-worker'],
  orchestrator: ['maestro-cli', 'maestro-orchestrator'],
};

/** Skills read from `SKILLS_DIR/<id>/manifest.json` and `skill.md`, cached for the life of the process (§7). */
export class SkillStore {
  readonly #cache = new Map<string, Skill>();

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** Every loadable skill, by directory name; never fails (a missing directory is an empty list). */
  async list(): Promise<SkillSummary[]> {
    try {
      const entries = await readdir(this.dir, { withFileTypes: true }).catch(() => []);
      const ids = entries
        .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && isId(e.name))
        .map((e) => e.name)
        .sort();
      const skills = await Promise.all(ids.map((id) => this.#load(id)));
      return skills.filter((s): s is Skill => s !== undefined).map(summary);
    } catch (error) {
      this.log.warn(`Cannot list skills in ${this.dir}: ${(error as Error).message}`);
      return [];
    }
  }

  async get(id: string): Promise<Skill> {
    const skill = isId(id) ? await this.#load(id) : undefined;
    if (!skill) throw notFound(`Skill not found: ${id}`, { skillId: id });
    return skill;
  }

  /** `maestro-cli` plus the role's own skill, those that exist; here `id` is the manifest's name (contract §3.7). */
  async forRole(role: Role): Promise<SkillSummary[]> {
    const skills = await Promise.all(ROLE_SKILLS[role].map((id) => this.#load(id)));
    return skills.filter((s): s is Skill => s !== undefined).map((s) => ({ ...summary(s), id: s.name }));
  }

  /** Drops the cached copy and reads the skill again. */
  async reload(id: string): Promise<SkillSummary & { reloaded: true }> {
    this.#cache.delete(id);
    return { ...summary(await this.get(id)), reloaded: true };
  }

  async #load(id: string): Promise<Skill | undefined> {
    const cached = this.#cache.get(id);
    if (cached) return cached;
    const dir = join(this.dir, id);
    let text: string;
    try {
      text = await readFile(join(dir, 'manifest.json'), 'utf8');
    } catch {
      return undefined; // not a skill
    }
    try {
      const manifest = v.parse(SkillManifest, parseJson(text));
      const instructions = await readFile(join(dir, 'skill.md'), 'utf8').catch(() => '');
      const skill: Skill = {
        id,
        name: manifest.name || id,
        description: manifest.description ?? '',
        type: manifest.type || 'system',
        version: manifest.version || '1.0.0',
        instructions,
        manifest,
      };
      this.#cache.set(id, skill);
      return skill;
    } catch (error) {
      this.log.warn(`Skipping skill ${id}: ${(error as Error).message.split('\n')[0]}`);
      return undefined;
    }
  }
}

const summary = ({ id, name, description, type, version }: Skill): SkillSummary => ({ id, name, description, type, version });
