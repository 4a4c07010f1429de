import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createStorage, type Driver, type Storage } from 'unstorage';
import { describe, expect, it } from 'vitest';
import { EventHub, type Subscriber } from '../lib/domain/events.js';
import type { Project } from '../lib/domain/types.js';
import { type ApiError, ApiError as ApiErrorClass } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { Db } from '../lib/storage/db.js';
import { type LoggedEvent, SEGMENT_EVENTS } from '../lib/storage/event-log.js';
import { durableFsDriver, type StagedWrites, settleAll, stageFiles } from '../lib/storage/file/driver.js';
import { FileEngine } from '../lib/storage/file/engine.js';
import { FileEventLog } from '../lib/storage/file/event-log.js';
import { tempDir } from './helpers.js';

/*
 * The storage engine (contract §1.7, §17): the durable driver against unstorage's driver contract, the event log's
 * files, and the group-committing Db over storage that fails or stalls on chosen keys.
 */

const quiet = createLogger('error');

describe('the durable filesystem driver', () => {
  const storage = () => createStorage({ driver: durableFsDriver({ base: tempDir() }) });

  it('sets, gets, lists and removes keys as files under its base', async () => {
    const s = storage();
    await s.setItem('projects:p1.json', '{"a":1}');
    await s.setItems([
      { key: 'tasks:p1:t1.json', value: 'one' },
      { key: 'tasks:p1:t2.json', value: 'two' },
    ]);
    expect(await s.getItem('projects:p1.json')).toEqual({ a: 1 });
    expect(String(await s.getItemRaw('tasks:p1:t2.json'))).toBe('two');
    expect(await s.hasItem('tasks:p1:t1.json')).toBe(true);
    expect((await s.getKeys()).sort()).toEqual(['projects:p1.json', 'tasks:p1:t1.json', 'tasks:p1:t2.json']);
    await s.removeItem('tasks:p1:t1.json');
    expect(await s.hasItem('tasks:p1:t1.json')).toBe(false);
    expect(await s.getItem('nothing:here.json')).toBeNull();
  });

  it('refuses keys that would leave its base', async () => {
    const s = storage();
    for (const key of ['..:escape.json', 'a:..:..:b.json', '.:x.json']) {
      await expect(s.setItem(key, 'x'), key).rejects.toThrow();
    }
  });

  it('stages files unseen, publishes them by rename, and leaves no temporary file when one fails', async () => {
    const base = tempDir();
    mkdirSync(join(base, 'a'));
    writeFileSync(join(base, 'a', 'x.json'), 'old');
    const staged = await stageFiles([{ path: join(base, 'a', 'x.json'), data: 'new' }]);
    expect(readFileSync(join(base, 'a', 'x.json'), 'utf8')).toBe('old');
    await staged.publish();
    expect(readFileSync(join(base, 'a', 'x.json'), 'utf8')).toBe('new');
    expect(readdirSync(join(base, 'a'))).toEqual(['x.json']);
    // A file where a directory should be: that write fails after the other's temporary file is written.
    writeFileSync(join(base, 'blocker'), '');
    const failing = [
      { path: join(base, 'a', 'x.json'), data: 'lost' },
      { path: join(base, 'blocker', 'y.json'), data: 'never' },
    ];
    await expect(stageFiles(failing)).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(readdirSync(join(base, 'a'))).toEqual(['x.json']);
    expect(readFileSync(join(base, 'a', 'x.json'), 'utf8')).toBe('new');
    // Discarded instead of published: nothing changes.
    await (await stageFiles([{ path: join(base, 'a', 'x.json'), data: 'dropped' }])).discard();
    expect(readdirSync(join(base, 'a'))).toEqual(['x.json']);
    expect(readFileSync(join(base, 'a', 'x.json'), 'utf8')).toBe('new');
  });

  it('replaces a file atomically: a concurrent reader sees the old or the new content, never a mix', async () => {
    const base = tempDir();
    const s = createStorage({ driver: durableFsDriver({ base }) });
    const versions = Array.from({ length: 30 }, (_, i) => JSON.stringify({ version: i, pad: String(i).repeat(50_000) }));
    await s.setItem('k.json', versions[0]!);
    let reads = 0;
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const text = readFileSync(join(base, 'k.json'), 'utf8');
        expect(versions).toContain(text);
        reads++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (const version of versions.slice(1)) await s.setItem('k.json', version);
    writing = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    // No temporary file is left behind.
    expect(readdirSync(base)).toEqual(['k.json']);
  });
});

describe('the event log files', () => {
  const event = (seq: number, projectId = 'p1'): LoggedEvent => ({
    seq,
    type: 'task:updated',
    projectId,
    line: JSON.stringify({ type: 'task:updated', event: 'task:updated', data: { id: `t${seq}` }, timestamp: 1, seq, projectId }),
  });
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => event(from + i));

  it('appends, rolls a new segment every 10,000 events, and continues after reopening', async () => {
    const dir = tempDir();
    const log = FileEventLog.open(dir);
    await log.append(range(1, SEGMENT_EVENTS - 1));
    await log.append(range(SEGMENT_EVENTS, SEGMENT_EVENTS + 2));
    await log.close();
    expect(readdirSync(dir).sort()).toEqual(['000000000001.jsonl', '000000010001.jsonl']);
    expect(readFileSync(join(dir, '000000010001.jsonl'), 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
    const again = FileEventLog.open(dir);
    expect([again.oldestSeq, again.latestSeq]).toEqual([1, SEGMENT_EVENTS + 2]);
    expect((await again.read(9_998, 5)).map((e) => e.seq)).toEqual([9_999, 10_000, 10_001, 10_002]);
    // An old position is read back from the files, not only from the in-memory tail.
    expect((await again.read(0, 3)).map((e) => e.seq)).toEqual([1, 2, 3]);
    await again.append([event(SEGMENT_EVENTS + 3)]);
    expect(again.latestSeq).toBe(SEGMENT_EVENTS + 3);
    await again.close();
  });

  it('cuts off a torn last line at open, so the next append starts a whole line', async () => {
    const dir = tempDir();
    const log = FileEventLog.open(dir);
    await log.append(range(1, 3));
    await log.close();
    const path = join(dir, '000000000001.jsonl');
    writeFileSync(path, `${readFileSync(path, 'utf8')}{"type":"task:upd`);
    const reopened = FileEventLog.open(dir);
    expect(reopened.latestSeq).toBe(3);
    await reopened.append([event(4)]);
    await reopened.close();
    const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
    expect(lines.map((l) => JSON.parse(l).seq)).toEqual([1, 2, 3, 4]);
  });

  it('filters by what the reader keeps and truncates back to a seq', async () => {
    const log = FileEventLog.open(tempDir());
    await log.append([event(1, 'a'), event(2, 'b'), event(3, 'a')]);
    expect((await log.read(0, 10, (e) => e.projectId === 'a')).map((e) => e.seq)).toEqual([1, 3]);
    await log.truncate(1);
    expect(log.latestSeq).toBe(1);
    expect((await log.read(0, 10)).map((e) => e.seq)).toEqual([1]);
    await log.close();
  });

  it('prunes whole old segments beyond the newest events kept, never the newest segment', async () => {
    const dir = tempDir();
    const log = FileEventLog.open(dir);
    await log.append(range(1, SEGMENT_EVENTS * 2 + 5));
    log.prune(Date.now() + 1_000, 0, 100);
    // The first segment goes; the second holds some of the newest 100 events, so it stays.
    expect(readdirSync(dir).sort()).toEqual(['000000010001.jsonl', '000000020001.jsonl']);
    expect(log.oldestSeq).toBe(SEGMENT_EVENTS + 1);
    // Young segments stay whatever their count.
    const young = FileEventLog.open(tempDir());
    await young.append(range(1, SEGMENT_EVENTS + 1));
    young.prune(Date.now(), 86_400_000, 0);
    expect(young.oldestSeq).toBe(1);
    await Promise.all([log.close(), young.close()]);
  });
});

/**
 * A driver over the durable one that fails or stalls the writes of chosen keys: as their files are written, or (`at:
 * 'stage'`) as the commit stages its temporary files, before anything is seen.
 */
function faultyStorage(base: string) {
  const inner = durableFsDriver({ base });
  const faults = new Map<string, { delayMs?: number; error?: string; once?: boolean; at?: 'stage' }>();
  const maybeFail = async (key: string, at?: 'stage') => {
    const [prefix, fault] = [...faults].find(([p, f]) => key.startsWith(p) && f.at === at) ?? [];
    if (fault?.once) faults.delete(prefix!);
    if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault?.error) throw Object.assign(new Error(fault.error), { code: 'EIO' });
  };
  const driver: Driver & { stageItems(items: { key: string; value: string }[]): Promise<StagedWrites> } = {
    ...inner,
    name: 'faulty',
    async setItems(items: { key: string; value: string }[]) {
      // Each item on its own, like a driver without batches: some land, some fail.
      const results = await Promise.allSettled(
        items.map(async (item) => {
          await maybeFail(item.key);
          await inner.setItem!(item.key, item.value, {});
        }),
      );
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    },
    async stageItems(items: { key: string; value: string }[]) {
      await settleAll(items.map((item) => maybeFail(item.key, 'stage')));
      return { publish: async () => driver.setItems!(items, {}), discard: async () => {} };
    },
    async removeItem(key: string) {
      await maybeFail(key);
      await inner.removeItem!(key, {});
    },
  };
  return { storage: createStorage({ driver }), faults };
}

async function openDb(storage: Storage, dir: string, onFatal?: (error: unknown) => void) {
  const hub = new EventHub(quiet);
  const engine = new FileEngine({ dir, storage, log: quiet });
  const db = await Db.open({ engine, hub, log: quiet, onFatal });
  const events = engine.events;
  const seen: string[] = [];
  const client: Subscriber = { filter: {}, readyState: 1, send: (text) => void seen.push(text) };
  await hub.subscribe(client);
  return { db, hub, events, seen };
}

const project = (id: string, name: string, now = 1): Project => ({
  id,
  name,
  workingDir: '',
  description: '',
  createdAt: now,
  updatedAt: now,
});

const createProject = (db: Db, id: string, name = id) =>
  db.mutate((tx) => {
    const p = project(id, name, tx.now);
    tx.put('projects', p);
    tx.emit('project:created', p);
    return p;
  });

const rename = (db: Db, id: string, name: string) =>
  db.mutate((tx) => {
    const p = { ...tx.get('projects', id)!, name };
    tx.put('projects', p);
    tx.emit('project:updated', p);
    return p;
  });

const fileOf = (dir: string, id: string) => join(dir, 'projects', `${id}.json`);
const stored = (dir: string, id: string) => (existsSync(fileOf(dir, id)) ? JSON.parse(readFileSync(fileOf(dir, id), 'utf8')) : undefined);

describe('group commit', () => {
  it('runs concurrent mutations in order, each seeing the one before, in fewer flushes than mutations', async () => {
    const dir = tempDir();
    const { db, seen } = await openDb(createStorage({ driver: durableFsDriver({ base: dir }) }), dir);
    await createProject(db, 'p1', '');
    const append = (digit: number) =>
      db.mutate((tx) => {
        const p = { ...tx.get('projects', 'p1')!, name: `${tx.get('projects', 'p1')!.name}${digit}` };
        tx.put('projects', p);
        tx.emit('project:updated', p);
        return p.name;
      });
    // One mutation starts a flush; the 39 that arrive while it runs share the next one.
    const first = append(0);
    await new Promise((r) => setImmediate(r));
    const results = await Promise.all([first, ...Array.from({ length: 39 }, (_, i) => append((i + 1) % 10))]);
    // Every append saw every earlier one: the final name has all 40 digits.
    expect(db.get('projects', 'p1')!.name).toHaveLength(40);
    expect(stored(dir, 'p1').name).toBe(db.get('projects', 'p1')!.name);
    expect(new Set(results).size).toBe(40);
    expect(db.stats.largestBatch).toBeGreaterThan(1);
    expect(db.stats.flushes).toBeLessThan(db.stats.mutations);
    // Events went out in seq order, one per change.
    const seqs = seen.map((t) => JSON.parse(t).seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
  });

  it('refuses a build that returns a promise, changing nothing', async () => {
    const dir = tempDir();
    const { db } = await openDb(createStorage({ driver: durableFsDriver({ base: dir }) }), dir);
    await expect(db.mutate(async (tx) => tx.put('projects', project('p1', 'x')))).rejects.toThrow(/synchronous/);
    expect(db.get('projects', 'p1')).toBeUndefined();
    expect(stored(dir, 'p1')).toBeUndefined();
  });

  it('a failed flush answers every mutation of its batch with 500, applies none, and puts the files back', async () => {
    const dir = tempDir();
    const { storage, faults } = faultyStorage(dir);
    const { db, seen, events } = await openDb(storage, dir);
    await createProject(db, 'a', 'A0');
    await createProject(db, 'b', 'B0');
    const before = { seq: events.latestSeq, seen: seen.length };
    faults.set('projects:b', { error: 'disk on fire', once: true });
    const batch = await Promise.allSettled([rename(db, 'a', 'A1'), rename(db, 'b', 'B1'), createProject(db, 'c')]);
    for (const result of batch) {
      expect(result.status).toBe('rejected');
      const error = (result as PromiseRejectedResult).reason as ApiError;
      expect(error.toBody()).toEqual({ error: true, code: 'INTERNAL_ERROR', message: 'Internal server error' });
    }
    // Nothing visible changed: memory, files, events, the log.
    expect([db.get('projects', 'a')!.name, db.get('projects', 'b')!.name, db.get('projects', 'c')]).toEqual(['A0', 'B0', undefined]);
    expect([stored(dir, 'a').name, stored(dir, 'b').name, stored(dir, 'c')]).toEqual(['A0', 'B0', undefined]);
    expect(seen.length).toBe(before.seen);
    expect(events.latestSeq).toBe(before.seq);
    // The next batch works and continues the seq.
    faults.clear();
    await rename(db, 'a', 'A2');
    expect(stored(dir, 'a').name).toBe('A2');
    expect(JSON.parse(seen.at(-1)!).seq).toBe(before.seq + 1);
  });

  it('a refusal that rests on a change of its own batch waits for the batch, and fails with it: it never tells of a change that was not made', async () => {
    const dir = tempDir();
    const { storage, faults } = faultyStorage(dir);
    const { db } = await openDb(storage, dir);
    // The second build of the batch is refused because of the first one's change (as a claim refused for an earlier one).
    const refuseIfTaken = () =>
      db.mutate((tx) => {
        if (tx.get('projects', 'taken')) throw new ApiErrorClass(409, 'TASK_CLAIMED', 'Taken already');
        tx.put('projects', project('other', 'x'));
      });
    faults.set('projects:taken', { error: 'disk on fire', once: true });
    const answers = await Promise.allSettled([createProject(db, 'taken'), refuseIfTaken()]);
    const codes = answers.map((a) => ((a as PromiseRejectedResult).reason as ApiError).code);
    expect(codes).toEqual(['INTERNAL_ERROR', 'INTERNAL_ERROR']);
    expect(db.get('projects', 'taken')).toBeUndefined();
    // With the first change made, the same refusal is answered once that change is committed.
    const [made, refused] = await Promise.allSettled([createProject(db, 'taken'), refuseIfTaken()]);
    expect(made.status).toBe('fulfilled');
    expect(((refused as PromiseRejectedResult).reason as ApiError).code).toBe('TASK_CLAIMED');
  });

  it('a batch whose temporary files fail is refused before anything is seen, and its record is not replayed', async () => {
    const dir = tempDir();
    const { storage, faults } = faultyStorage(dir);
    const first = await openDb(storage, dir);
    await createProject(first.db, 'a', 'A0');
    const before = { seq: first.events.latestSeq, seen: first.seen.length };
    faults.set('projects:b', { error: 'no space left', at: 'stage', once: true });
    const batch = await Promise.allSettled([rename(first.db, 'a', 'A1'), createProject(first.db, 'b')]);
    expect(batch.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect([stored(dir, 'a').name, stored(dir, 'b')]).toEqual(['A0', undefined]);
    expect([first.seen.length, first.events.latestSeq]).toEqual([before.seen, before.seq]);
    await rename(first.db, 'a', 'A2');
    // A stop without its checkpoint (as after kill -9): the next start replays the journal, and the refused batch is not in it.
    await first.events.close();
    rmSync(join(dir, '.lock'), { force: true });
    const second = await openDb(createStorage({ driver: durableFsDriver({ base: dir }) }), dir);
    expect([second.db.get('projects', 'a')!.name, second.db.get('projects', 'b')]).toEqual(['A2', undefined]);
    expect((await second.events.read(0, 100)).map((e) => JSON.parse(e.line).data.name)).toEqual(['A0', 'A2']);
    await second.db.close();
  });

  it('no write of a failed batch lands after a later batch', async () => {
    const dir = tempDir();
    const { storage, faults } = faultyStorage(dir);
    const { db } = await openDb(storage, dir);
    await createProject(db, 'a', 'A0');
    await createProject(db, 'b', 'B0');
    // 'a' stalls and then lands; 'b' fails at once. The batch fails, but only after 'a' settled.
    faults.set('projects:a', { delayMs: 150 });
    faults.set('projects:b', { error: 'boom', once: true });
    const failed = Promise.allSettled([rename(db, 'a', 'A-stale'), rename(db, 'b', 'B-stale')]);
    await new Promise((r) => setTimeout(r, 10));
    faults.clear();
    const later = rename(db, 'a', 'A-later');
    expect((await failed).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await later;
    await new Promise((r) => setTimeout(r, 200));
    expect(stored(dir, 'a').name).toBe('A-later');
    expect(db.get('projects', 'a')!.name).toBe('A-later');
  });

  it('stops (fail-stop) when a failed batch cannot be undone, and refuses every later mutation', async () => {
    const dir = tempDir();
    const { storage, faults } = faultyStorage(dir);
    let fatal: unknown;
    const { db } = await openDb(storage, dir, (error) => (fatal = error));
    await createProject(db, 'a', 'A0');
    faults.set('projects:a', { error: 'disk gone' });
    await expect(rename(db, 'a', 'A1')).rejects.toMatchObject({ code: 'INTERNAL_ERROR' });
    expect(fatal).toBeInstanceOf(Error);
    faults.clear();
    await expect(rename(db, 'a', 'A2')).rejects.toMatchObject({ code: 'INTERNAL_ERROR' });
    expect(db.get('projects', 'a')!.name).toBe('A0');
  });
});

describe('the event log streams its segments (issue 21 items 11, 14)', () => {
  const big = (seq: number, size: number): LoggedEvent => ({
    seq,
    type: 'task:updated',
    line: JSON.stringify({
      type: 'task:updated',
      event: 'task:updated',
      data: { id: `t${seq}`, pad: 'x'.repeat(size) },
      timestamp: 1,
      seq,
    }),
  });

  it('reads back lines longer than its read chunk, and finds the last seq of a segment from its end', async () => {
    const dir = tempDir();
    const log = FileEventLog.open(dir);
    await log.append([big(1, 10), big(2, 3 * 1024 * 1024), big(3, 10)]);
    await log.close();
    const again = FileEventLog.open(dir);
    expect(again.latestSeq).toBe(3);
    const read = await again.read(0, 10);
    expect(read.map((e) => [e.seq, e.line.length])).toEqual([
      [1, big(1, 10).line.length],
      [2, big(2, 3 * 1024 * 1024).line.length],
      [3, big(3, 10).line.length],
    ]);
    await again.close();
  });

  it('drops the oldest segments once the log holds more than its byte cap, however young', async () => {
    const dir = tempDir();
    const log = FileEventLog.open(dir);
    for (let seq = 1; seq <= SEGMENT_EVENTS * 3; seq += 1000) {
      await log.append(
        Array.from({ length: 1000 }, (_, i) => big(seq + i, 100)),
        { sync: false },
      );
    }
    const segment = log.bytes / 3;
    log.prune(Date.now(), 86_400_000, 0, segment * 1.5);
    expect(readdirSync(dir).sort()).toEqual(['000000020001.jsonl']);
    expect(log.oldestSeq).toBe(SEGMENT_EVENTS * 2 + 1);
    await log.close();
  });

  it('a replay that cannot read the log sends resync instead of skipping events', async () => {
    const dir = tempDir();
    const log = FileEventLog.open(dir);
    await log.append(Array.from({ length: SEGMENT_EVENTS + 5 }, (_, i) => big(i + 1, 10)));
    await log.close();
    const reopened = FileEventLog.open(dir);
    // The first segment can no longer be read (a directory where the file was: EISDIR).
    rmSync(join(dir, '000000000001.jsonl'));
    mkdirSync(join(dir, '000000000001.jsonl'));
    const hub = new EventHub(quiet);
    hub.attach(reopened);
    const seen: any[] = [];
    await hub.subscribe({ filter: {}, readyState: 1, send: (text) => void seen.push(JSON.parse(text)) }, 0);
    expect(seen.at(-1)).toEqual({ type: 'resync', oldestSeq: 1, latestSeq: SEGMENT_EVENTS + 5 });
    await reopened.close();
  });
});
