// The prompt template store, with the built-in defaults (§3.6, §9).
import { notFound, validationError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Db } from '../../storage/db.js';
import { DEFAULT_TEMPLATES } from '../prompts.js';
import { ROLES, type Role, type Template } from '../types.js';

/** Prompt templates per role (contract §3.6, §9). */
export class TemplateStore {
  constructor(private readonly db: Db) {}

  /** Gives each role without a default template its built-in one (so each role always has one, §9). */
  async seed(): Promise<void> {
    const missingNow = () => ROLES.filter((role) => !this.list().some((t) => t.role === role && t.isDefault));
    if (missingNow().length === 0) return;
    await this.db.mutate((tx) => {
      // Looked at again inside the build: on a shared database another instance may have seeded meanwhile, and a
      // build runs again on its commits (§22.2), so two instances starting together seed once.
      for (const role of missingNow()) {
        tx.put('templates', {
          id: newId('tmpl', tx.now),
          ...DEFAULT_TEMPLATES[role],
          role,
          isDefault: true,
          createdAt: tx.now,
          updatedAt: tx.now,
        });
      }
    });
  }

  list(): Template[] {
    return [...this.db.all('templates')];
  }

  get(id: string): Template {
    const template = this.db.get('templates', id);
    if (!template) throw notFound('Template not found', { templateId: id });
    return template;
  }

  /** The role's template: its default one, else the first stored for the role. */
  forRole(role: Role): Template | undefined {
    const all = this.list().filter((t) => t.role === role);
    return all.find((t) => t.isDefault) ?? all[0];
  }

  create(input: { name: string; role: Role; content: string }): Promise<Template> {
    return this.db.mutate((tx) => {
      const template: Template = { id: newId('tmpl', tx.now), ...input, isDefault: false, createdAt: tx.now, updatedAt: tx.now };
      tx.put('templates', template);
      tx.emit('template:created', template);
      return template;
    });
  }

  update(id: string, input: { name?: string; content?: string }): Promise<Template> {
    return this.#change(id, (t) => ({
      ...t,
      ...(input.name !== undefined && { name: input.name }),
      ...(input.content !== undefined && { content: input.content }),
    }));
  }

  /** Restores the built-in content for the template's role; name and isDefault stay. */
  reset(id: string): Promise<Template> {
    return this.#change(id, (t) => ({ ...t, content: DEFAULT_TEMPLATES[t.role].content }));
  }

  remove(id: string): Promise<{ success: true; id: string }> {
    return this.db.mutate((tx) => {
      const template = this.get(id);
      if (template.isDefault) {
        throw validationError('Default templates cannot be deleted; use reset to restore their content', { templateId: id });
      }
      tx.remove('templates', id);
      tx.emit('template:deleted', { id });
      return { success: true as const, id };
    });
  }

  #change(id: string, change: (t: Template) => Template): Promise<Template> {
    return this.db.mutate((tx) => {
      const template = { ...change(this.get(id)), updatedAt: tx.now };
      tx.put('templates', template);
      tx.emit('template:updated', template);
      return template;
    });
  }
}
