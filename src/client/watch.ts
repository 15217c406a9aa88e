// The watch wire format: one JSON `{type, object}` per line on a chunked HTTP response. The decoder
// is pure (bytes in, events out) so partial chunks are unit-tested; the stream reader adds
// back-pressure (it reads the socket only as fast as the consumer pulls) and cancellation.
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { ApiError, isStatus } from './apiError.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

/** One watch event. ERROR events never appear here: they are thrown as ApiError. */
export interface WatchEvent<T> {
  type: WatchEventType;
  /** For BOOKMARK, only `metadata.resourceVersion` (and annotations) are meaningful. */
  object: T;
}

const TYPES = new Set<string>(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);

/** What a decoded line is: an event, or an ERROR event's Status as an ApiError. */
export type DecodedWatchLine = { event: WatchEvent<unknown> } | { error: ApiError };

/** Splits a byte stream into watch events; chunks may cut lines (and UTF-8 characters) anywhere. */
export class WatchLineDecoder {
  private readonly utf8 = new StringDecoder('utf8');
  private pending = '';

  /** Feeds one chunk; returns the lines it completed, decoded. */
  push(chunk: Buffer | string): DecodedWatchLine[] {
    this.pending += typeof chunk === 'string' ? chunk : this.utf8.write(chunk);
    const out: DecodedWatchLine[] = [];
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      const decoded = decodeWatchLine(line);
      if (decoded) out.push(decoded);
    }
    return out;
  }

  /** The stream ended: a last line without its newline is still an event. */
  end(): DecodedWatchLine[] {
    const rest = this.pending + this.utf8.end();
    this.pending = '';
    const decoded = decodeWatchLine(rest);
    return decoded ? [decoded] : [];
  }
}

/** The parsing boundary of the watch protocol; blank lines are keep-alives and yield nothing. */
export function decodeWatchLine(line: string): DecodedWatchLine | undefined {
  const text = line.trim();
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { error: decodeError(`watch stream line is not JSON: ${text.slice(0, 200)}`, err) };
  }
  if (typeof parsed !== 'object' || parsed === null) return { error: decodeError(`watch event is not an object: ${text.slice(0, 200)}`) };
  const { type, object } = parsed as { type?: unknown; object?: unknown };
  if (typeof type !== 'string' || !TYPES.has(type) || typeof object !== 'object' || object === null) {
    return { error: decodeError(`malformed watch event: ${text.slice(0, 200)}`) };
  }
  if (type === 'ERROR') {
    if (isStatus(object)) {
      // An expired resourceVersion arrives as reason Expired (or Gone); make sure its code says 410.
      const code = object.code ?? (object.reason === 'Expired' || object.reason === 'Gone' ? 410 : 500);
      return { error: new ApiError({ ...object, code }) };
    }
    return { error: decodeError(`watch ERROR event without a Status: ${text.slice(0, 200)}`) };
  }
  return { event: { type: type as WatchEventType, object } };
}

function decodeError(message: string, cause?: unknown): ApiError {
  return new ApiError({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 500, reason: 'InternalError', message }, { cause });
}

/**
 * Reads watch events from a response body. Ends when the server ends the stream or `signal` aborts
 * (quietly: check `signal.aborted`); throws ApiError for ERROR events and bad lines.
 */
export async function* readWatchStream<T>(body: Readable, signal?: AbortSignal): AsyncGenerator<WatchEvent<T>, void, undefined> {
  const decoder = new WatchLineDecoder();
  const onAbort = () => body.destroy();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    try {
      for await (const chunk of body) {
        for (const d of decoder.push(chunk as Buffer)) {
          if ('error' in d) throw d.error;
          yield d.event as WatchEvent<T>;
        }
      }
    } catch (err) {
      if (signal?.aborted) return;
      if (err instanceof ApiError) throw err;
      // The connection broke mid-stream: that is the end of this watch; the caller re-watches.
      return;
    }
    for (const d of decoder.end()) {
      if ('error' in d) throw d.error;
      yield d.event as WatchEvent<T>;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    body.destroy();
  }
}
