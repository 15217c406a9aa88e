// Container logs as the kubelet serves them (upstream pkg/kubelet/kuberuntime/logs): reads a CRI-format
// log file (`<RFC3339Nano> <stdout|stderr> <P|F>[:tags] <content>`), joins partial (P) records into
// lines, applies PodLogOptions (tailLines, sinceSeconds/sinceTime, timestamps, limitBytes, stream)
// and, with follow, keeps reading new records until the container stops running.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import type { Writable } from 'node:stream';

export type LogStream = 'stdout' | 'stderr';

/** One record of a CRI log file. `timestamp` is nanoseconds since the epoch. */
export interface CriLogRecord {
  timestamp: bigint;
  stream: LogStream;
  partial: boolean;
  content: Buffer;
}

/** PodLogOptions as the kubelet applies them (container/previous/follow are resolved by the caller). */
export interface LogOptions {
  /** Last N lines; undefined = all. */
  tailLines?: number;
  /** Nanoseconds since the epoch: records strictly before it are skipped. */
  since?: bigint;
  timestamps?: boolean;
  /** Stop after this many bytes of output. */
  limitBytes?: number;
  /** Only one stream (PodLogOptions.stream `Stdout`/`Stderr`); undefined = both. */
  stream?: LogStream;
}

export class LogParseError extends Error {
  override readonly name = 'LogParseError';
}

/** Nanoseconds since the epoch from an RFC 3339 time with up to nine fractional digits and a zone. */
export function parseRFC3339Nano(text: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** Go's time.RFC3339Nano output in UTC: trailing zeros of the fraction dropped (upstream's `--timestamps` prefix). */
export function formatRFC3339Nano(ns: bigint): string {
  const seconds = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  const base = new Date(Number(seconds) * 1000).toISOString().replace(/\.\d+Z$/, '');
  return `${base}${frac ? `.${frac}` : ''}Z`;
}

/** Parses one line of a CRI log file (without its trailing newline). Throws LogParseError on a malformed line. */
export function parseCriLogLine(line: Buffer): CriLogRecord {
  const sp1 = line.indexOf(0x20);
  if (sp1 < 0) throw new LogParseError('timestamp is not found');
  const timestamp = parseRFC3339Nano(line.subarray(0, sp1).toString('latin1'));
  if (timestamp === undefined) throw new LogParseError(`unexpected timestamp format ${JSON.stringify(line.subarray(0, sp1).toString())}`);
  const sp2 = line.indexOf(0x20, sp1 + 1);
  if (sp2 < 0) throw new LogParseError('stream type is not found');
  const stream = line.subarray(sp1 + 1, sp2).toString('latin1');
  if (stream !== 'stdout' && stream !== 'stderr') throw new LogParseError(`unexpected stream type ${JSON.stringify(stream)}`);
  const sp3 = line.indexOf(0x20, sp2 + 1);
  // A record with empty content may end right after the tag.
  const tagEnd = sp3 < 0 ? line.length : sp3;
  const tags = line.subarray(sp2 + 1, tagEnd).toString('latin1').split(':');
  if (tags[0] !== 'P' && tags[0] !== 'F') throw new LogParseError(`unexpected log tag ${JSON.stringify(tags[0])}`);
  return { timestamp, stream, partial: tags[0] === 'P', content: sp3 < 0 ? Buffer.alloc(0) : line.subarray(sp3 + 1) };
}

/** Splits complete lines off a buffer; returns them and the unfinished rest. */
export function splitLines(buf: Buffer): { lines: Buffer[]; rest: Buffer } {
  const lines: Buffer[] = [];
  let start = 0;
  for (let nl = buf.indexOf(0x0a, start); nl >= 0; nl = buf.indexOf(0x0a, start)) {
    lines.push(buf.subarray(start, nl));
    start = nl + 1;
  }
  return { lines, rest: buf.subarray(start) };
}

/**
 * Turns records into output bytes: a P record's content continues its stream's line, an F record ends
 * it with a newline; with timestamps each line starts with the time of its first record. Returns
 * `done` once limitBytes is reached.
 */
export class LogWriter {
  private remaining: number;
  /** Per stream: true while a line started by P records is open. */
  private readonly open: Record<LogStream, boolean> = { stdout: false, stderr: false };
  /** Per stream: true while the current line is skipped (it started before `since`). */
  private readonly skipping: Record<LogStream, boolean> = { stdout: false, stderr: false };

  constructor(
    private readonly opts: LogOptions,
    private readonly write: (chunk: Buffer) => void,
  ) {
    this.remaining = opts.limitBytes ?? Infinity;
  }

  get done(): boolean {
    return this.remaining <= 0;
  }

  /** Writes one record; false once limitBytes stopped the output. */
  record(r: CriLogRecord): boolean {
    if (this.done) return false;
    if (this.opts.stream && r.stream !== this.opts.stream) return true;
    const continuing = this.open[r.stream];
    this.open[r.stream] = r.partial;
    // A line whose first record is before `since` is skipped whole, continuations included.
    if (!continuing) this.skipping[r.stream] = this.opts.since !== undefined && r.timestamp < this.opts.since;
    if (this.skipping[r.stream]) return true;
    const parts: Buffer[] = [];
    if (this.opts.timestamps && !continuing) parts.push(Buffer.from(`${formatRFC3339Nano(r.timestamp)} `));
    parts.push(r.content);
    if (!r.partial) parts.push(Buffer.from('\n'));
    let out = Buffer.concat(parts);
    if (out.length > this.remaining) out = out.subarray(0, this.remaining);
    this.remaining -= out.length;
    if (out.length > 0) this.write(out);
    return !this.done;
  }
}

/**
 * The records of the last `tailLines` lines of `lines` (complete CRI lines): a logical line is one or
 * more P records ended by an F record of the same stream. Returns the index of the first raw line to emit.
 */
export function tailStart(records: readonly CriLogRecord[], tailLines: number | undefined): number {
  if (tailLines === undefined) return 0;
  if (tailLines <= 0) return records.length;
  let count = 0;
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    if (r.partial) continue;
    count++;
    if (count > tailLines) {
      // Line i ends the line before the tail: the tail starts after it.
      return i + 1;
    }
  }
  return 0;
}

export interface FollowOptions {
  /** True while the container runs; follow stops when it turns false and the file has no more data. */
  isRunning(): Promise<boolean>;
  signal?: AbortSignal;
  /** How often the container's state is checked while no data arrives; default 1 s (upstream 5 s). */
  stateCheckMs?: number;
  onParseError?(err: LogParseError, line: Buffer): void;
}

const READ_CHUNK = 64 * 1024;

/**
 * Writes a container's log file to `out` as `kubectl logs` shows it. Without `follow` it returns at
 * the end of the file; with it, it waits for more and returns when the container is no longer running
 * (and the file is drained), when limitBytes is reached, or when `follow.signal` aborts. Honors
 * back-pressure on `out`. A file replaced under the same path (log rotation) is reopened from its start.
 */
export async function writeContainerLogs(path: string, opts: LogOptions, out: Writable, follow?: FollowOptions): Promise<void> {
  const writer = new LogWriter(opts, (chunk) => {
    if (!out.write(chunk)) pendingDrain = true;
  });
  let pendingDrain = false;
  const drain = async () => {
    if (!pendingDrain) return;
    pendingDrain = false;
    if (out.writableNeedDrain) await new Promise<void>((resolve) => {
      const done = () => {
        out.off('drain', done);
        out.off('close', done);
        resolve();
      };
      out.once('drain', done);
      out.once('close', done);
    });
  };
  const parse = (line: Buffer): CriLogRecord | undefined => {
    try {
      return parseCriLogLine(line);
    } catch (err) {
      if (err instanceof LogParseError) follow?.onParseError?.(err, line);
      else throw err;
      return undefined;
    }
  };

  let fh: FileHandle = await open(path, 'r');
  try {
    // The existing content: read whole (the kubelet rotates files at 10 MiB) to find the tail.
    const initial = await fh.readFile();
    let position = initial.length;
    const first = splitLines(initial);
    let rest = first.rest;
    const records = first.lines.map(parse).filter((r): r is CriLogRecord => r !== undefined);
    for (const r of records.slice(tailStart(records, opts.tailLines))) {
      if (!writer.record(r)) return;
    }
    await drain();
    if (!follow) return;

    let watcher: FSWatcher | undefined;
    let wake: (() => void) | undefined;
    const poke = () => wake?.();
    try {
      watcher = watch(path, { persistent: false }, poke);
      watcher.on('error', () => undefined);
    } catch {
      watcher = undefined; // polling alone still works
    }
    follow.signal?.addEventListener('abort', poke);
    out.once('close', poke);
    try {
      let lastCheck = Date.now();
      const checkEvery = follow.stateCheckMs ?? 1000;
      for (;;) {
        if (follow.signal?.aborted || out.destroyed || writer.done) return;
        const buf = Buffer.alloc(READ_CHUNK);
        const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, position);
        if (bytesRead > 0) {
          position += bytesRead;
          const split = splitLines(Buffer.concat([rest, buf.subarray(0, bytesRead)]));
          rest = split.rest;
          for (const line of split.lines) {
            const r = parse(line);
            if (r && !writer.record(r)) return;
          }
          await drain();
          continue;
        }
        // At the end of the file: rotated away? Reopen the new file under the path.
        if (await replaced(path, fh)) {
          await fh.close();
          fh = await open(path, 'r');
          position = 0;
          rest = Buffer.alloc(0);
          continue;
        }
        if (Date.now() - lastCheck >= checkEvery) {
          lastCheck = Date.now();
          if (!(await follow.isRunning())) {
            // One last read: the container may have written just before it exited.
            const tail = Buffer.alloc(READ_CHUNK);
            const { bytesRead: n } = await fh.read(tail, 0, READ_CHUNK, position);
            if (n > 0) {
              position += n;
              const split = splitLines(Buffer.concat([rest, tail.subarray(0, n)]));
              rest = split.rest;
              for (const line of split.lines) {
                const r = parse(line);
                if (r && !writer.record(r)) return;
              }
              continue;
            }
            return;
          }
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(250, checkEvery));
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = undefined;
      }
    } finally {
      watcher?.close();
      follow.signal?.removeEventListener('abort', poke);
      out.off('close', poke);
    }
  } finally {
    await fh.close();
  }
}

async function replaced(path: string, fh: FileHandle): Promise<boolean> {
  try {
    const [cur, opened] = await Promise.all([stat(path), fh.stat()]);
    return cur.ino !== opened.ino || cur.dev !== opened.dev;
  } catch {
    return false; // gone: keep the open file until the container stops
  }
}
