// Reads protobuf's wire format (varints, fixed64, length-delimited bytes) from one message's bytes.
// Every read is bounds-checked and throws ProtobufDecodeError; nothing is copied.
import { ProtobufDecodeError } from './errors.js';

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
export const WIRE_START_GROUP = 3;
export const WIRE_END_GROUP = 4;
export const WIRE_FIXED32 = 5;

export class WireReader {
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** A varint of up to 10 bytes, as an unsigned 64-bit value (upper bits beyond 64 are dropped, as Go does). */
  varint(): bigint {
    let result = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw truncated('varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) return BigInt.asUintN(64, result);
    }
    throw new ProtobufDecodeError('Malformed', 'varint longer than 10 bytes');
  }

  /** A varint used as a length or tag: must fit in a safe integer. */
  private smallVarint(what: string): number {
    let result = 0;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.buf.length) throw truncated(what);
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * 2 ** (7 * i);
      if (b < 0x80) return result;
    }
    throw new ProtobufDecodeError('Malformed', `${what} too large`);
  }

  /** The next field's number and wire type. */
  tag(): { field: number; wireType: number } {
    const t = this.smallVarint('tag');
    const field = Math.floor(t / 8);
    if (field === 0 || field > 0x1fffffff) throw new ProtobufDecodeError('Malformed', `invalid field number ${field}`);
    return { field, wireType: t % 8 };
  }

  /** A length-delimited value, as a view into the same bytes. */
  bytes(): Uint8Array {
    const n = this.smallVarint('length');
    if (n > this.buf.length - this.pos) throw truncated('length-delimited field');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  double(): number {
    if (this.buf.length - this.pos < 8) throw truncated('fixed64');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  /** Steps over a field of an unknown number. Groups are not used by Kubernetes and are refused. */
  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.advance(8);
        return;
      case WIRE_BYTES:
        this.bytes();
        return;
      case WIRE_FIXED32:
        this.advance(4);
        return;
      default:
        throw new ProtobufDecodeError('Malformed', `unsupported wire type ${wireType}`);
    }
  }

  private advance(n: number): void {
    if (this.buf.length - this.pos < n) throw truncated(`fixed${n * 8}`);
    this.pos += n;
  }
}

function truncated(what: string): ProtobufDecodeError {
  return new ProtobufDecodeError('Truncated', `unexpected end of message in a ${what}`);
}
