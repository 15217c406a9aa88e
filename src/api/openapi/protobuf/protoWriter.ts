// The write side of the Protocol Buffers wire format, only as much as the OpenAPI v2 document
// needs: varints, doubles, strings and nested messages. Fields come out in the order written, so
// callers write them by field number to get the canonical layout Go's proto.Marshal produces.

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;

/** Strings this short and ASCII-only go into the pending bytes instead of a chunk of their own. */
const INLINE_STRING_MAX = 48;

/**
 * Builds one top-level message. Scalars equal to their proto3 default (0, false, "") are not
 * written, as proto3 cannot tell them from absent; repeated strings and nested messages always are,
 * because there presence carries meaning (an empty `properties` is not a missing one).
 */
export class ProtoWriter {
  /** Finished parts of the message being written, in order. */
  #chunks: Uint8Array[] = [];
  /** Bytes written since the last chunk: tags, varints, short strings. */
  #pending: number[] = [];
  /** Total length of #chunks. */
  #chunked = 0;

  string(field: number, value: string | undefined): void {
    if (!value) return;
    this.#stringValue(field, value);
  }

  /** Every element, empty strings included: a repeated field keeps its positions. */
  strings(field: number, values: readonly string[]): void {
    for (const v of values) this.#stringValue(field, v);
  }

  bool(field: number, value: boolean | undefined): void {
    if (!value) return;
    this.#tag(field, WIRE_VARINT);
    this.#pending.push(1);
  }

  /** A bool member of a oneof, which has presence: false is written too. */
  oneofBool(field: number, value: boolean): void {
    this.#tag(field, WIRE_VARINT);
    this.#pending.push(value ? 1 : 0);
  }

  /** An int64; fractions are truncated. */
  int64(field: number, value: number | undefined): void {
    if (value === undefined || !Number.isFinite(value) || Math.trunc(value) === 0) return;
    this.#tag(field, WIRE_VARINT);
    const n = Math.trunc(value);
    if (n > 0 && n <= Number.MAX_SAFE_INTEGER) return this.#varint(n);
    // Negative (two's complement, always ten bytes) or beyond 2^53: go through BigInt.
    let big = BigInt.asUintN(64, BigInt(n));
    while (big > 0x7fn) {
      this.#pending.push(Number(big & 0x7fn) | 0x80);
      big >>= 7n;
    }
    this.#pending.push(Number(big));
  }

  double(field: number, value: number | undefined): void {
    if (value === undefined || value === 0) return;
    this.#tag(field, WIRE_FIXED64);
    const bytes = Buffer.allocUnsafe(8);
    bytes.writeDoubleLE(value);
    for (const b of bytes) this.#pending.push(b);
  }

  /** A nested message whose fields `write` writes into this writer; written even when empty. */
  message(field: number, write: (w: ProtoWriter) => void): void {
    const outer = { chunks: this.#chunks, pending: this.#pending, chunked: this.#chunked };
    this.#chunks = [];
    this.#pending = [];
    this.#chunked = 0;
    write(this);
    this.#flush();
    const body = this.#chunks;
    const bodyLength = this.#chunked;
    this.#chunks = outer.chunks;
    this.#pending = outer.pending;
    this.#chunked = outer.chunked;
    this.#tag(field, WIRE_LENGTH_DELIMITED);
    this.#varint(bodyLength);
    this.#flush();
    for (const c of body) this.#chunks.push(c);
    this.#chunked += bodyLength;
  }

  /** The encoded message. The writer is spent afterwards. */
  finish(): Buffer {
    this.#flush();
    return Buffer.concat(this.#chunks, this.#chunked);
  }

  #stringValue(field: number, value: string): void {
    this.#tag(field, WIRE_LENGTH_DELIMITED);
    if (value.length <= INLINE_STRING_MAX && isAscii(value)) {
      this.#varint(value.length);
      for (let i = 0; i < value.length; i++) this.#pending.push(value.charCodeAt(i));
      return;
    }
    const bytes = Buffer.from(value, 'utf8');
    this.#varint(bytes.length);
    this.#flush();
    this.#chunks.push(bytes);
    this.#chunked += bytes.length;
  }

  #tag(field: number, wireType: number): void {
    this.#varint(field * 8 + wireType);
  }

  /** A non-negative integer up to 2^53. */
  #varint(n: number): void {
    while (n > 0x7f) {
      this.#pending.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    this.#pending.push(n);
  }

  #flush(): void {
    if (this.#pending.length === 0) return;
    this.#chunks.push(Uint8Array.from(this.#pending));
    this.#chunked += this.#pending.length;
    this.#pending = [];
  }
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}
