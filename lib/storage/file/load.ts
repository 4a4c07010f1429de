// Loading the entity files at startup: from the snapshot where a file is unchanged, from the file where it is not.
import { readFileSync } from 'node:fs';
import { sep } from 'node:path';
import { KINDS, type Kind, type LoadedEntity } from '../engine.js';
import { type Loaded, normalizeLoaded, trustedLoaded } from '../migrate.js';
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
  /** key → signature of the file as loaded (what the next snapshot records for it). */
  signatures: Map<string, string>;
  /** Files read because the snapshot had no current entry for them. */
  read: number;
}

/**
 * Lists every entity file and takes each from the snapshot when the file's signature is the one recorded there
 * (unchanged since), else reads and parses the file: a file edited while the server was down, or written after the
 * snapshot, wins over it. A file that is not an entity is skipped with a warning (§5).
 */
export function loadFiles(
  base: string,
  listing: Listing,
  snapshot: SnapshotEntries | undefined,
  warn: (message: string) => void,
): LoadedFiles {
  const out: LoadedFiles = { entities: [], strays: new Map(), signatures: new Map(), read: 0 };
  const byKind = new Map<string, number[]>(KINDS.map((kind) => [kind, []]));
  listing.keys.forEach((key, i) => byKind.get(key.slice(0, key.indexOf(':')))?.push(i));
  for (const kind of KINDS) {
    const loaded: Candidate[] = [];
    for (const i of byKind.get(kind)!) {
      const key = listing.keys[i]!;
      const signature = listing.signatures[i]!;
      const path = key.replaceAll(':', '/');
      try {
        const cached = snapshot?.get(path);
        const hit = signature !== '' && cached?.signature === signature;
        // The snapshot holds entities as this version of the server keeps them (its header's version changes when
        // that form does): only a file needs checking and filling in.
        let result: Loaded | undefined;
        if (hit) result = trustedLoaded(kind, cached.entity);
        else {
          result = normalizeLoaded(kind, JSON.parse(readFileSync(base + sep + key.split(':').join(sep), 'utf8')));
          out.read++;
        }
        if (!result) {
          warn(`Skipping ${path}: not a valid ${kind} entity`);
          continue;
        }
        if (signature) out.signatures.set(key, signature);
        // A snapshot entry was written from the entity's own home file: no need to check where it belongs.
        loaded.push({ kind, key, id: result.id, entity: result.entity, order: result.order, migrated: result.migrated, home: hit });
      } catch (error) {
        warn(`Skipping ${path}: ${(error as Error).message}`);
      }
    }
    for (const entity of placed(kind, loaded, out.strays)) out.entities.push(entity);
  }
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
