// SPDY/3.1 as Kubernetes uses it for exec/attach/port-forward (k8s.io/apimachinery httpstream/spdy over
// moby/spdystream): one connection, in the server role (the kubelet API) or the client role (the kubelet
// talking to a CRI runtime's streaming server). Clients open every stream (SYN_STREAM with a
// `streamtype` header); the server replies (SYN_REPLY) and exchanges DATA frames, FIN half-closes.
// Header blocks are zlib-compressed with SPDY/3's dictionary, one compression context per direction
// for the whole connection. spdystream implements no flow control (it neither sends nor honors
// WINDOW_UPDATE), so back-pressure is TCP's: reading the connection pauses while a stream's reader lags.
import { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';
import { constants as zc, createDeflate, createInflate, type Deflate, type Inflate } from 'node:zlib';

export const SPDY_VERSION = 3;

export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
} as const;

const DICTIONARY_WORDS = [
  'options', 'head', 'post', 'put', 'delete', 'trace', 'accept', 'accept-charset', 'accept-encoding', 'accept-language',
  'accept-ranges', 'age', 'allow', 'authorization', 'cache-control', 'connection', 'content-base', 'content-encoding',
  'content-language', 'content-length', 'content-location', 'content-md5', 'content-range', 'content-type', 'date', 'etag',
  'expect', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since',
  'last-modified', 'location', 'max-forwards', 'pragma', 'proxy-authenticate', 'proxy-authorization', 'range', 'referer',
  'retry-after', 'server', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'vary', 'via', 'warning',
  'www-authenticate', 'method', 'get', 'status', '200 OK', 'version', 'HTTP/1.1', 'url', 'public', 'set-cookie',
  'keep-alive', 'origin',
];
const DICTIONARY_TAIL =
  '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505' +
  '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized' +
  '403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable' +
  'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT' +
  'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,' +
  'text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';

/** The zlib dictionary of SPDY/3 header compression (draft 3, section 2.6.10.1): length-prefixed words, then a tail. */
export const SPDY3_DICTIONARY: Buffer = Buffer.concat([
  ...DICTIONARY_WORDS.map((w) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(w.length);
    return Buffer.concat([len, Buffer.from(w, 'latin1')]);
  }),
  Buffer.from(DICTIONARY_TAIL, 'latin1'),
]);

/** Header names are lower-case; a name may carry several values (NUL-separated on the wire). */
export type SpdyHeaders = Map<string, string[]>;

/** An undecoded frame as read off the wire. */
export type RawFrame =
  | { control: true; version: number; type: number; flags: number; payload: Buffer }
  | { control: false; streamId: number; flags: number; data: Buffer };

export class SpdyProtocolError extends Error {
  override readonly name = 'SpdyProtocolError';
}

export function encodeControlFrame(type: number, flags: number, payload: Buffer): Buffer {
  if (payload.length > 0xffffff) throw new SpdyProtocolError('control frame too large');
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(payload.length, 4);
  head[4] = flags & 0xff;
  return Buffer.concat([head, payload]);
}

export function encodeDataFrame(streamId: number, flags: number, data: Buffer): Buffer {
  if (data.length > 0xffffff) throw new SpdyProtocolError('data frame too large');
  const head = Buffer.alloc(8);
  head.writeUInt32BE(streamId & 0x7fffffff, 0);
  head.writeUInt32BE(data.length, 4);
  head[4] = flags & 0xff;
  return Buffer.concat([head, data]);
}

/** Splits a byte stream into frames. */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): RawFrame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const frames: RawFrame[] = [];
    while (this.buf.length >= 8) {
      const length = this.buf.readUInt32BE(4) & 0xffffff;
      if (this.buf.length < 8 + length) break;
      const flags = this.buf[4]!;
      const body = this.buf.subarray(8, 8 + length);
      if (this.buf[0]! & 0x80) {
        frames.push({ control: true, version: this.buf.readUInt16BE(0) & 0x7fff, type: this.buf.readUInt16BE(2), flags, payload: body });
      } else {
        frames.push({ control: false, streamId: this.buf.readUInt32BE(0) & 0x7fffffff, flags, data: body });
      }
      this.buf = this.buf.subarray(8 + length);
    }
    return frames;
  }
}

/** The uncompressed name/value block of SPDY/3: 32-bit count, then 32-bit length-prefixed names and values. */
export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  parts.push(u32(headers.size));
  for (const [name, values] of headers) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(values.join('\0'), 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(block: Buffer): SpdyHeaders {
  const headers: SpdyHeaders = new Map();
  let off = 0;
  const u32 = () => {
    if (off + 4 > block.length) throw new SpdyProtocolError('truncated header block');
    const n = block.readUInt32BE(off);
    off += 4;
    return n;
  };
  const str = () => {
    const len = u32();
    if (off + len > block.length) throw new SpdyProtocolError('truncated header block');
    const s = block.subarray(off, off + len).toString('utf8');
    off += len;
    return s;
  };
  const count = u32();
  for (let i = 0; i < count; i++) {
    const name = str();
    const value = str();
    if (name !== name.toLowerCase()) throw new SpdyProtocolError('header was not lowercased');
    headers.set(name, [...(headers.get(name) ?? []), ...value.split('\0')]);
  }
  return headers;
}

/** One direction's zlib context: every header block is one Z_SYNC_FLUSH'ed piece of a single stream. */
class ZlibContext {
  private queue: Promise<unknown> = Promise.resolve();
  constructor(private readonly z: Deflate | Inflate) {
    z.on('error', () => undefined); // surfaced through run()
  }

  run(input: Buffer): Promise<Buffer> {
    const next = this.queue.then(
      () =>
        new Promise<Buffer>((resolve, reject) => {
          const onError = (err: Error) => reject(new SpdyProtocolError(`header block: ${err.message}`));
          this.z.once('error', onError);
          this.z.write(input);
          this.z.flush(zc.Z_SYNC_FLUSH, () => {
            this.z.off('error', onError);
            const chunks: Buffer[] = [];
            for (let c = this.z.read() as Buffer | null; c !== null; c = this.z.read() as Buffer | null) chunks.push(c);
            resolve(Buffer.concat(chunks));
          });
        }),
    );
    this.queue = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.z.destroy();
  }
}

export class HeaderCompressor {
  private readonly ctx = new ZlibContext(createDeflate({ dictionary: SPDY3_DICTIONARY, level: zc.Z_BEST_COMPRESSION }));
  compress(headers: SpdyHeaders): Promise<Buffer> {
    return this.ctx.run(encodeHeaderBlock(headers));
  }
  close(): void {
    this.ctx.close();
  }
}

export class HeaderDecompressor {
  private readonly ctx = new ZlibContext(createInflate({ dictionary: SPDY3_DICTIONARY }));
  async decompress(block: Buffer): Promise<SpdyHeaders> {
    return decodeHeaderBlock(await this.ctx.run(block));
  }
  close(): void {
    this.ctx.close();
  }
}

/**
 * One stream of a session: readable = DATA from the peer, writable = DATA to it; end() sends FIN.
 * Emits 'remoteEnd' as soon as the peer is done sending (FIN, reset, or the connection ended), even
 * while received data is still waiting to be read.
 */
export class SpdyStream extends Duplex {
  /** The peer half-closed (FIN) or reset the stream. */
  remoteClosed = false;
  /** The peer reset the stream: nothing more may be sent on it, not even a reset. */
  wasReset = false;
  private localClosed = false;
  private wantMore?: () => void;

  constructor(
    readonly id: number,
    readonly headers: SpdyHeaders,
    private readonly session: SpdySession,
  ) {
    super({ allowHalfOpen: true });
  }

  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase())?.[0];
  }

  /** DATA from the peer; returns false when the reader is behind (the session pauses the connection). */
  receive(data: Buffer): boolean {
    if (this.remoteClosed) return true;
    return this.push(data);
  }

  remoteFin(): void {
    if (this.remoteClosed) return;
    this.remoteClosed = true;
    this.push(null);
    this.emit('remoteEnd');
    this.maybeDone();
  }

  /**
   * The peer reset the stream or the connection ended, seen from the client role: what was received
   * stays readable and then ends (destroying would drop output the runtime sent just before closing,
   * as containerd resets every stream once a command exits); writing fails from now on.
   */
  remoteAbort(): void {
    this.wasReset = true;
    this.localClosed = true;
    if (!this.remoteClosed) {
      this.remoteClosed = true;
      this.push(null);
      this.emit('remoteEnd');
    }
    this.session.forget(this.id);
  }

  /** The session calls this once the reader caught up, to resume reading the connection. */
  onWantMore(fn: () => void): void {
    this.wantMore = fn;
  }

  override _read(): void {
    const fn = this.wantMore;
    this.wantMore = undefined;
    fn?.();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.localClosed) return cb(new Error('stream closed'));
    this.session.sendData(this.id, chunk, false, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.localClosed) return cb();
    this.localClosed = true;
    this.session.sendData(this.id, Buffer.alloc(0), true, (err) => {
      this.maybeDone();
      cb(err);
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if ((!this.localClosed || !this.remoteClosed) && !this.wasReset) {
      this.localClosed = true;
      if (!this.session.closed) this.session.reset(this.id, RstStatus.CANCEL);
    }
    this.session.forget(this.id);
    cb(err);
  }

  private maybeDone(): void {
    if (this.localClosed && this.remoteClosed) this.session.forget(this.id);
  }
}

export interface SpdySessionEvents {
  stream: [SpdyStream];
  close: [];
  error: [Error];
}

/** Which end of the connection we are: the server answers streams, the client opens them. */
export type SpdyRole = 'server' | 'client';

export interface SpdySessionOptions {
  /** Default 'server'. */
  role?: SpdyRole;
  /** Client role: how long openStream waits for the SYN_REPLY (upstream waits 30 s). */
  replyTimeoutMs?: number;
}

/** The peer refused or reset a stream before replying to it, or the connection ended first. */
export class SpdyStreamRefusedError extends Error {
  override readonly name = 'SpdyStreamRefusedError';
}

interface PendingOpen {
  stream: SpdyStream;
  resolve: (s: SpdyStream) => void;
  reject: (err: Error) => void;
  /** Set once the SYN_STREAM is written. */
  timer?: NodeJS.Timeout;
}

/**
 * One SPDY/3.1 connection over `socket` (a TLS socket after the HTTP upgrade, or a WebSocket tunnel).
 * Server role: emits 'stream' for each stream the client opens, after replying to it. Client role:
 * openStream() sends SYN_STREAM and resolves on the server's SYN_REPLY; streams the server would open
 * are refused; a reset or a closed connection ends a stream's readable side instead of discarding it.
 */
export class SpdySession extends EventEmitter<SpdySessionEvents> {
  private readonly parser = new FrameParser();
  private readonly inflater = new HeaderDecompressor();
  private readonly deflater = new HeaderCompressor();
  private readonly streams = new Map<number, SpdyStream>();
  private lastStreamId = 0;
  /** Client role: the next id we open (odd, ascending); awaiting SYN_REPLY by id. */
  private nextStreamId = 1;
  private readonly opening = new Map<number, PendingOpen>();
  private processing: Promise<void> = Promise.resolve();
  /** Streams whose reader is behind; the connection is read only while this is empty. */
  private readonly lagging = new Set<number>();
  readonly role: SpdyRole;
  private readonly replyTimeoutMs: number;
  /** The peer sent GOAWAY: it takes no new streams. */
  goneAway = false;
  closed = false;

  constructor(
    private readonly socket: Duplex,
    opts: SpdySessionOptions = {},
  ) {
    super();
    this.role = opts.role ?? 'server';
    this.replyTimeoutMs = opts.replyTimeoutMs ?? 30_000;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.destroy());
    socket.on('close', () => this.destroy());
    socket.on('error', (err: Error) => this.destroy(err));
  }

  /**
   * Client role: opens a stream with `headers` (names are sent lower-case) and resolves once the server
   * replied; until then nothing may be written on it (spdystream drops DATA on unreplied streams).
   */
  async openStream(headers: Record<string, string>): Promise<SpdyStream> {
    if (this.role !== 'client') throw new SpdyProtocolError('only the client role opens streams');
    if (this.closed) throw new SpdyStreamRefusedError('connection closed');
    if (this.goneAway) throw new SpdyStreamRefusedError('the server is going away (GOAWAY)');
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const block = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), [v]]));
    const stream = new SpdyStream(id, block, this);
    this.streams.set(id, stream);
    let pending!: PendingOpen;
    const replied = new Promise<SpdyStream>((resolve, reject) => {
      pending = { stream, resolve, reject };
      this.opening.set(id, pending);
    });
    // The connection may close while the headers are compressed: the caller sees that when it awaits.
    replied.catch(() => undefined);
    // Header blocks share one compression context: compress and write in the same order.
    const compressed = await this.deflater.compress(block);
    if (this.opening.get(id) !== pending) return replied;
    const head = Buffer.alloc(10);
    head.writeUInt32BE(id, 0);
    head.writeUInt32BE(0, 4); // associated-to stream: none
    head.writeUInt16BE(0, 8); // priority 0, slot 0
    this.write(encodeControlFrame(FrameType.SYN_STREAM, 0, Buffer.concat([head, compressed])));
    pending.timer = setTimeout(() => {
      if (this.opening.get(id) !== pending) return;
      this.opening.delete(id);
      stream.remoteAbort();
      this.reset(id, RstStatus.CANCEL);
      pending.reject(new SpdyStreamRefusedError(`no reply to stream ${id} (${headers.streamType ?? headers.streamtype ?? ''}) within ${this.replyTimeoutMs} ms`));
    }, this.replyTimeoutMs);
    return replied;
  }

  /** Ends the session: GOAWAY, then closes the connection. */
  goAway(): void {
    if (this.closed) return;
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(this.lastStreamId, 0);
    payload.writeUInt32BE(0, 4);
    this.write(encodeControlFrame(FrameType.GOAWAY, 0, payload));
    this.socket.end();
  }

  destroy(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.opening.values()) {
      clearTimeout(p.timer);
      p.reject(new SpdyStreamRefusedError(err ? `connection failed: ${err.message}` : 'connection closed before the stream was answered'));
    }
    this.opening.clear();
    for (const s of [...this.streams.values()]) {
      if (this.role === 'client') s.remoteAbort();
      else s.destroy();
    }
    this.streams.clear();
    this.inflater.close();
    this.deflater.close();
    this.socket.destroy();
    if (err) this.emit('error', err);
    this.emit('close');
  }

  sendData(streamId: number, data: Buffer, fin: boolean, cb: (err?: Error | null) => void): void {
    if (this.closed) return cb(new Error('connection closed'));
    // Keep frames modest so one stream does not monopolise the connection.
    const MAX = 32 * 1024;
    for (let off = 0; off < data.length; off += MAX) {
      const piece = data.subarray(off, off + MAX);
      const last = off + MAX >= data.length;
      this.write(encodeDataFrame(streamId, last && fin ? FLAG_FIN : 0, piece), last ? cb : undefined);
    }
    if (data.length === 0) this.write(encodeDataFrame(streamId, fin ? FLAG_FIN : 0, data), cb);
  }

  reset(streamId: number, status: number): void {
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(streamId & 0x7fffffff, 0);
    payload.writeUInt32BE(status, 4);
    this.write(encodeControlFrame(FrameType.RST_STREAM, 0, payload));
  }

  forget(streamId: number): void {
    this.streams.delete(streamId);
  }

  private write(frame: Buffer, cb?: (err?: Error | null) => void): void {
    if (this.closed || this.socket.destroyed) {
      cb?.(new Error('connection closed'));
      return;
    }
    // Control frames with compressed headers are written in order through `processing`; DATA goes straight.
    const ok = this.socket.write(frame);
    if (!cb) return;
    if (ok) cb();
    else this.socket.once('drain', () => cb());
  }

  private onData(chunk: Buffer): void {
    let frames: RawFrame[];
    try {
      frames = this.parser.push(chunk);
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    for (const f of frames) {
      this.processing = this.processing.then(() => this.handle(f)).catch((err: unknown) => this.destroy(err as Error));
    }
  }

  private pause(stream: SpdyStream): void {
    if (this.lagging.has(stream.id)) return;
    this.lagging.add(stream.id);
    this.socket.pause();
    const resume = () => {
      stream.off('end', resume);
      stream.off('close', resume);
      if (!this.lagging.delete(stream.id)) return;
      if (this.lagging.size === 0 && !this.closed) this.socket.resume();
    };
    stream.onWantMore(resume);
    // A stream that ends (its reader got everything: no more _read calls) or goes away while behind
    // must not keep the connection paused.
    stream.once('end', resume);
    stream.once('close', resume);
  }

  private async handle(f: RawFrame): Promise<void> {
    if (this.closed) return;
    if (!f.control) {
      const stream = this.streams.get(f.streamId);
      if (!stream) {
        if (this.role === 'server' && f.streamId > this.lastStreamId) this.reset(f.streamId, RstStatus.INVALID_STREAM);
        return;
      }
      if (f.data.length > 0 && !stream.receive(f.data)) this.pause(stream);
      if (f.flags & FLAG_FIN) stream.remoteFin();
      return;
    }
    if (f.version !== SPDY_VERSION) {
      throw new SpdyProtocolError(`unsupported SPDY version ${f.version}`);
    }
    const p = f.payload;
    switch (f.type) {
      case FrameType.SYN_STREAM: {
        if (p.length < 10) throw new SpdyProtocolError('short SYN_STREAM');
        const id = p.readUInt32BE(0) & 0x7fffffff;
        const headers = await this.inflater.decompress(p.subarray(10));
        if (this.role === 'client') {
          // Runtimes' streaming servers never open streams towards the client.
          this.reset(id, RstStatus.REFUSED_STREAM);
          return;
        }
        if (id === 0 || id % 2 === 0 || id <= this.lastStreamId) {
          this.reset(id, RstStatus.PROTOCOL_ERROR);
          return;
        }
        this.lastStreamId = id;
        const stream = new SpdyStream(id, headers, this);
        this.streams.set(id, stream);
        // Reply before anything else goes out on the stream: spdystream drops DATA on unreplied streams.
        const block = await this.deflater.compress(new Map());
        const reply = Buffer.alloc(4);
        reply.writeUInt32BE(id);
        this.write(encodeControlFrame(FrameType.SYN_REPLY, 0, Buffer.concat([reply, block])));
        if (f.flags & FLAG_FIN) stream.remoteFin();
        this.emit('stream', stream);
        return;
      }
      case FrameType.RST_STREAM: {
        const id = p.readUInt32BE(0) & 0x7fffffff;
        const opening = this.opening.get(id);
        if (opening) {
          this.opening.delete(id);
          clearTimeout(opening.timer);
          opening.stream.remoteAbort();
          opening.reject(new SpdyStreamRefusedError(`the server reset stream ${id} (status ${p.length >= 8 ? p.readUInt32BE(4) : 0})`));
          return;
        }
        const stream = this.streams.get(id);
        if (stream && this.role === 'client') {
          stream.remoteAbort();
        } else if (stream) {
          stream.remoteClosed = true;
          stream.wasReset = true;
          this.streams.delete(id);
          stream.destroy();
        }
        return;
      }
      case FrameType.HEADERS: {
        // Headers after the start carry nothing Kubernetes uses; keep the compression context in step.
        await this.inflater.decompress(p.subarray(4));
        const id = p.readUInt32BE(0) & 0x7fffffff;
        if (f.flags & FLAG_FIN) this.streams.get(id)?.remoteFin();
        return;
      }
      case FrameType.SYN_REPLY: {
        await this.inflater.decompress(p.subarray(4));
        const id = p.readUInt32BE(0) & 0x7fffffff;
        const opening = this.opening.get(id);
        if (!opening) return;
        this.opening.delete(id);
        clearTimeout(opening.timer);
        if (f.flags & FLAG_FIN) opening.stream.remoteFin();
        opening.resolve(opening.stream);
        return;
      }
      case FrameType.PING: {
        // Echo the peer's pings: the client's ids are odd, the server's even. We send none ourselves.
        const peerParity = this.role === 'server' ? 1 : 0;
        if (p.length >= 4 && p.readUInt32BE(0) % 2 === peerParity) this.write(encodeControlFrame(FrameType.PING, 0, p.subarray(0, 4)));
        return;
      }
      case FrameType.GOAWAY:
        // A server sends GOAWAY as it finishes (containerd: after the exit status); what it already
        // sent is still arriving, and it closes the connection itself.
        if (this.role === 'client') this.goneAway = true;
        else this.socket.end();
        return;
      case FrameType.SETTINGS:
      case FrameType.WINDOW_UPDATE:
        return;
      default:
        return; // unknown control frames are ignored, as the spec asks
    }
  }
}
