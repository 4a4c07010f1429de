// Loading the entity files at startup: from the snapshot where a file is unchanged, from the file where it is not.
import { readFileSync } from 'node:fs';
import { sep } from 'node:path';
import { KINDS, type Kind, type LoadedEntity } from '../engine.js';
import { normalizeLoaded, trustedLoaded } from '../migrate.js';
import { keyOf } from './layout.js';
import type { Listing } from './listing.js';
import type { SnapshotEntries } from './snapshot.js';

/** A file as loaded, before stray copies are told apart (`home`: known to be where the entity belongs). */
interface Candidate extends LoadedEntity {
  key: string;
  order: number;
  home: boolean;
}

export interface LoadedFiles {
  entities: LoadedEntity[];
  /** kind/id → files that hold a copy of the entity but are not where it belongs (removed at its next save). */
  strays: Map<string, string[]>;
  /** Every file read (the snapshot had no current entry for it) → its signature ('' when too recent to trust). */
  read: Map<string, string>;
}

/**
 * Takes each snapshot entry that the listing found fresh (its file unchanged since), and reads and parses every other
 * entity file: a file edited while the server was down, or written after the snapshot, wins over it. A file that is
 * not an entity is skipped with a warning (§5).
 */
export function loadFiles(
  base: string,
  listing: Listing,
  snapshot: SnapshotEntries | undefined,
  warn: (message: string) => void,
): LoadedFiles {
  const out: LoadedFiles = { entities: [], strays: new Map(), read: new Map() };
  const loaded = new Map<Kind, Candidate[]>(KINDS.map((kind) => [kind, []]));
  // The snapshot holds entities as this version of the server keeps them (its header's version changes when that
  // form does), each written from its own home file: only a file needs checking, filling in and placing.
  snapshot?.entities.forEach((entity, i) => {
    if (listing.fresh[i] !== 1) return;
    const kind = snapshot.kinds[i]!;
    loaded.get(kind)!.push({ kind, key: '', ...trustedLoaded(kind, entity), home: true });
  });
  listing.keys.forEach((key, i) => {
    const kind = key.slice(0, key.indexOf(':')) as Kind;
    const path = key.replaceAll(':', '/');
    out.read.set(key, listing.signatures[i]!);
    try {
      const result = normalizeLoaded(kind, JSON.parse(readFileSync(base + sep + key.split(':').join(sep), 'utf8')));
      if (result) loaded.get(kind)?.push({ kind, key, ...result, home: false });
      else warn(`Skipping ${path}: not a valid ${kind} entity`);
    } catch (error) {
      warn(`Skipping ${path}: ${(error as Error).message}`);
    }
  });
  for (const kind of KINDS) for (const entity of placed(kind, loaded.get(kind)!, out.strays)) out.entities.push(entity);
  return out;
}

/**
 * The file where an entity belongs wins over stray copies (a legacy task file, a misnamed file), and every stray
 * copy is remembered so that the entity's next save or delete removes it: a crash between writing the new file and
 * unlinking the old one can leave both (§5). Entities come out in creation order.
 */
function placed(kind: Kind, loaded: Candidate[], strays: Map<string, string[]>): LoadedEntity[] {
  const home = (entry: Candidate) => {
    if (entry.home) return true;
    try {
      return entry.key === keyOf(kind, entry.entity);
    } catch {
      return false;
    }
  };
  let unique = loaded;
  // Every file taken from the snapshot is its entity's only home (the snapshot has one path per entity): stray
  // copies are looked for only when some file was read.
  if (!loaded.every((entry) => entry.home)) {
    const byId = new Map<string, Candidate>();
    for (const entry of loaded) {
      const atHome = home(entry);
      if (!atHome) strays.set(`${kind}/${entry.id}`, [...(strays.get(`${kind}/${entry.id}`) ?? []), entry.key]);
      const held = byId.get(entry.id);
      if (!held || (atHome && !home(held))) byId.set(entry.id, entry);
    }
    unique = [...byId.values()];
  }
  return unique.sort((a, b) => a.order - b.order || (a.id < b.id ? -1 : 1));
}
