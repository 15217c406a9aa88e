// Lets etcdctl 3.4's maintenance calls through Node's HTTP/2 server: it rewrites an invalid
// :authority (the endpoint URL itself) in the client's HEADERS frames to host:port.

import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_HEADERS = 0x1;
const FRAME_CONTINUATION = 0x9;
const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
/** The smallest SETTINGS_MAX_FRAME_SIZE a peer may have; re-framed header blocks stay within it. */
const MAX_FRAME_PAYLOAD = 16_384;
/** Characters RFC 3986 allows in an authority (nghttp2 checks the same set). */
const VALID_AUTHORITY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]*$/;

/**
 * etcdctl 3.4 dials some maintenance calls (endpoint status, endpoint hashkv, defrag, snapshot,
 * move-leader) with the endpoint URL itself as the HTTP/2 :authority, e.g. "http://127.0.0.1:2379".
 * Go's HTTP/2 server lets that pass; nghttp2 inside Node resets the stream (PROTOCOL_ERROR). This
 * Duplex sits between the socket and grpc-js: it reads the client's frames, and in HEADERS blocks
 * replaces an invalid :authority by its host:port ("localhost" if none is left). Everything else
 * passes through untouched; a connection that does not start with the HTTP/2 preface is not parsed.
 * The new value is never longer than the old one, so HPACK dynamic tables stay compatible: the
 * decoder may then keep an entry longer than the encoder, never the other way round.
 */
export class AuthorityFilter extends Duplex {
  private pending: Buffer = Buffer.alloc(0);
  private mode: 'preface' | 'frames' | 'raw' = 'preface';
  /** Payload bytes of a non-header frame still to pass through. */
  private passing = 0;
  private block: { streamId: number; flags: number; priority: Buffer | undefined; parts: Buffer[] } | undefined;

  constructor(private readonly socket: Socket) {
    super();
    socket.on('data', (d: Buffer) => {
      let out: Buffer;
      try {
        out = this.transformChunk(d);
      } catch {
        // Unparseable HPACK: hand the rest over unchanged and let the HTTP/2 server judge it.
        out = Buffer.concat([this.pending, d]);
        this.pending = Buffer.alloc(0);
        this.mode = 'raw';
      }
      if (out.length > 0 && !this.push(out)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.socket.write(chunk, callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.socket.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.socket.destroy();
    callback(err);
  }

  private transformChunk(d: Buffer): Buffer {
    if (this.mode === 'raw') return d;
    this.pending = this.pending.length > 0 ? Buffer.concat([this.pending, d]) : d;
    const out: Buffer[] = [];
    if (this.mode === 'preface') {
      const n = Math.min(this.pending.length, H2_PREFACE.length);
      if (!this.pending.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) {
        this.mode = 'raw';
        const all = this.pending;
        this.pending = Buffer.alloc(0);
        return all;
      }
      if (n < H2_PREFACE.length) return Buffer.alloc(0);
      out.push(this.pending.subarray(0, n));
      this.pending = this.pending.subarray(n);
      this.mode = 'frames';
    }
    while (this.pending.length > 0) {
      if (this.passing > 0) {
        const n = Math.min(this.passing, this.pending.length);
        out.push(this.pending.subarray(0, n));
        this.pending = this.pending.subarray(n);
        this.passing -= n;
        continue;
      }
      if (this.pending.length < 9) break;
      const length = this.pending.readUIntBE(0, 3);
      const type = this.pending[3]!;
      if (type !== FRAME_HEADERS && type !== FRAME_CONTINUATION) {
        out.push(this.pending.subarray(0, 9));
        this.pending = this.pending.subarray(9);
        this.passing = length;
        continue;
      }
      if (this.pending.length < 9 + length) break;
      const frame = this.pending.subarray(0, 9 + length);
      this.pending = this.pending.subarray(9 + length);
      out.push(...this.headerFrame(frame));
    }
    if (this.pending.length > 0) this.pending = Buffer.from(this.pending); // do not pin the socket's chunk
    return Buffer.concat(out);
  }

  /** Collects a header block over HEADERS and CONTINUATION frames; returns frames to forward. */
  private headerFrame(frame: Buffer): Buffer[] {
    const type = frame[3]!;
    const flags = frame[4]!;
    const streamId = frame.readUInt32BE(5) & 0x7fff_ffff;
    const payload = frame.subarray(9);
    if (type === FRAME_HEADERS) {
      let p = 0;
      let pad = 0;
      if (flags & FLAG_PADDED) {
        pad = payload[0] ?? 0;
        p = 1;
      }
      let priority: Buffer | undefined;
      if (flags & FLAG_PRIORITY) {
        priority = payload.subarray(p, p + 5);
        p += 5;
      }
      if (p + pad > payload.length) return [frame]; // malformed: let the HTTP/2 server say so
      this.block = { streamId, flags, priority, parts: [payload.subarray(p, payload.length - pad)] };
    } else {
      if (!this.block || this.block.streamId !== streamId) return [frame];
      this.block.parts.push(payload);
    }
    if (!(flags & FLAG_END_HEADERS)) return [];
    const block = this.block;
    this.block = undefined;
    const headerBlock = Buffer.concat(block.parts);
    return headerFrames(block.streamId, block.flags, block.priority, rewriteAuthority(headerBlock) ?? headerBlock);
  }
}

/** A header block as one HEADERS frame plus CONTINUATION frames as needed (padding dropped). */
function headerFrames(streamId: number, flags: number, priority: Buffer | undefined, block: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  let offset = 0;
  let first = true;
  do {
    const room = MAX_FRAME_PAYLOAD - (first && priority ? 5 : 0);
    const chunk = block.subarray(offset, offset + room);
    offset += chunk.length;
    const last = offset >= block.length;
    const head = Buffer.alloc(9);
    const body = first && priority ? Buffer.concat([priority, chunk]) : chunk;
    head.writeUIntBE(body.length, 0, 3);
    head[3] = first ? FRAME_HEADERS : FRAME_CONTINUATION;
    head[4] = (first ? flags & (FLAG_END_STREAM | FLAG_PRIORITY) : 0) | (last ? FLAG_END_HEADERS : 0);
    head.writeUInt32BE(streamId, 5);
    frames.push(head, body);
    first = false;
  } while (offset < block.length);
  return frames;
}

/** Reads an HPACK integer with an N-bit prefix at `pos`; returns it and the position after it. */
function hpackInt(buf: Buffer, pos: number, prefixBits: number): [number, number] {
  const max = (1 << prefixBits) - 1;
  const first = buf[pos];
  if (first === undefined) throw new Error('truncated HPACK integer');
  let value = first & max;
  let p = pos + 1;
  if (value < max) return [value, p];
  for (let shift = 0; ; shift += 7) {
    const byte = buf[p++];
    if (byte === undefined || shift > 28) throw new Error('bad HPACK integer');
    value += (byte & 0x7f) * 2 ** shift;
    if (!(byte & 0x80)) return [value, p];
  }
}

function hpackRawString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  const len: number[] = [];
  if (bytes.length < 127) len.push(bytes.length);
  else {
    len.push(127);
    let rest = bytes.length - 127;
    while (rest >= 128) {
      len.push((rest & 0x7f) | 0x80);
      rest = Math.floor(rest / 128);
    }
    len.push(rest);
  }
  return Buffer.concat([Buffer.from(len), bytes]);
}

/**
 * Returns the header block with invalid :authority values fixed, or undefined when there is
 * nothing to fix. Throws on a malformed block. Only literals naming :authority by its static
 * table index (1) are looked at, which is how every HPACK encoder we know spells it.
 */
export function rewriteAuthority(block: Buffer): Buffer | undefined {
  const out: Buffer[] = [];
  let copied = 0;
  let i = 0;
  while (i < block.length) {
    const b0 = block[i]!;
    if (b0 & 0x80) {
      i = hpackInt(block, i, 7)[1]; // indexed field
      continue;
    }
    if ((b0 & 0xe0) === 0x20) {
      i = hpackInt(block, i, 5)[1]; // dynamic table size update
      continue;
    }
    const [nameIndex, afterName] = hpackInt(block, i, (b0 & 0xc0) === 0x40 ? 6 : 4);
    let p = afterName;
    if (nameIndex === 0) {
      const [nameLength, nameStart] = hpackInt(block, p, 7);
      p = nameStart + nameLength;
    }
    const valueAt = p;
    const huffman = ((block[p] ?? 0) & 0x80) !== 0;
    const [valueLength, valueStart] = hpackInt(block, p, 7);
    const end = valueStart + valueLength;
    if (end > block.length) throw new Error('truncated HPACK string');
    if (nameIndex === 1) {
      const raw = block.subarray(valueStart, end);
      const value = huffman ? huffmanDecode(raw) : raw.toString('latin1');
      const fixed = value === undefined ? undefined : fixAuthority(value);
      if (value !== undefined && fixed !== undefined && fixed !== value) {
        out.push(block.subarray(copied, valueAt), hpackRawString(fixed));
        copied = end;
      }
    }
    i = end;
  }
  if (copied === 0) return undefined;
  out.push(block.subarray(copied));
  return Buffer.concat(out);
}

/** "http://127.0.0.1:2379" → "127.0.0.1:2379"; a valid authority is returned unchanged. Never longer. */
export function fixAuthority(value: string): string {
  if (VALID_AUTHORITY.test(value)) return value;
  let v = value.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//, '');
  v = v.split('/')[0] ?? '';
  if (v === '' || !VALID_AUTHORITY.test(v)) v = 'localhost';
  return v.length <= value.length ? v : v.slice(0, Math.max(1, value.length));
}

/**
 * The HPACK Huffman code (RFC 7541 appendix B) is canonical: codes are handed out in order of
 * length, then symbol. So the symbols of each length determine it. Only the symbols up to 15 bits
 * are listed (all printable ASCII except backslash, plus NUL), which covers every valid
 * authority; a longer code makes huffmanDecode() give up (undefined), leaving the value alone.
 */
const HUFFMAN_SYMBOLS: Array<[bits: number, symbols: string]> = [
  [5, '012aceiost'],
  [6, ' %-./3456789=A_bdfghlmnpru'],
  [7, ':BCDEFGHIJKLMNOPQRSTUVWYjkqvwxyz'],
  [8, '&*,;XZ'],
  [10, '!"()?'],
  [11, "'+|"],
  [12, '#>'],
  [13, '\u0000$@[]~'],
  [14, '^}'],
  [15, '<`{'],
];

/** code → symbol, per code length. */
const HUFFMAN_DECODE: Map<number, Map<number, string>> = (() => {
  const table = new Map<number, Map<number, string>>();
  let code = 0;
  let bits = HUFFMAN_SYMBOLS[0]![0];
  for (const [length, symbols] of HUFFMAN_SYMBOLS) {
    code <<= length - bits;
    bits = length;
    const byCode = new Map<number, string>();
    for (const s of symbols) byCode.set(code++, s);
    table.set(length, byCode);
  }
  return table;
})();

/** Decodes an HPACK Huffman string; undefined if it holds a symbol longer than 15 bits or bad padding. */
export function huffmanDecode(data: Buffer): string | undefined {
  let out = '';
  let code = 0;
  let bits = 0;
  for (const byte of data) {
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((byte >> bit) & 1);
      bits++;
      const symbol = HUFFMAN_DECODE.get(bits)?.get(code);
      if (symbol !== undefined) {
        out += symbol;
        code = 0;
        bits = 0;
      } else if (bits >= 15) {
        return undefined;
      }
    }
  }
  // Padding: fewer than 8 bits, all ones (a prefix of EOS).
  if (bits >= 8 || code !== (1 << bits) - 1) return undefined;
  return out;
}
