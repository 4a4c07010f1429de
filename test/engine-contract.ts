import { describe, expect, it } from 'vitest';
import { EventHub } from '../lib/domain/events.js';
import type { Project, Task } from '../lib/domain/types.js';
import { createLogger } from '../lib/log.js';
import { Db } from '../lib/storage/db.js';
import type { StorageEngine } from '../lib/storage/engine.js';

/**
 * The storage engine contract (DESIGN "Contract 3"): what every engine must do for the Db, whichever it is. An engine
 * joins by calling `engineContract` with a factory that opens a fresh store (`fresh`) or the same one again
 * (`reopen`, after the previous engine was closed). The file engine runs it in engine-contract.test.ts; the
 * PostgreSQL engine will run it against a throwaway cluster.
 */
export interface EngineFactory {
  /** A new, empty store; returns a key to reopen it. */
  fresh(): Promise<string>;
  /** An engine over the store `key`. */
  engine(key: string): StorageEngine;
}

const quiet = createLogger('error');
const project = (id: string, name: string): Project => ({ id, name, workingDir: '', description: '', createdAt: 1, updatedAt: 1 });
const task = (id: string, projectId: string): Task =>
  ({
    id,
    projectId,
    parentId: null,
    title: id,
    description: '',
    status: 'todo',
    priority: 'medium',
    createdAt: 2,
    updatedAt: 2,
    startedAt: null,
    completedAt: null,
    initialPrompt: '',
    sessionIds: [],
    skillIds: [],
    agentIds: [],
    dependencies: [],
  }) as Task;

export function engineContract(name: string, factory: EngineFactory): void {
  const open = async (key: string) => {
    const engine = factory.engine(key);
    const hub = new EventHub(quiet);
    const seen: any[] = [];
    const db = await Db.open({ engine, hub, log: quiet });
    await hub.subscribe({ filter: {}, readyState: 1, send: (text) => void seen.push(JSON.parse(text)) });
    return { db, engine, seen };
  };

  describe(`storage engine contract: ${name}`, () => {
    it('opens an empty store with no entities and no events', async () => {
      const { db, engine } = await open(await factory.fresh());
      expect([...db.all('projects')]).toEqual([]);
      expect([engine.events.latestSeq, engine.events.oldestSeq]).toEqual([0, 1]);
      await db.close();
    });

    it('commits a batch with its events numbered from 1, returned by commit and read back from the log', async () => {
      const { db, engine, seen } = await open(await factory.fresh());
      await db.mutate((tx) => {
        tx.put('projects', project('proj_a', 'A'));
        tx.put('tasks', task('task_1', 'proj_a'));
        tx.emit('project:created', project('proj_a', 'A'));
        tx.emit('task:created', { ...task('task_1', 'proj_a'), sessionCount: 0, blockedBy: [], ready: true } as any);
      });
      expect(seen.map((e) => [e.seq, e.type])).toEqual([
        [1, 'project:created'],
        [2, 'task:created'],
      ]);
      const read = await engine.events.read(0, 10);
      expect(read.map((e) => [e.seq, e.type, e.projectId])).toEqual([
        [1, 'project:created', 'proj_a'],
        [2, 'task:created', 'proj_a'],
      ]);
      await db.close();
    });

    it('keeps what was committed across a close and a reopen: entities, removals, and the event seq', async () => {
      const key = await factory.fresh();
      const first = await open(key);
      for (const id of ['proj_a', 'proj_b', 'proj_c']) await first.db.mutate((tx) => tx.put('projects', project(id, id)));
      await first.db.mutate((tx) => {
        tx.put('projects', { ...project('proj_a', 'renamed'), updatedAt: 5 });
        tx.remove('projects', 'proj_b');
        tx.emit('project:deleted', { id: 'proj_b' });
      });
      await first.db.close();
      const second = await open(key);
      expect([...second.db.all('projects')].map((p) => [p.id, p.name]).sort()).toEqual([
        ['proj_a', 'renamed'],
        ['proj_c', 'proj_c'],
      ]);
      expect(second.engine.events.latestSeq).toBe(1);
      await second.db.mutate((tx) => tx.emit('project:updated', project('proj_c', 'proj_c')));
      expect(second.seen.map((e) => e.seq)).toEqual([2]);
      await second.db.close();
    });

    it('a build that throws commits nothing; concurrent mutations share commits and keep their order', async () => {
      const { db, engine } = await open(await factory.fresh());
      await expect(
        db.mutate((tx) => {
          tx.put('projects', project('proj_x', 'x'));
          throw new Error('no');
        }),
      ).rejects.toThrow('no');
      await Promise.all(Array.from({ length: 20 }, (_, i) => db.mutate((tx) => tx.emit('project:updated', project('proj_a', `${i}`)))));
      expect(db.get('projects', 'proj_x')).toBeUndefined();
      expect((await engine.events.read(0, 100)).map((e) => JSON.parse(e.line).data.name)).toEqual(
        Array.from({ length: 20 }, (_, i) => `${i}`),
      );
      expect(db.stats.flushes).toBeLessThan(20);
      await db.close();
    });

    it('an empty log continued after a seq (an import) numbers the next event after it, across a reopen', async () => {
      const key = await factory.fresh();
      const first = await open(key);
      await first.engine.events.continueAfter(41);
      expect([first.engine.events.latestSeq, first.engine.events.oldestSeq]).toEqual([41, 42]);
      await first.db.close();
      const second = await open(key);
      expect([second.engine.events.latestSeq, second.engine.events.oldestSeq]).toEqual([41, 42]);
      await second.db.mutate((tx) => tx.emit('project:updated', project('proj_a', 'a')));
      expect(second.seen.map((e) => e.seq)).toEqual([42]);
      expect((await second.engine.events.read(41, 10)).map((e) => e.seq)).toEqual([42]);
      await expect(second.engine.events.continueAfter(7)).rejects.toThrow(/empty event log/);
      await second.db.close();
    });

    it('events appended with their own seq (an import) are the log: it goes on after the last of them', async () => {
      const key = await factory.fresh();
      const first = await open(key);
      const carried = [5, 6, 7].map((seq) => ({
        seq,
        type: 'project:updated',
        projectId: 'proj_a',
        line: `{"seq":${seq},"type":"project:updated","projectId":"proj_a","data":{}}`,
      }));
      await first.engine.events.append(carried);
      await first.db.close();
      const second = await open(key);
      expect([second.engine.events.oldestSeq, second.engine.events.latestSeq]).toEqual([5, 7]);
      await second.db.mutate((tx) => tx.emit('project:updated', project('proj_a', 'a')));
      expect(second.seen.map((e) => e.seq)).toEqual([8]);
      expect((await second.engine.events.read(4, 10)).map((e) => [e.seq, e.projectId])).toEqual([5, 6, 7, 8].map((seq) => [seq, 'proj_a']));
      await second.db.close();
    });

    it('checkpoints between commits without losing or repeating anything', async () => {
      const key = await factory.fresh();
      const { db, engine } = await open(key);
      await db.mutate((tx) => tx.put('projects', project('proj_a', 'one')));
      await engine.checkpoint();
      await db.mutate((tx) => tx.put('projects', project('proj_a', 'two')));
      await engine.checkpoint();
      await db.close();
      const again = await open(key);
      expect(again.db.get('projects', 'proj_a')!.name).toBe('two');
      await again.db.close();
    });
  });
}
