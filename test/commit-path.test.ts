import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { EventHub } from '../lib/domain/events.js';
import type { Project } from '../lib/domain/types.js';
import { createLogger } from '../lib/log.js';
import { Db } from '../lib/storage/db.js';
import { KINDS } from '../lib/storage/engine.js';
import { FileEngine } from '../lib/storage/file/engine.js';
import { type OpenAppend, openAppend } from '../lib/storage/file/lines.js';
import { entryHead, listAndStat, signatureOf } from '../lib/storage/file/listing.js';
import { inProcess, loggedEvents, tempDir } from './helpers.js';

/*
 * The file engine's commit path in one process (contract §1.7, §17, §22.1; issue 21 items 10, 11): recovery from the
 * journal after the files and log lines written after it were lost, short writes and a full disk at every step.
 */

const quiet = createLogger('error');

/**
 * Appends that write at most `max` bytes per call (or a sixteenth of a larger write: the journal's zeros are written
 * ahead 4 MiB at a time, which in 5-byte writes would be 800,000 calls per journal file, tens of seconds on a loaded
 * machine), or fail with ENOSPC while `full` says so.
 */
function flakyFiles(faults: { max?: number; full?: (path: string) => boolean }): OpenAppend {
  return async (path) => {
    const file = await openAppend(path);
    return {
      write: (buffer, offset, length, position) => {
        if (faults.full?.(path)) return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
        return file.write(buffer, offset, Math.min(length, Math.max(faults.max ?? length, length >> 4)), position);
      },
      datasync: () => file.datasync(),
      truncate: (n) => file.truncate(n),
      close: () => file.close(),
    };
  };
}

async function open(dir: string, options: { openFile?: OpenAppend; checkpointBytes?: number } = {}) {
  const engine = new FileEngine({ dir, log: quiet, ...options });
  const hub = new EventHub(quiet);
  const db = await Db.open({ engine, hub, log: quiet });
  return { db, engine };
}

/** What a crash leaves for the next start: the lock of a process that is gone (this one still runs). */
const crash = (dir: string) => unlinkSync(join(dir, '.lock'));

const project = (id: string, name: string, now: number): Project => ({
  id,
  name,
  workingDir: '',
  description: '',
  createdAt: now,
  updatedAt: now,
});
const put = (db: Db, id: string, name: string) =>
  db.mutate((tx) => {
    const p = { ...(tx.get('projects', id) ?? project(id, name, tx.now)), name };
    tx.put('projects', p);
    tx.emit(tx.get('projects', id) ? 'project:updated' : 'project:created', p);
    return p;
  });
const remove = (db: Db, id: string) =>
  db.mutate((tx) => {
    tx.remove('projects', id);
    tx.emit('project:deleted', { id });
  });
const fileOf = (dir: string, id: string) => join(dir, 'projects', `${id}.json`);
/** Bytes of journal records (the files are zero-filled ahead of them). */
const journalBytes = (dir: string) =>
  readdirSync(join(dir, 'journal')).reduce((n, f) => {
    const data = readFileSync(join(dir, 'journal', f));
    const end = data.indexOf(0);
    return n + (end === -1 ? data.length : end);
  }, 0);

describe('append files', () => {
  it('close once: a second close of a file leaves alone whatever file was opened since (its descriptor number reused)', async () => {
    const dir = tempDir();
    const first = await openAppend(join(dir, 'first'));
    await first.close();
    const second = await openAppend(join(dir, 'second'));
    await first.close();
    await second.write(Buffer.from('still open\n'), 0, 11, 0);
    await second.datasync();
    await second.close();
    expect(readFileSync(join(dir, 'second'), 'utf8')).toBe('still open\n');
  });
});

describe('recovery from the journal', () => {
  it('restores into the files and the log every committed batch whose files and log lines were lost', async () => {
    const dir = tempDir();
    const { db } = await open(dir);
    await Promise.all([put(db, 'proj_a', 'A1'), put(db, 'proj_b', 'B1'), put(db, 'proj_c', 'C1')]);
    await put(db, 'proj_a', 'A2');
    await remove(db, 'proj_c');
    const served = [...db.all('projects')].map((p) => p.name);
    const events = loggedEvents(dir);
    // Power loss: the files and log lines written after the journal (never flushed) are gone or old.
    rmSync(fileOf(dir, 'proj_b'));
    writeFileSync(fileOf(dir, 'proj_a'), JSON.stringify(project('proj_a', 'A1', 1)));
    writeFileSync(fileOf(dir, 'proj_c'), JSON.stringify(project('proj_c', 'C1', 1)));
    truncateSync(join(dir, 'events', '000000000001.jsonl'), 0);
    crash(dir);

    const { db: again, engine } = await open(dir);
    expect(engine.stats.recoveredBatches).toBeGreaterThan(0);
    expect([...again.all('projects')].map((p) => p.name).sort()).toEqual(served.sort());
    expect(JSON.parse(readFileSync(fileOf(dir, 'proj_a'), 'utf8')).name).toBe('A2');
    expect(JSON.parse(readFileSync(fileOf(dir, 'proj_b'), 'utf8')).name).toBe('B1');
    expect(existsSync(fileOf(dir, 'proj_c'))).toBe(false);
    expect(loggedEvents(dir)).toEqual(events);
    expect(again.events.latestSeq).toBe(events.length);
    await again.close();
    // A clean stop leaves nothing to replay.
    expect(journalBytes(dir)).toBe(0);
  });

  it('a journal of several MiB, zero-filled ahead of its records as it grew, is recovered whole', async () => {
    const dir = tempDir();
    const { db } = await open(dir);
    // 120 commits of about 50 KB: past the first 4 MiB of zeros, into what was filled between commits.
    const big = 'x'.repeat(50_000);
    for (let i = 0; i < 120; i++) await put(db, `proj_${i % 7}`, `${i} ${big}`);
    const served = [...db.all('projects')].map((p) => p.name.slice(0, 8)).sort();
    expect(journalBytes(dir)).toBeGreaterThan(5 * 1024 * 1024);
    crash(dir);

    const { db: again, engine } = await open(dir);
    expect(engine.stats.recoveredBatches).toBe(120);
    expect([...again.all('projects')].map((p) => p.name.slice(0, 8)).sort()).toEqual(served);
    await again.close();
  });

  it('checkpoints under steady writes leave the snapshot alone until a tenth of the entities changed', async () => {
    const dir = tempDir();
    const first = await open(dir);
    await Promise.all(Array.from({ length: 2000 }, (_, i) => put(first.db, `proj_${i}`, `P${i}`)));
    await first.db.close();
    // A file changed in the last 100 ms is not recorded in a snapshot (file times are coarse): let that pass, and
    // one more start and stop records every file.
    await new Promise((resolve) => setTimeout(resolve, 150));
    await (await open(dir)).db.close();
    const snapshot = join(dir, 'snapshot.jsonl');
    const written = statSync(snapshot);

    const { db, engine } = await open(dir, { checkpointBytes: 4096 });
    // One entity changed over and over: many checkpoints, the snapshot as it was. Writes go on while a checkpoint
    // runs, so how many writes one covers depends on the machine's speed: write until six have run.
    let last = '';
    for (let i = 0; engine.stats.checkpoints < 6 && i < 5000; i++) await put(db, 'proj_7', (last = `again ${i}`));
    // Each checkpoint ends by deleting the journal files it covers: one file left, none under way.
    await vi.waitFor(() => expect(readdirSync(join(dir, 'journal'))).toHaveLength(1), { timeout: 10_000 });
    expect(engine.stats.checkpoints).toBeGreaterThan(5);
    expect(engine.stats.snapshotsWritten).toBe(0);
    expect(statSync(snapshot).mtimeMs).toBe(written.mtimeMs);
    // A crash now: the next start takes the changed entity from its file, the others from the snapshot.
    crash(dir);
    const again = await open(dir, { checkpointBytes: 4096 });
    expect(again.db.get('projects', 'proj_7')!.name).toBe(last);
    expect(again.engine.stats.snapshot).toBe('used');
    expect(again.engine.stats.filesRead).toBeLessThan(5);
    // Once more entities changed since the last snapshot than the larger of 1,000 and a tenth of them, a checkpoint
    // writes a new one: 1,200 changed, then writes go on until the checkpoints have caught up with them.
    for (let i = 0; i < 1200; i += 20) await Promise.all(Array.from({ length: 20 }, (_, j) => put(again.db, `proj_${i + j}`, 'changed')));
    for (let i = 0; again.engine.stats.snapshotsWritten === 0 && i < 2000; i++) await put(again.db, 'proj_7', `more ${i}`);
    expect(again.engine.stats.snapshotsWritten).toBe(1);
    expect(statSync(snapshot).mtimeMs).toBeGreaterThan(written.mtimeMs);
    await again.db.close();
    // Its own time limit: some 1,300 flushes to disk (every changed file, every commit), seconds on a busy disk.
  }, 60_000);

  it('a snapshot of several MiB, some entries longer than a read: files edited by hand win, the rest comes from it', async () => {
    const dir = tempDir();
    const names = Array.from({ length: 600 }, (_, i) => `P${i} `.padEnd(i === 300 ? 1_500_000 : 2000 + ((i * 997) % 9000), 'x'));
    const first = await open(dir);
    for (let i = 0; i < names.length; i += 50)
      await Promise.all(names.slice(i, i + 50).map((name, j) => put(first.db, `proj_${i + j}`, name)));
    await first.db.close();
    // Past 100 ms every file's signature can be recorded: one more start and stop makes a snapshot of all of them.
    await new Promise((resolve) => setTimeout(resolve, 150));
    await (await open(dir)).db.close();
    expect(statSync(join(dir, 'snapshot.jsonl')).size).toBeGreaterThan(5 * 1024 * 1024);
    for (const i of [301, 599]) {
      const file = join(dir, 'projects', `proj_${i}.json`);
      writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), name: `by hand ${i}` }));
      names[i] = `by hand ${i}`;
    }
    /*
     * Read in chunks of a few bytes, the snapshot is matched line for line as in chunks of 1 MiB: 13 bytes spread each
     * entry's head (about 50 bytes) over four reads or more. Each read is a system call; 5 MiB of them take seconds on
     * a loaded machine, hence this test's own time limit.
     */
    const now = Date.now();
    const listed = (chunk?: number) => listAndStat(dir, KINDS, now, fs, sep, signatureOf, entryHead, join(dir, 'snapshot.jsonl'), chunk);
    const whole = listed();
    expect([...whole.keys].sort()).toEqual(['projects:proj_301.json', 'projects:proj_599.json']);
    expect(whole.fresh.reduce((n, x) => n + x, 0)).toBe(598);
    for (const chunk of [13, 64, 4099]) expect(listed(chunk)).toEqual(whole);
    // A file that cannot be stat-ed (gone between the listing and its stat) has no signature: it is read, not taken.
    const failingStat = ((path: string) => {
      if (path.endsWith('proj_5.json')) throw Object.assign(new Error('gone'), { code: 'ENOENT' });
      return fs.statSync(path);
    }) as typeof fs.statSync;
    const unstatted = listAndStat(
      dir,
      KINDS,
      now,
      { ...fs, statSync: failingStat },
      sep,
      signatureOf,
      entryHead,
      join(dir, 'snapshot.jsonl'),
    );
    const read = Object.fromEntries(unstatted.keys.map((key, i) => [key, unstatted.signatures[i]]));
    expect(Object.keys(read).sort()).toEqual(['projects:proj_301.json', 'projects:proj_5.json', 'projects:proj_599.json']);
    expect(read['projects:proj_5.json']).toBe('');
    const again = await open(dir);
    expect(again.engine.stats.snapshot).toBe('used');
    expect(again.engine.stats.filesRead).toBe(2);
    expect(names.map((_, i) => again.db.get('projects', `proj_${i}`)?.name)).toEqual(names);
    await again.db.close();
  }, 60_000);

  it('checkpoints bound the journal: recovery never reads more than about two journals', async () => {
    const dir = tempDir();
    const { db, engine } = await open(dir, { checkpointBytes: 4096 });
    // Until six checkpoints ran (how many writes one covers depends on the machine's speed), then 20 more.
    let i = 0;
    for (; engine.stats.checkpoints < 6 && i < 5000; i++) await put(db, `proj_${i % 20}`, `N${i}`);
    for (const end = i + 20; i < end; i++) await put(db, `proj_${i % 20}`, `N${i}`);
    await engine.checkpoint();
    expect(engine.stats.checkpoints).toBeGreaterThan(5);
    expect(journalBytes(dir)).toBeLessThan(2 * 4096 + 1024);
    crash(dir);
    const { db: again } = await open(dir);
    expect(again.get('projects', `proj_${(i - 1) % 20}`)!.name).toBe(`N${i - 1}`);
    await again.close();
  });
});

describe('short writes and a full disk (issue 21 item 10)', () => {
  it('a write that lands a few bytes at a time is continued until whole', async () => {
    const dir = tempDir();
    const { db } = await open(dir, { openFile: flakyFiles({ max: 7 }) });
    for (let i = 0; i < 5; i++) await put(db, `proj_${i}`, `Name ${i} ${'x'.repeat(100)}`);
    crash(dir);
    rmSync(join(dir, 'projects'), { recursive: true });
    mkdirSync(join(dir, 'projects'));
    const { db: again } = await open(dir);
    expect([...again.all('projects')].map((p) => p.id).sort()).toEqual(['proj_0', 'proj_1', 'proj_2', 'proj_3', 'proj_4']);
    expect(loggedEvents(dir).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    await again.close();
  });

  for (const where of ['journal', 'events'] as const) {
    it(`ENOSPC while writing the ${where === 'journal' ? 'journal record' : 'event lines after it'} fails the whole batch with 500 and changes nothing visible`, async () => {
      const dir = tempDir();
      let full = false;
      const { db } = await open(dir, { openFile: flakyFiles({ max: 5, full: (path) => full && path.includes(`/${where}/`) }) });
      await put(db, 'proj_a', 'A0');
      const before = { journal: journalBytes(dir), events: loggedEvents(dir), file: readFileSync(fileOf(dir, 'proj_a'), 'utf8') };
      full = true;
      const results = await Promise.allSettled([put(db, 'proj_a', 'A1'), put(db, 'proj_b', 'B1')]);
      for (const r of results) expect((r as PromiseRejectedResult).reason).toMatchObject({ status: 500, code: 'INTERNAL_ERROR' });
      expect([db.get('projects', 'proj_a')!.name, db.get('projects', 'proj_b')]).toEqual(['A0', undefined]);
      expect(readFileSync(fileOf(dir, 'proj_a'), 'utf8')).toBe(before.file);
      expect(existsSync(fileOf(dir, 'proj_b'))).toBe(false);
      expect(loggedEvents(dir)).toEqual(before.events);
      expect(journalBytes(dir)).toBe(before.journal);
      // Space again: the next batch works and continues the seq; after a crash nothing of the failed batch returns.
      full = false;
      await put(db, 'proj_a', 'A2');
      expect(loggedEvents(dir).at(-1)).toMatchObject({ seq: 2, data: { name: 'A2' } });
      crash(dir);
      const { db: again } = await open(dir);
      expect([...again.all('projects')].map((p) => p.name)).toEqual(['A2']);
      await again.close();
    });
  }
});

/** A real small disk: a tmpfs (needs root to mount; undefined where mounting is not allowed). */
function smallDisk(size: string): string | undefined {
  const dir = join(tempDir(), 'small');
  mkdirSync(dir);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  // Lazily: the engines that a test "crashed" still hold their files open.
  afterAll(() => execFileSync('umount', ['-l', dir]));
  return dir;
}
const tmpfs = smallDisk('1m');
const nearlyFull = tmpfs && smallDisk('8m');

describe.skipIf(!tmpfs)('on a disk that fills up (tmpfs)', () => {
  it('answers 500 once the disk is full, keeps every acknowledged change, and works again when space is freed', async () => {
    const dir = tmpfs!;
    const { db } = await open(dir);
    const acked = new Map<string, string>();
    let failures = 0;
    for (let i = 0; i < 200 && failures < 5; i++) {
      const name = `${i}-${'n'.repeat(20_000)}`;
      try {
        await put(db, `proj_${i % 40}`, name);
        acked.set(`proj_${i % 40}`, name);
      } catch (error) {
        expect(error).toMatchObject({ status: 500 });
        failures++;
      }
    }
    expect(failures).toBeGreaterThan(0);
    for (const [id, name] of acked) expect(db.get('projects', id)!.name).toBe(name);
    for (const [id, name] of acked) expect(JSON.parse(readFileSync(fileOf(dir, id), 'utf8')).name).toBe(name);
    // Free space (drop some entities' worth), then everything works again and survives a crash.
    for (const id of [...acked.keys()].slice(0, 20)) {
      await remove(db, id).catch(() => {});
    }
    crash(dir);
    const { db: again } = await open(dir);
    for (const [id, name] of acked) {
      const p = again.get('projects', id);
      if (p) expect(p.name).toBe(name);
    }
    await again.close();
  });
});

describe.skipIf(!nearlyFull)('on a nearly full disk (tmpfs)', () => {
  it('with less room left than the journal zero-fills ahead, a server starts and its writes are answered 201', async () => {
    const disk = nearlyFull!;
    // 2 MiB free: room for many small entities, not for the 4 MiB of zeros the journal writes ahead of its records.
    writeFileSync(join(disk, 'other-data'), Buffer.alloc(6 * 1024 * 1024, 1));
    const server = await inProcess({ DATA_DIR: join(disk, 'data') });
    const { body: project, status } = await server.call('POST', '/api/projects', { name: 'Small disk' });
    expect(status).toBe(201);
    for (let i = 0; i < 20; i++) {
      expect((await server.call('POST', '/api/tasks', { projectId: project.id, title: `T${i}` })).status).toBe(201);
    }
    await server.close();
    const again = await inProcess({ DATA_DIR: join(disk, 'data') });
    expect((await again.call('GET', `/api/tasks?projectId=${project.id}`)).body).toHaveLength(20);
    await again.close();
  });
});
