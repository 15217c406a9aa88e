// The SQLite revision log's schema. One append-only table holds every version of every key,
// kine-style; a row's id packs (revision, sub-revision) so that the writes of one transaction
// share a revision, as in etcd, while the table stays a plain rowid table ordered by revision.

export const SCHEMA_VERSION = 1;

/** Writes one transaction may make: etcd's default --max-txn-ops is 128, we allow more. */
export const SUB_REVISIONS = 1024;

export const rowId = (revision: number, sub: number): number => revision * SUB_REVISIONS + sub;
export const revisionOf = (id: number): number => Math.floor(id / SUB_REVISIONS);
/** The first row id of `revision`; rows of revisions below it have smaller ids. */
export const firstRowOf = (revision: number): number => revision * SUB_REVISIONS;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS log (
  id         INTEGER PRIMARY KEY, -- revision * ${SUB_REVISIONS} + sub-revision
  key        BLOB    NOT NULL,
  create_rev INTEGER NOT NULL,    -- revision the key was (re)created at
  version    INTEGER NOT NULL,    -- writes since (re)creation; 0 on tombstones
  lease      INTEGER NOT NULL,
  deleted    INTEGER NOT NULL,    -- 1 = tombstone row written by a delete
  prev_id    INTEGER NOT NULL,    -- the row this one supersedes, 0 if none
  value      BLOB
);
CREATE INDEX IF NOT EXISTS log_key_id ON log (key, id);
CREATE TABLE IF NOT EXISTS lease (
  id  INTEGER PRIMARY KEY,
  ttl INTEGER NOT NULL
);
`;
