import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeKubernetesProtobuf, decodeProtobufMessage } from '../../../src/api/protobuf/decode.js';
import { ProtobufDecodeError, type ProtobufDecodeErrorCode } from '../../../src/api/protobuf/errors.js';
import { RECORDED_CREATES } from './kubectlBodies.js';
import { encodeMessage, envelope, MAGIC, Writer } from './protobufEncoder.js';

function codeOf(f: () => unknown): ProtobufDecodeErrorCode | 'ok' | 'other' {
  try {
    f();
    return 'ok';
  } catch (err) {
    return err instanceof ProtobufDecodeError ? err.code : 'other';
  }
}

const ns = (meta: Writer) => envelope('v1', 'Namespace', new Writer().bytes(1, meta).finish());
const cm = (w: Writer) => envelope('v1', 'ConfigMap', w.finish());
/** A CRD body whose one version's openAPIV3Schema is `schema` (spec 2 → versions 7 → schema 4 → openAPIV3Schema 1). */
const crdWithSchema = (schema: Writer) =>
  envelope(
    'apiextensions.k8s.io/v1',
    'CustomResourceDefinition',
    new Writer().bytes(2, new Writer().bytes(7, new Writer().string(1, 'v1').bytes(4, new Writer().bytes(1, schema)))).finish(),
  );

test('bodies that cannot be decoded fail with a typed error', () => {
  const cases: [string, Uint8Array, ProtobufDecodeErrorCode][] = [
    ['an empty body', new Uint8Array(0), 'BadMagic'],
    ['a JSON body', Buffer.from('{"kind":"Namespace","apiVersion":"v1"}'), 'BadMagic'],
    ['three bytes of the magic', Uint8Array.from(MAGIC.slice(0, 3)), 'BadMagic'],
    ['the magic and nothing else names no kind', Uint8Array.from(MAGIC), 'UnknownKind'],
    ['a kind v1 does not have', envelope('v1', 'Frobnicator', new Uint8Array(0)), 'UnknownKind'],
    ['a group version k8ts does not serve', envelope('example.com/v1', 'Widget', new Uint8Array(0)), 'UnknownKind'],
    ['a message that is not a kind', envelope('v1', 'PodSpec', new Uint8Array(0)), 'UnknownKind'],
    ['a kind under the wrong group', envelope('apps/v1', 'Namespace', new Uint8Array(0)), 'UnknownKind'],
    ['a compressed payload', envelope('v1', 'Namespace', new Uint8Array(0), 'gzip'), 'UnsupportedEncoding'],
    ['an embedded JSON payload', envelope('v1', 'Namespace', new Uint8Array(0), '', 'application/json'), 'UnsupportedEncoding'],
    ['a message field sent as a varint', envelope('v1', 'Namespace', new Writer().int(1, 5).finish()), 'WireTypeMismatch'],
    ['a string sent as a varint', ns(new Writer().int(1, 5)), 'WireTypeMismatch'],
    ['an int64 sent as bytes', ns(new Writer().string(7, 'x')), 'WireTypeMismatch'],
    ['a bool sent as fixed64', envelope('v1', 'ConfigMap', new Writer().double(4, 1).finish()), 'WireTypeMismatch'],
    ['a map sent as a varint', cm(new Writer().int(2, 1)), 'WireTypeMismatch'],
    ['a map key sent as a varint', cm(new Writer().bytes(2, new Writer().int(1, 1))), 'WireTypeMismatch'],
    ['a length past the end', cm(new Writer().tag(2, 2).varint(50).raw(1, 2)), 'Truncated'],
    ['a varint cut short', ns(new Writer().tag(7, 0).raw(0x80, 0x80)), 'Truncated'],
    ['a fixed64 cut short', cm(new Writer().tag(99, 1).raw(1, 2, 3)), 'Truncated'],
    ['a varint of 11 bytes', ns(new Writer().tag(7, 0).raw(...new Array<number>(10).fill(0xff), 1)), 'Malformed'],
    ['a group in an unknown field', cm(new Writer().tag(99, 3)), 'Malformed'],
    ['field number 0', cm(new Writer().tag(0, 0).varint(1)), 'Malformed'],
    ['a length too large to be real', cm(new Writer().tag(2, 2).raw(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)), 'Malformed'],
    [
      'a RawExtension that is not JSON',
      envelope('apps/v1', 'ControllerRevision', new Writer().bytes(2, new Writer().string(1, '{not json')).finish()),
      'Malformed',
    ],
    [
      'a RawExtension nesting a body of an unknown kind',
      envelope('apps/v1', 'ControllerRevision', new Writer().bytes(2, new Writer().bytes(1, envelope('v9', 'Nope', new Uint8Array(0)))).finish()),
      'UnknownKind',
    ],
    ['a Time past year 9999', ns(new Writer().bytes(8, new Writer().int(1, 253_402_300_800n))), 'Malformed'],
    ['an empty Quantity string', envelope('v1', 'ResourceQuota', new Writer().bytes(2, new Writer().bytes(1, new Writer().string(1, 'cpu').bytes(2, new Writer().string(1, '')))).finish()), 'Malformed'],
    ['a NaN double', crdWithSchema(new Writer().double(9, NaN)), 'Malformed'],
  ];
  for (const [name, body, want] of cases) {
    assert.equal(codeOf(() => decodeKubernetesProtobuf(body)), want, name);
  }
  const badIntOrString = new Writer().bytes(1, new Writer().int(1, 2).int(2, 1)); // minAvailable
  assert.equal(codeOf(() => decodeProtobufMessage('policy.v1.PodDisruptionBudgetSpec', badIntOrString.finish())), 'Malformed', 'IntOrString type 2');
  assert.equal(codeOf(() => decodeProtobufMessage('core.v1.NoSuchThing', new Uint8Array(0))), 'UnknownKind', 'an unknown message name');
});

test('errors are 400 BadRequest', () => {
  const err = new ProtobufDecodeError('Truncated', 'x');
  assert.equal(err.status, 400);
  assert.equal(err.reason, 'BadRequest');
  assert.equal(err.name, 'ProtobufDecodeError');
});

test('nesting deeper than the limit is refused before the stack runs out', () => {
  let schema: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < 300; i++) schema = { not: schema };
  assert.equal(codeOf(() => decodeProtobufMessage('apiextensions.v1.JSONSchemaProps', encodeMessage('apiextensions.v1.JSONSchemaProps', schema))), 'TooDeep');
  let w = new Writer().string(5, 'string');
  for (let i = 0; i < 1000; i++) w = new Writer().bytes(28, w); // JSONSchemaProps.not
  assert.equal(codeOf(() => decodeKubernetesProtobuf(crdWithSchema(w))), 'TooDeep');
  let shallow = new Writer().string(5, 'string');
  for (let i = 0; i < 100; i++) shallow = new Writer().bytes(28, shallow);
  assert.equal(codeOf(() => decodeKubernetesProtobuf(crdWithSchema(shallow))), 'ok', '100 levels of schema are fine');
});

test('every cut inside the object bytes of a real body is Truncated', () => {
  const body = Buffer.from(RECORDED_CREATES.find((c) => c.name === 'deployment')!.body, 'base64');
  // magic, typeMeta (tag, length, bytes), then raw (tag 0x12, a two-byte length here), then 4 bytes of empty strings.
  const rawTagAt = 4 + 2 + body[5]!;
  assert.equal(body[rawTagAt], 0x12);
  const rawLength = (body[rawTagAt + 1]! & 0x7f) + body[rawTagAt + 2]! * 128;
  const rawStart = rawTagAt + 3;
  const rawEnd = body.length - 4;
  assert.equal(rawLength, rawEnd - rawStart);
  for (let cut = rawStart; cut < rawEnd; cut++) {
    assert.equal(codeOf(() => decodeKubernetesProtobuf(body.subarray(0, cut))), 'Truncated', `cut at ${cut}`);
  }
  for (let cut = 0; cut < body.length; cut++) {
    assert.notEqual(codeOf(() => decodeKubernetesProtobuf(body.subarray(0, cut))), 'other', `cut at ${cut}`);
  }
  // The object itself cut short inside a well-formed envelope: a cut between top-level fields is a
  // shorter valid object, any other cut is Truncated.
  const raw = body.subarray(rawStart, rawEnd);
  const codes = new Set<string>();
  for (let cut = 0; cut < raw.length; cut++) codes.add(codeOf(() => decodeKubernetesProtobuf(envelope('apps/v1', 'Deployment', raw.subarray(0, cut)))));
  assert.deepEqual([...codes].sort(), ['Truncated', 'ok']);
});

test('random corruption of real bodies never escapes as anything but ProtobufDecodeError', () => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const bodies = RECORDED_CREATES.map((c) => Buffer.from(c.body, 'base64'));
  const started = performance.now();
  for (let i = 0; i < 5000; i++) {
    const body = Buffer.from(bodies[rand(bodies.length)]!);
    const edits = 1 + rand(4);
    for (let e = 0; e < edits; e++) {
      const at = 4 + rand(body.length - 4);
      body[at] = rand(256);
    }
    const got = codeOf(() => decodeKubernetesProtobuf(body));
    assert.notEqual(got, 'other', `iteration ${i}: ${body.toString('hex')}`);
  }
  assert.ok(performance.now() - started < 5000, 'fuzzing stays fast');
});
