// Recovery after a crash: the journal's batches, replayed into the entity files and the event log before serving.

import type { Kind, LoadedEntity } from '../engine.js';
import { parseLine } from '../event-log.js';
import { normalizeLoaded } from '../migrate.js';
import type { FileEventLog } from './event-log.js';
import type { JournalRecord } from './journal.js';
import { fileText, keyOf } from './layout.js';

interface Recovering {
  readonly events: FileEventLog;
  writeDurably(writes: { key: string; value: string }[], removals: string[]): Promise<void>;
}

/**
 * Applies the journal's batches, in order, over the entities loaded from the files, writes the final state of every
 * entity they touched (flushed), and appends the events the log lacks (a crash can lose unflushed log lines, and a
 * torn line was cut at open). Replaying a batch whose files were already written is harmless: it writes the same.
 * Returns the entities as they now are. The work is bounded by the journal, which a checkpoint keeps short.
 */
export async function recover(engine: Recovering, loaded: LoadedEntity[], records: readonly JournalRecord[]): Promise<LoadedEntity[]> {
  const byKey = new Map<string, LoadedEntity>();
  for (const entity of loaded) byKey.set(`${entity.kind}/${entity.id}`, entity);
  const before = new Map<string, LoadedEntity | undefined>();
  const lines: string[] = [];
  for (const record of records) {
    for (const [kind, id, entity] of record.c) {
      const key = `${kind}/${id}`;
      if (!before.has(key)) before.set(key, byKey.get(key));
      if (entity === null) byKey.delete(key);
      else {
        const normal = normalizeLoaded(kind as Kind, entity);
        if (normal) byKey.set(key, { kind: kind as Kind, id, entity: normal.entity, migrated: false });
      }
    }
    for (const event of record.e) if (event.seq > engine.events.latestSeq) lines.push(JSON.stringify(event));
  }
  const writes: { key: string; value: string }[] = [];
  const removals: string[] = [];
  for (const [key, old] of before) {
    const now = byKey.get(key);
    const target = now && keyOf(now.kind, now.entity);
    if (target) writes.push({ key: target, value: fileText(now.entity) });
    if (old && keyOf(old.kind, old.entity) !== target) removals.push(keyOf(old.kind, old.entity));
  }
  await engine.writeDurably(writes, removals);
  if (lines.length) await engine.events.append(lines.map(parseLine));
  // New entities go last, in the order their batches created them; the rest keep their place.
  return [...byKey.values()];
}
