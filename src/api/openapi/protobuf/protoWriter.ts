// The write side of the Protocol Buffers wire format, only as much as the OpenAPI v2 document
// needs: varints, doubles, strings and nested messages. Fields come out in the order written, so
// callers write them by field number to get the canonical layout Go's proto.Marshal produces.

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;

/** Bytes are written into slabs this large; the output is one concatenation of views into them. */
const SLAB_SIZE = 256 * 1024;
/** Room for a tag and a length varint. */
const PREFIX_MAX = 20;

/**
 * Builds one top-level message. Scalars equal to their proto3 default (0, false, "") are not
 * written, as proto3 cannot tell them from absent; repeated strings and nested messages always are,
 * because there presence carries meaning (an empty `properties` is not a missing one).
 *
 * A nested message's length is known only after its body, so the body goes to the slab first and
 * its tag and length after it, into a slot of the chunk list reserved before the body: nothing is
 * copied until finish().
 */
export class ProtoWriter {
  /** Views into the slabs, in output order. */
  #chunks: Buffer[] = [];
  /** Total length of #chunks. */
  #length = 0;
  #slab = Buffer.allocUnsafe(SLAB_SIZE);
  /** Next free byte of the slab. */
  #pos = 0;
  /** Start of the slab bytes not yet in #chunks. */
  #mark = 0;

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
    this.oneofBool(field, true);
  }

  /** A bool member of a oneof, which has presence: false is written too. */
  oneofBool(field: number, value: boolean): void {
    this.#reserve(PREFIX_MAX);
    this.#tag(field, WIRE_VARINT);
    this.#slab[this.#pos++] = value ? 1 : 0;
  }

  /** An int64; fractions are truncated. */
  int64(field: number, value: number | undefined): void {
    if (value === undefined || !Number.isFinite(value) || Math.trunc(value) === 0) return;
    this.#reserve(PREFIX_MAX);
    this.#tag(field, WIRE_VARINT);
    const n = Math.trunc(value);
    if (n > 0 && n <= Number.MAX_SAFE_INTEGER) return this.#varint(n);
    // Negative (two's complement, always ten bytes) or beyond 2^53: go through BigInt.
    let big = BigInt.asUintN(64, BigInt(n));
    while (big > 0x7fn) {
      this.#slab[this.#pos++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    this.#slab[this.#pos++] = Number(big);
  }

  double(field: number, value: number | undefined): void {
    if (value === undefined || value === 0) return;
    this.#reserve(PREFIX_MAX);
    this.#tag(field, WIRE_FIXED64);
    this.#pos = this.#slab.writeDoubleLE(value, this.#pos);
  }

  /** A nested message whose fields `write` writes into this writer; written even when empty. */
  message(field: number, write: (w: ProtoWriter) => void): void {
    this.#flush();
    const slot = this.#chunks.length;
    this.#chunks.push(EMPTY);
    const start = this.#length;
    write(this);
    this.#flush();
    const bodyLength = this.#length - start;
    this.#reserve(PREFIX_MAX);
    this.#tag(field, WIRE_LENGTH_DELIMITED);
    this.#varint(bodyLength);
    const prefix = this.#slab.subarray(this.#mark, this.#pos);
    this.#mark = this.#pos;
    this.#chunks[slot] = prefix;
    this.#length += prefix.length;
  }

  /** The encoded message. The writer is spent afterwards. */
  finish(): Buffer {
    this.#flush();
    return Buffer.concat(this.#chunks, this.#length);
  }

  #stringValue(field: number, value: string): void {
    const byteLength = Buffer.byteLength(value, 'utf8');
    this.#reserve(PREFIX_MAX + byteLength);
    this.#tag(field, WIRE_LENGTH_DELIMITED);
    this.#varint(byteLength);
    this.#pos += this.#slab.write(value, this.#pos, byteLength, 'utf8');
  }

  #tag(field: number, wireType: number): void {
    this.#varint(field * 8 + wireType);
  }

  /** A non-negative integer up to 2^53; room reserved by the caller. */
  #varint(n: number): void {
    while (n > 0x7f) {
      this.#slab[this.#pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.#slab[this.#pos++] = n;
  }

  /** Makes room for `bytes` more in the slab, starting a new slab when the current one is full. */
  #reserve(bytes: number): void {
    if (this.#pos + bytes <= this.#slab.length) return;
    this.#flush();
    this.#slab = Buffer.allocUnsafe(Math.max(SLAB_SIZE, bytes));
    this.#pos = 0;
    this.#mark = 0;
  }

  /** Moves the slab bytes written since the last flush into #chunks. */
  #flush(): void {
    if (this.#pos === this.#mark) return;
    this.#chunks.push(this.#slab.subarray(this.#mark, this.#pos));
    this.#length += this.#pos - this.#mark;
    this.#mark = this.#pos;
  }
}

const EMPTY = Buffer.alloc(0);
