// Test-only: writes Kubernetes protobuf bodies from JSON-shaped objects, driven by the generated
// schema, so decode tests can state their input as the object they expect back. It writes what Go's
// generated marshalers write for the same object (fields in number order, an empty message for a
// null metav1.Time), and throws on keys the schema does not know, so typos in tests fail loudly.
import { messageForKind } from '../../../src/api/protobuf/decode.js';
import { PROTOBUF_ARRAY_MESSAGES, PROTOBUF_MESSAGES } from '../../../src/api/protobuf/schema.generated.js';
import { FIELD_INLINE, FIELD_MAP, FIELD_REPEATED, type ProtobufField } from '../../../src/api/protobuf/schemaTypes.js';

/** A minimal protobuf writer: tags, varints, fixed64 and length-delimited fields. */
export class Writer {
  private readonly out: number[] = [];

  varint(v: bigint | number | boolean): this {
    let x = BigInt.asUintN(64, BigInt(typeof v === 'boolean' ? Number(v) : v));
    do {
      const b = Number(x & 0x7fn);
      x >>= 7n;
      this.out.push(x > 0n ? b | 0x80 : b);
    } while (x > 0n);
    return this;
  }

  tag(field: number, wireType: number): this {
    return this.varint(field * 8 + wireType);
  }

  /** field as a varint (int32, int64, bool). */
  int(field: number, v: bigint | number | boolean): this {
    return this.tag(field, 0).varint(v);
  }

  bool(field: number, v: boolean): this {
    return this.tag(field, 0).varint(v);
  }

  double(field: number, v: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.tag(field, 1);
    for (const x of b) this.out.push(x);
    return this;
  }

  bytes(field: number, data: Uint8Array | Writer): this {
    const d = data instanceof Writer ? data.finish() : data;
    this.tag(field, 2).varint(d.length);
    for (const b of d) this.out.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }

  /** Appends bytes as they are (for hand-made malformed input). */
  raw(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

export const MAGIC = [0x6b, 0x38, 0x73, 0x00];

/** The full body kubectl would send: magic, runtime.Unknown{typeMeta, raw, contentEncoding, contentType}. */
export function envelope(apiVersion: string, kind: string, raw: Uint8Array, contentEncoding = '', contentType = ''): Buffer {
  const unknown = new Writer()
    .bytes(1, new Writer().string(1, apiVersion).string(2, kind))
    .bytes(2, raw)
    .string(3, contentEncoding)
    .string(4, contentType);
  return Buffer.concat([Buffer.from(MAGIC), unknown.finish()]);
}

/** Encodes `{ kind, apiVersion, ...fields }` as the body kubectl would send. */
export function encodeObject(obj: Record<string, unknown>): Buffer {
  const { kind, apiVersion, ...fields } = obj;
  if (typeof kind !== 'string' || typeof apiVersion !== 'string') throw new Error('kind and apiVersion are required');
  const type = messageForKind(apiVersion, kind);
  if (!type) throw new Error(`no message for ${apiVersion} ${kind}`);
  return envelope(apiVersion, kind, encodeMessage(type, fields));
}

const ARRAY_MESSAGES = new Set(PROTOBUF_ARRAY_MESSAGES);
const isMessage = (type: string): boolean => type.includes('.');

/** Encodes one message's JSON form by its short name (`core.v1.PodSpec`). */
export function encodeMessage(type: string, value: unknown): Uint8Array {
  const w = new Writer();
  const special = SPECIAL[type];
  if (special) special(w, value);
  else if (ARRAY_MESSAGES.has(type)) for (const s of value as string[]) w.string(1, s);
  else writeFields(w, type, value as Record<string, unknown>, true);
  return w.finish();
}

function fieldsOf(type: string): readonly ProtobufField[] {
  const fields = PROTOBUF_MESSAGES[type];
  if (!fields) throw new Error(`no message ${type}`);
  return fields;
}

/** Every JSON key a message accepts, its inline members' keys included. */
function jsonKeys(type: string): Set<string> {
  const keys = new Set<string>();
  for (const [, name, t, flags = 0] of fieldsOf(type)) {
    if (flags & FIELD_INLINE) for (const k of jsonKeys(t)) keys.add(k);
    else keys.add(name);
  }
  return keys;
}

function writeFields(w: Writer, type: string, obj: Record<string, unknown>, strict: boolean): void {
  if (strict) {
    const known = jsonKeys(type);
    for (const k of Object.keys(obj)) if (!known.has(k)) throw new Error(`${type} has no JSON field ${k}`);
  }
  const fields = [...fieldsOf(type)].sort((a, b) => a[0] - b[0]);
  for (const [number, name, t, flags = 0] of fields) {
    if (flags & FIELD_INLINE) {
      const inner = new Writer();
      writeFields(inner, t, obj, false);
      w.bytes(number, inner);
      continue;
    }
    if (!Object.prototype.hasOwnProperty.call(obj, name)) continue;
    const v = obj[name];
    if (v === undefined) continue;
    if (flags & FIELD_MAP) {
      for (const [k, mv] of Object.entries(v as Record<string, unknown>)) {
        const entry = new Writer().string(1, k);
        writeValue(entry, 2, t, mv);
        w.bytes(number, entry);
      }
    } else if (flags & FIELD_REPEATED) {
      for (const item of v as unknown[]) writeValue(w, number, t, item);
    } else if (v !== null || isMessage(t)) {
      writeValue(w, number, t, v);
    }
  }
}

function writeValue(w: Writer, number: number, type: string, v: unknown): void {
  if (isMessage(type)) {
    w.bytes(number, v === null ? new Uint8Array(0) : encodeMessage(type, v));
    return;
  }
  switch (type) {
    case 'string':
      w.string(number, v as string);
      return;
    case 'bytes':
      w.bytes(number, Buffer.from(v as string, 'base64'));
      return;
    case 'int32':
    case 'int64':
      w.int(number, BigInt(v as number));
      return;
    case 'bool':
      w.int(number, v as boolean);
      return;
    case 'double':
      w.double(number, v as number);
      return;
    default:
      throw new Error(`unsupported scalar ${type}`);
  }
}

type SpecialEncoder = (w: Writer, v: unknown) => void;

function seconds(rfc3339: string): bigint {
  return BigInt(Math.floor(Date.parse(rfc3339) / 1000));
}

const SCHEMA = 'apiextensions.v1.JSONSchemaProps';

const SPECIAL: Readonly<Record<string, SpecialEncoder>> = {
  'meta.v1.Time': (w, v) => {
    if (v !== null) w.int(1, seconds(v as string));
  },
  'meta.v1.MicroTime': (w, v) => {
    if (v === null) return;
    const s = v as string;
    w.int(1, seconds(s));
    const frac = /\.(\d+)Z$/.exec(s)?.[1] ?? '';
    const nanos = Number(frac.padEnd(9, '0'));
    if (nanos !== 0) w.int(2, nanos);
  },
  'intstr.IntOrString': (w, v) => {
    if (typeof v === 'number') w.int(1, 0).int(2, v);
    else w.int(1, 1).string(3, v as string);
  },
  'resource.Quantity': (w, v) => {
    w.string(1, v as string);
  },
  'runtime.RawExtension': (w, v) => {
    w.bytes(1, v instanceof Uint8Array ? v : Buffer.from(JSON.stringify(v)));
  },
  'meta.v1.FieldsV1': (w, v) => {
    w.bytes(1, Buffer.from(JSON.stringify(v)));
  },
  'apiextensions.v1.JSON': (w, v) => {
    w.bytes(1, Buffer.from(JSON.stringify(v)));
  },
  'apiextensions.v1.JSONSchemaPropsOrBool': (w, v) => {
    if (typeof v === 'boolean') w.int(1, v);
    else w.int(1, true).bytes(2, encodeMessage(SCHEMA, v));
  },
  'apiextensions.v1.JSONSchemaPropsOrArray': (w, v) => {
    if (Array.isArray(v)) for (const s of v) w.bytes(2, encodeMessage(SCHEMA, s));
    else w.bytes(1, encodeMessage(SCHEMA, v));
  },
  'apiextensions.v1.JSONSchemaPropsOrStringArray': (w, v) => {
    if (Array.isArray(v)) for (const s of v) w.string(2, s as string);
    else w.bytes(1, encodeMessage(SCHEMA, v));
  },
};
