// Migration 1: entities, the event log, the commit feed other instances follow, and the head row that orders commits.

/**
 * Entities are `json` (not `jsonb`) so that a stored entity is read back with its keys in their order: the served
 * JSON is byte for byte what the file engine serves (§22.2). Nothing queries inside them; the Db holds them in memory.
 * `maestro_head` is one row: a commit locks it (FOR UPDATE) and takes the next commit number and `seq`s from it, so
 * commits are numbered in the order they commit, with no gap (see docs/storage.md).
 */
export default `
CREATE TABLE maestro_entities (
  kind text NOT NULL,
  id text NOT NULL,
  body json NOT NULL,
  ord bigserial NOT NULL,
  PRIMARY KEY (kind, id)
);
CREATE TABLE maestro_events (
  seq bigint PRIMARY KEY,
  type text NOT NULL,
  project_id text,
  sessions json,
  line text NOT NULL,
  logged_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE maestro_commits (
  no bigint PRIMARY KEY,
  instance text NOT NULL,
  changes json NOT NULL,
  last_seq bigint NOT NULL,
  committed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE maestro_head (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  commit_no bigint NOT NULL,
  last_seq bigint NOT NULL
);
INSERT INTO maestro_head (commit_no, last_seq) VALUES (0, 0);
`;
