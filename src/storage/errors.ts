// Typed storage failures. Expected outcomes of a write (conflict, exists, not found) are
// returned values of the Store; these errors are for everything else, each with a stable code.

export type StorageErrorCode =
  /** The requested revision was compacted away; carries `compactRevision`. The API server answers 410 Gone. */
  | 'TooOldRevision'
  /** The requested revision is newer than the store's current revision. */
  | 'FutureRevision'
  /** A key that is not a clean absolute path (empty segment, `.`/`..`, NUL, too long). */
  | 'InvalidKey'
  /** A value (or a whole request) over the 1.5 MiB limit etcd has. */
  | 'ValueTooLarge'
  /** A continue token that this store did not issue or that does not fit the prefix. */
  | 'InvalidContinue'
  /** An etcd-style request that is malformed (duplicate key in a txn, bad range, …). */
  | 'InvalidRequest'
  /** The lease named by a request does not exist. */
  | 'LeaseNotFound'
  /** A put with ignore_value/ignore_lease on a key that does not exist. */
  | 'KeyNotFound'
  /** The store was closed; nothing more is served. */
  | 'Closed'
  /** The database file is not a database or is damaged. */
  | 'Corrupt'
  /** Another process holds the database. */
  | 'Locked'
  /** The backend cannot be reached right now (etcd down, connection lost). */
  | 'Unavailable'
  /** A watcher fell too far behind and was cut off; the caller re-lists. */
  | 'WatchCanceled'
  /** Anything else the backend reported. */
  | 'Internal';

export class StorageError extends Error {
  override readonly name = 'StorageError';
  readonly code: StorageErrorCode;
  /** For TooOldRevision: the revision history now starts after. */
  readonly compactRevision: number | undefined;
  /** For TooOldRevision/FutureRevision: the store's current revision when it failed. */
  readonly currentRevision: number | undefined;

  constructor(
    code: StorageErrorCode,
    message: string,
    extra: { compactRevision?: number; currentRevision?: number; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.code = code;
    this.compactRevision = extra.compactRevision;
    this.currentRevision = extra.currentRevision;
  }
}

export function isStorageError(err: unknown, code?: StorageErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code);
}

export function tooOldRevision(requested: number, compactRevision: number): StorageError {
  return new StorageError(
    'TooOldRevision',
    `required revision ${requested} has been compacted (history starts after ${compactRevision})`,
    { compactRevision },
  );
}

export function futureRevision(requested: number, current: number): StorageError {
  return new StorageError('FutureRevision', `required revision ${requested} is a future revision (current ${current})`, {
    currentRevision: current,
  });
}

/** etcd's default --max-request-bytes: the largest value (and request) we accept. */
export const MAX_VALUE_BYTES = 1.5 * 1024 * 1024;

export function valueTooLarge(key: string, size: number): StorageError {
  return new StorageError(
    'ValueTooLarge',
    `value for ${key} is ${size} bytes; the limit is ${MAX_VALUE_BYTES} bytes (1.5 MiB)`,
  );
}
