// Decodes request bodies sent as `application/vnd.kubernetes.protobuf` (what kubectl's typed clients
// send) into the object's JSON form, field for field what Go's encoding/json would write for it.
// Only decoding: k8ts always answers in JSON.
import { ProtobufDecodeError } from './errors.js';
import { formatGoDuration, formatRfc3339, formatRfc3339Micro } from './goFormat.js';
import { PROTOBUF_ARRAY_MESSAGES, PROTOBUF_MESSAGES, PROTOBUF_PACKAGES } from './schema.generated.js';
import { FIELD_INLINE, FIELD_MAP, FIELD_OMIT_ZERO, FIELD_REPEATED, type ProtobufField } from './schemaTypes.js';
import { WIRE_BYTES, WIRE_FIXED64, WIRE_VARINT, WireReader } from './wireReader.js';

export const KUBERNETES_PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';
/** Every Kubernetes protobuf body starts with these 4 bytes, then a runtime.Unknown message. */
export const KUBERNETES_PROTOBUF_MAGIC: Readonly<Uint8Array> = Uint8Array.of(0x6b, 0x38, 0x73, 0x00);

/**
 * How deep messages may nest. The deepest built-in objects (CRD schemas) use a few levels per schema
 * level; the bound keeps a hostile body from exhausting the stack.
 */
const MAX_DEPTH = 256;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface DecodedObject {
  apiVersion: string;
  kind: string;
  /** The object as Kubernetes writes it in JSON, `kind` and `apiVersion` first. */
  object: JsonObject;
}

/**
 * Decodes one Kubernetes protobuf body: the magic `k8s\0`, a runtime.Unknown envelope whose typeMeta
 * names the kind, and the kind's message in its `raw` field.
 *
 * Fields absent on the wire are absent in the result; present fields follow Go's JSON rules
 * (`omitempty` drops zero scalars, an empty metav1.Time is `null`). int64 values beyond 2^53 lose
 * precision. resource.Quantity strings are passed through as sent, not re-canonicalized.
 * Throws ProtobufDecodeError, never anything else, for any input.
 */
export function decodeKubernetesProtobuf(body: Uint8Array): DecodedObject {
  return typedErrors(() => decodeEnvelope(body, 0));
}

/** The short message name (`apps.v1.Deployment`) for an apiVersion and kind, or undefined. */
export function messageForKind(apiVersion: string, kind: string): string | undefined {
  const pkg = PACKAGE_BY_GROUP_VERSION.get(apiVersion);
  if (pkg === undefined) return undefined;
  if (PROTOBUF_PACKAGES[pkg]?.kinds.includes(kind)) return `${pkg}.${kind}`;
  // Upstream registers meta/v1's option kinds (DeleteOptions, CreateOptions, …) in every group version.
  if (PROTOBUF_PACKAGES['meta.v1']?.kinds.includes(kind)) return `meta.v1.${kind}`;
  return undefined;
}

/** Decodes the bytes of one message (no envelope) by its short name; for tests and nested use. */
export function decodeProtobufMessage(type: string, bytes: Uint8Array): JsonValue {
  if (!(type in PROTOBUF_MESSAGES)) throw new ProtobufDecodeError('UnknownKind', `no protobuf message ${type}`);
  return typedErrors(() => decodeMessage(type, [bytes], 0));
}

function typedErrors<T>(decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    if (err instanceof ProtobufDecodeError) throw err;
    // A RangeError from an exotic input (stack, allocation) must still be a 400, not a crash.
    throw new ProtobufDecodeError('Malformed', `cannot decode protobuf body: ${(err as Error).message}`);
  }
}

const PACKAGE_BY_GROUP_VERSION = new Map(
  Object.entries(PROTOBUF_PACKAGES).map(([short, p]) => [p.group === '' ? p.version : `${p.group}/${p.version}`, short]),
);
const ARRAY_MESSAGES = new Set(PROTOBUF_ARRAY_MESSAGES);
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

function decodeEnvelope(body: Uint8Array, depth: number): DecodedObject {
  if (body.length < 4 || KUBERNETES_PROTOBUF_MAGIC.some((b, i) => body[i] !== b)) {
    throw new ProtobufDecodeError('BadMagic', 'the body is not Kubernetes protobuf: it does not start with "k8s\\0"');
  }
  const unknown = collect('runtime.Unknown', [body.subarray(4)]);
  const typeMeta = collect('runtime.TypeMeta', chunksOf(unknown, 1));
  const apiVersion = stringOf(typeMeta, 1);
  const kind = stringOf(typeMeta, 2);
  const contentEncoding = stringOf(unknown, 3);
  const contentType = stringOf(unknown, 4);
  if (contentEncoding !== '') {
    throw new ProtobufDecodeError('UnsupportedEncoding', `content encoding ${JSON.stringify(contentEncoding)} is not supported`);
  }
  if (contentType !== '' && contentType !== KUBERNETES_PROTOBUF_CONTENT_TYPE) {
    throw new ProtobufDecodeError('UnsupportedEncoding', `embedded content type ${JSON.stringify(contentType)} is not supported`);
  }
  const type = messageForKind(apiVersion, kind);
  if (type === undefined) {
    throw new ProtobufDecodeError('UnknownKind', `no kind ${JSON.stringify(kind)} is registered for version ${JSON.stringify(apiVersion)}`);
  }
  const raw = bytesOf(unknown, 2);
  const fields = decodeObject(type, [raw], depth + 1);
  return { apiVersion, kind, object: { kind, apiVersion, ...fields } };
}

// ---- collecting a message's fields ----

type Scalar = string | number | bigint | boolean | Uint8Array;

/** What one field number collected: scalars as read, messages and map entries as their bytes. */
interface Slot {
  field: ProtobufField;
  values: Scalar[];
}
type Slots = Map<number, Slot>;

const fieldIndexes = new Map<string, Map<number, ProtobufField>>();

function fieldIndex(type: string): Map<number, ProtobufField> {
  let index = fieldIndexes.get(type);
  if (!index) {
    const fields = PROTOBUF_MESSAGES[type];
    if (!fields) throw new ProtobufDecodeError('UnknownKind', `no protobuf message ${type}`);
    index = new Map(fields.map((f) => [f[0], f]));
    fieldIndexes.set(type, index);
  }
  return index;
}

const isMessageType = (type: string): boolean => type.includes('.');

/**
 * Reads every field of a message given as one or more chunks. Several chunks of one singular
 * message field merge, as protobuf defines (later scalars win, lists append): decoding the chunks in
 * turn does that without copying bytes.
 */
function collect(type: string, chunks: readonly Uint8Array[]): Slots {
  const index = fieldIndex(type);
  const slots: Slots = new Map();
  for (const chunk of chunks) {
    const r = new WireReader(chunk);
    while (!r.done) {
      const { field: number, wireType } = r.tag();
      const field = index.get(number);
      if (!field) {
        r.skip(wireType); // unknown fields are skipped, as upstream's generated code does
        continue;
      }
      let slot = slots.get(number);
      if (!slot) {
        slot = { field, values: [] };
        slots.set(number, slot);
      }
      readField(r, type, field, wireType, slot);
    }
  }
  return slots;
}

function readField(r: WireReader, type: string, field: ProtobufField, wireType: number, slot: Slot): void {
  const [, name, fieldType, flags = 0] = field;
  const repeated = (flags & FIELD_REPEATED) !== 0;
  if (isMessageType(fieldType) || (flags & FIELD_MAP) !== 0) {
    expectWire(type, name, wireType, WIRE_BYTES);
    slot.values.push(r.bytes());
    return;
  }
  if (repeated && wireType === WIRE_BYTES && fieldType !== 'string' && fieldType !== 'bytes') {
    const packed = new WireReader(r.bytes());
    while (!packed.done) slot.values.push(readScalar(packed, type, name, fieldType, scalarWire(fieldType)));
    return;
  }
  const v = readScalar(r, type, name, fieldType, wireType);
  if (repeated) slot.values.push(v);
  else slot.values[0] = v;
}

function scalarWire(type: string): number {
  if (type === 'string' || type === 'bytes') return WIRE_BYTES;
  return type === 'double' ? WIRE_FIXED64 : WIRE_VARINT;
}

function readScalar(r: WireReader, type: string, name: string, fieldType: string, wireType: number): Scalar {
  expectWire(type, name, wireType, scalarWire(fieldType));
  switch (fieldType) {
    case 'string':
      return utf8.decode(r.bytes());
    case 'bytes':
      return r.bytes();
    case 'int32':
      return Number(BigInt.asIntN(32, r.varint()));
    case 'int64':
      return BigInt.asIntN(64, r.varint());
    case 'bool':
      return r.varint() !== 0n;
    case 'double':
      return r.double();
    default:
      throw new ProtobufDecodeError('Malformed', `${type}.${name} has unsupported type ${fieldType}`);
  }
}

function expectWire(type: string, name: string, got: number, want: number): void {
  if (got !== want) {
    throw new ProtobufDecodeError('WireTypeMismatch', `${type}.${name}: wire type ${got}, expected ${want}`);
  }
}

// ---- reading collected slots ----

function chunksOf(slots: Slots, number: number): Uint8Array[] {
  return (slots.get(number)?.values ?? []) as Uint8Array[];
}

function last(slots: Slots, number: number): Scalar | undefined {
  const values = slots.get(number)?.values;
  return values?.[values.length - 1];
}

function stringOf(slots: Slots, number: number): string {
  const v = last(slots, number);
  return typeof v === 'string' ? v : '';
}

function bytesOf(slots: Slots, number: number): Uint8Array {
  const v = last(slots, number);
  return v instanceof Uint8Array ? v : new Uint8Array(0);
}

function int64Of(slots: Slots, number: number): bigint {
  const v = last(slots, number);
  return typeof v === 'bigint' ? v : 0n;
}

// ---- building JSON ----

function decodeMessage(type: string, chunks: readonly Uint8Array[], depth: number): JsonValue {
  if (depth > MAX_DEPTH) throw new ProtobufDecodeError('TooDeep', `messages nest deeper than ${MAX_DEPTH} levels`);
  const special = SPECIAL_MESSAGES[type];
  if (special) return special(chunks, depth);
  if (ARRAY_MESSAGES.has(type)) return listOrNull(collect(type, chunks).get(1), depth);
  return decodeObject(type, chunks, depth);
}

function decodeObject(type: string, chunks: readonly Uint8Array[], depth: number): JsonObject {
  const slots = collect(type, chunks);
  const out: JsonObject = {};
  for (const field of PROTOBUF_MESSAGES[type] ?? []) {
    const slot = slots.get(field[0]);
    if (!slot) continue;
    const flags = field[3] ?? 0;
    if (flags & FIELD_INLINE) {
      Object.assign(out, decodeObject(field[2], slot.values as Uint8Array[], depth + 1));
      continue;
    }
    const value = fieldValue(slot, depth);
    if (value === undefined) continue;
    setOwn(out, field[1], value);
  }
  return out;
}

/** A field's JSON value, or undefined when Go's `omitempty` leaves it out. */
function fieldValue(slot: Slot, depth: number): JsonValue | undefined {
  const [, , type, flags = 0] = slot.field;
  if (flags & FIELD_MAP) return mapValue(slot, depth);
  if (flags & FIELD_REPEATED) return slot.values.map((v) => elementValue(type, v, depth));
  if (isMessageType(type)) return decodeMessage(type, slot.values as Uint8Array[], depth + 1);
  const v = slot.values[0]!;
  if (flags & FIELD_OMIT_ZERO && isZero(v)) return undefined;
  return scalarJson(v);
}

function elementValue(type: string, v: Scalar, depth: number): JsonValue {
  return isMessageType(type) ? decodeMessage(type, [v as Uint8Array], depth + 1) : scalarJson(v);
}

function listOrNull(slot: Slot | undefined, depth: number): JsonValue {
  if (!slot || slot.values.length === 0) return null; // a nil Go slice
  return slot.values.map((v) => elementValue(slot.field[2], v, depth));
}

/** map<string, T>: each entry is a message {key = 1, value = 2}; a later duplicate key wins. */
function mapValue(slot: Slot, depth: number): JsonObject {
  const [, name, type] = slot.field;
  const out: JsonObject = {};
  for (const entry of slot.values as Uint8Array[]) {
    const r = new WireReader(entry);
    let key = '';
    const valueChunks: Uint8Array[] = [];
    let scalar: Scalar | undefined;
    while (!r.done) {
      const { field, wireType } = r.tag();
      if (field === 1) {
        expectWire(name, 'key', wireType, WIRE_BYTES);
        key = utf8.decode(r.bytes());
      } else if (field === 2 && isMessageType(type)) {
        expectWire(name, 'value', wireType, WIRE_BYTES);
        valueChunks.push(r.bytes());
      } else if (field === 2) {
        scalar = readScalar(r, name, 'value', type, wireType);
      } else r.skip(wireType);
    }
    const value = isMessageType(type) ? decodeMessage(type, valueChunks, depth + 1) : scalarJson(scalar ?? zeroOf(type));
    setOwn(out, key, value);
  }
  return out;
}

/** Map keys come from the wire: `__proto__` must become a plain property, not a prototype. */
function setOwn(o: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function scalarJson(v: Scalar): JsonValue {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' && !Number.isFinite(v)) {
    throw new ProtobufDecodeError('Malformed', `${v} cannot be written as JSON`);
  }
  return v;
}

function isZero(v: Scalar): boolean {
  if (v instanceof Uint8Array) return v.length === 0;
  return v === '' || v === 0 || v === 0n || v === false;
}

function zeroOf(type: string): Scalar {
  switch (type) {
    case 'string':
      return '';
    case 'bytes':
      return new Uint8Array(0);
    case 'bool':
      return false;
    default:
      return 0;
  }
}

function totalLength(chunks: readonly Uint8Array[]): number {
  return chunks.reduce((n, c) => n + c.length, 0);
}

/** Embedded JSON (RawExtension, FieldsV1, apiextensions JSON); an empty value is Go's `null`. */
function embeddedJson(raw: Uint8Array, depth: number): JsonValue {
  if (raw.length === 0) return null;
  if (KUBERNETES_PROTOBUF_MAGIC.every((b, i) => raw[i] === b)) return decodeEnvelope(raw, depth + 1).object;
  try {
    return JSON.parse(utf8.decode(raw)) as JsonValue;
  } catch {
    throw new ProtobufDecodeError('Malformed', 'an embedded object is neither JSON nor Kubernetes protobuf');
  }
}

type SpecialDecoder = (chunks: readonly Uint8Array[], depth: number) => JsonValue;

/** Messages whose Go type writes its own JSON (a MarshalJSON method upstream). */
const SPECIAL_MESSAGES: Readonly<Record<string, SpecialDecoder>> = {
  // Time keeps whole seconds (upstream drops nanos when reading protobuf); the zero time is null.
  'meta.v1.Time': (chunks) =>
    totalLength(chunks) === 0 ? null : formatRfc3339(int64Of(collect('meta.v1.Time', chunks), 1)),
  'meta.v1.MicroTime': (chunks) => {
    if (totalLength(chunks) === 0) return null;
    const s = collect('meta.v1.MicroTime', chunks);
    return formatRfc3339Micro(int64Of(s, 1), BigInt(Number(last(s, 2) ?? 0)));
  },
  'meta.v1.Duration': (chunks) => formatGoDuration(int64Of(collect('meta.v1.Duration', chunks), 1)),
  'meta.v1.FieldsV1': (chunks, depth) => embeddedJson(bytesOf(collect('meta.v1.FieldsV1', chunks), 1), depth),
  'runtime.RawExtension': (chunks, depth) => embeddedJson(bytesOf(collect('runtime.RawExtension', chunks), 1), depth),
  'apiextensions.v1.JSON': (chunks, depth) => embeddedJson(bytesOf(collect('apiextensions.v1.JSON', chunks), 1), depth),
  'intstr.IntOrString': (chunks) => {
    const s = collect('intstr.IntOrString', chunks);
    const kind = int64Of(s, 1);
    if (kind === 0n) return Number(last(s, 2) ?? 0);
    if (kind === 1n) return stringOf(s, 3);
    throw new ProtobufDecodeError('Malformed', `IntOrString has impossible type ${kind}`);
  },
  'resource.Quantity': (chunks) => {
    const s = collect('resource.Quantity', chunks);
    if (!s.has(1)) return '0';
    const q = stringOf(s, 1);
    if (q === '') throw new ProtobufDecodeError('Malformed', 'empty resource quantity');
    return q;
  },
  // JSONSchemaPropsOr*: a schema or a bool / list, whichever the Go value holds.
  'apiextensions.v1.JSONSchemaPropsOrArray': (chunks, depth) => {
    const s = collect('apiextensions.v1.JSONSchemaPropsOrArray', chunks);
    const list = s.get(2);
    if (list && list.values.length > 0) return listOrNull(list, depth);
    return s.has(1) ? decodeMessage('apiextensions.v1.JSONSchemaProps', chunksOf(s, 1), depth + 1) : null;
  },
  'apiextensions.v1.JSONSchemaPropsOrBool': (chunks, depth) => {
    const s = collect('apiextensions.v1.JSONSchemaPropsOrBool', chunks);
    if (s.has(2)) return decodeMessage('apiextensions.v1.JSONSchemaProps', chunksOf(s, 2), depth + 1);
    return last(s, 1) === true;
  },
  'apiextensions.v1.JSONSchemaPropsOrStringArray': (chunks, depth) => {
    const s = collect('apiextensions.v1.JSONSchemaPropsOrStringArray', chunks);
    const list = s.get(2);
    if (list && list.values.length > 0) return listOrNull(list, depth);
    return s.has(1) ? decodeMessage('apiextensions.v1.JSONSchemaProps', chunksOf(s, 1), depth + 1) : null;
  },
};
