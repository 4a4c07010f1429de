// Where each entity lives on disk (contract §5): the storage key, shared with the CLI that reads the files.
import type { HostRecord, Message, Task } from '../../domain/types.js';
import { isId } from '../../ids.js';
import { isHostName } from '../../runner-protocol.js';
import { type Collections, idOf, type Kind } from '../engine.js';

/** Host names (contract §15.1) may hold dots, unlike IDs. */
const safeKeyPart = (kind: Kind, part: string) => (kind === 'hosts' ? isHostName(part) : isId(part));

/** The storage key of an entity (`tasks:<projectId>:<taskId>.json` is `tasks/<projectId>/<taskId>.json`). */
export function keyOf(kind: Kind, entity: Collections[Kind]): string {
  const id = idOf(kind, entity);
  const parts =
    kind === 'tasks'
      ? [kind, (entity as Task).projectId, id]
      : kind === 'messages'
        ? [kind, 'by-receiver', (entity as Message).to, id]
        : [kind, id];
  if (!parts.slice(1).every((part) => safeKeyPart(kind, part)))
    throw new Error(`Refusing to store ${kind} entity under unsafe key ${parts.join(':')}`);
  return `${parts.join(':')}.json`;
}

/** Pretty-printing beyond this size must not cost more than twice the compact form. */
const PRETTY_FREE_BYTES = 64 * 1024;

/**
 * The file's text: 2-space JSON, as people and the CLI read it (§5), with the indentation bounded: deep nesting
 * around many tiny values would make a 1 MiB request a 60 MB file, so a large entity whose indentation more than
 * doubles it is written compact. Either form is the same JSON to every reader.
 */
export function fileText(entity: unknown): string {
  const pretty = JSON.stringify(entity, null, 2);
  if (pretty.length <= PRETTY_FREE_BYTES) return `${pretty}\n`;
  const compact = JSON.stringify(entity);
  return `${pretty.length > 2 * compact.length ? compact : pretty}\n`;
}

export type { HostRecord };
