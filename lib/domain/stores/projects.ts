// The project store (§3.2).
import { ApiError, projectNotFound } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Db } from '../../storage/db.js';
import type { CreateProjectInput, UpdateProjectInput } from '../requests.js';
import type { Project } from '../types.js';

/** Projects (contract §3.2). */
export class ProjectStore {
  constructor(private readonly db: Db) {}

  list(): Project[] {
    return [...this.db.all('projects')];
  }

  get(id: string): Project {
    const project = this.db.get('projects', id);
    if (!project) throw projectNotFound(id);
    return project;
  }

  create(input: CreateProjectInput): Promise<Project> {
    return this.db.mutate((tx) => {
      const project: Project = { id: newId('proj', tx.now), ...input, createdAt: tx.now, updatedAt: tx.now };
      tx.put('projects', project);
      tx.emit('project:created', project);
      return project;
    });
  }

  update(id: string, input: UpdateProjectInput): Promise<Project> {
    return this.db.mutate((tx) => {
      const project: Project = { ...this.get(id), ...definedOnly(input), updatedAt: tx.now };
      tx.put('projects', project);
      tx.emit('project:updated', project);
      return project;
    });
  }

  remove(id: string): Promise<{ success: true; id: string }> {
    return this.db.mutate((tx) => {
      this.get(id);
      const tasks = tx.ids('tasksByProject', id).length;
      const sessions = tx.ids('sessionsByProject', id).length;
      if (tasks || sessions) {
        const [n, what] = tasks ? [tasks, 'task'] : [sessions, 'session'];
        throw new ApiError(400, 'PROJECT_HAS_DEPENDENCIES', `Cannot delete project with ${n} existing ${what}(s)`, {
          projectId: id,
          tasks,
          sessions,
        });
      }
      tx.remove('projects', id);
      tx.emit('project:deleted', { id });
      return { success: true as const, id };
    });
  }
}

/** The keys of `input` whose value is not undefined, so a partial update never erases a field. */
export function definedOnly<T extends object>(input: T): Partial<T> {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as Partial<T>;
}
