// Migration 3: the mark of a `maestro-server import` that has not finished (StorageEngine.markImport).

/**
 * Set before an import's first record and cleared after its last: a database an import stopped in the middle of
 * (`kill -9`, the connection lost) holds part of an export, and no instance serves it while the mark is there.
 */
export default `
ALTER TABLE maestro_head ADD COLUMN unfinished_import text;
`;
