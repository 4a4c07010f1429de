// Task dependencies: checks (same project, no cycle) and the edges both ways (§18.2).
import { ApiError, taskNotFound } from '../../errors.js';
import type { Tx } from '../../storage/db.js';
import type { TaskGraph } from '../graph.js';
import { type Task, taskView } from '../types.js';
import { emitTask, unique } from './links.js';

/*
 * Task dependencies (contract §18.1): validated on write, kept consistent on delete, and fanned out to dependents
 * when a blocker completes. Everything runs inside a mutation and reads through the transaction; the graph index
 * only names candidates.
 */

const cycleError = (message: string, cycle: string[]) =>
  new ApiError(400, 'VALIDATION_ERROR', message, { issues: [{ path: 'dependencies', message }], cycle });

/**
 * Checks `deps` for task `id` (undefined for a task being created) of `projectId`, first failure wins: each names
 * an existing task (404), of the same project (400), not the task itself and closing no cycle (400 with
 * `details.cycle`). Returns them without duplicates.
 */
export function checkDependencies(tx: Tx, id: string | undefined, projectId: string, deps: readonly string[]): string[] {
  const list = unique(deps);
  for (const dep of list) {
    const task = tx.get('tasks', dep);
    if (!task) throw taskNotFound(dep);
    if (task.projectId !== projectId) {
      const message = `Task ${dep} belongs to another project`;
      throw new ApiError(400, 'VALIDATION_ERROR', message, {
        issues: [{ path: 'dependencies', message }],
        taskId: dep,
        projectId: task.projectId,
      });
    }
  }
  if (id === undefined) return list;
  if (list.includes(id)) throw cycleError('A task cannot depend on itself', [id, id]);
  const cycle = findCycle(tx, id, list);
  if (cycle) throw cycleError(`Dependencies would form a cycle: ${cycle.join(' → ')}`, cycle);
  return list;
}

/**
 * A path from `id` through `deps` back to `id` (first repeated last), or undefined. Iterative depth-first walk
 * over the dependencies as the transaction sees them, so long chains cannot overflow the stack.
 */
function findCycle(tx: Tx, id: string, deps: readonly string[]): string[] | undefined {
  const from = new Map<string, string | null>();
  const stack: string[] = [];
  for (const dep of deps) if (!from.has(dep)) from.set(dep, null), stack.push(dep);
  while (stack.length) {
    const node = stack.pop()!;
    for (const next of tx.get('tasks', node)?.dependencies ?? []) {
      if (next === id) {
        const chain = [node];
        for (let p = from.get(node); p; p = from.get(p)) chain.push(p);
        return [id, ...chain.reverse(), id];
      }
      if (!from.has(next)) from.set(next, node), stack.push(next);
    }
  }
  return undefined;
}

/** The tasks listing `id` among their dependencies: the index's candidates, checked through the transaction. */
export const dependentsOf = (tx: Tx, graph: TaskGraph, id: string): Task[] =>
  [...graph.dependents(id)].map((d) => tx.get('tasks', d)).filter((t): t is Task => t?.dependencies.includes(id) === true);

/**
 * After `before` became `after` (already put): when it completed or reopened, every dependent's `blockedBy`
 * changed, so each gets `task:updated`; one that became ready also gets `task:ready`.
 */
export function announceDependents(tx: Tx, graph: TaskGraph, before: Task, after: Task): void {
  const [was, is] = [before.status === 'completed', after.status === 'completed'];
  if (was === is) return;
  const lookup = (id: string) => tx.get('tasks', id);
  for (const dependent of dependentsOf(tx, graph, after.id)) {
    emitTask(tx, 'updated', dependent);
    const view = taskView(dependent, lookup);
    if (is && view.ready) tx.emit('task:ready', view);
  }
}

/** Deleting task `id`: removes it from every dependent's list, each with `task:updated`. */
export function dropDependency(tx: Tx, graph: TaskGraph, id: string): void {
  for (const dependent of dependentsOf(tx, graph, id)) {
    const updated = { ...dependent, dependencies: dependent.dependencies.filter((d) => d !== id), updatedAt: tx.now };
    tx.put('tasks', updated);
    emitTask(tx, 'updated', updated);
  }
}
