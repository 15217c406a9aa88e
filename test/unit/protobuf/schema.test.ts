import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_RESOURCES } from '../../../src/api/catalog.js';
import { messageForKind } from '../../../src/api/protobuf/decode.js';
import { PROTOBUF_ARRAY_MESSAGES, PROTOBUF_MESSAGES, PROTOBUF_PACKAGES } from '../../../src/api/protobuf/schema.generated.js';
import { FIELD_INLINE, FIELD_MAP, FIELD_OMIT_ZERO, FIELD_REPEATED } from '../../../src/api/protobuf/schemaTypes.js';

const SCALARS = new Set(['string', 'bool', 'int32', 'int64', 'bytes', 'double']);

test('every built-in resource k8ts serves has a protobuf message for its kind and its list', () => {
  for (const r of BUILTIN_RESOURCES) {
    const apiVersion = r.group === '' ? r.version : `${r.group}/${r.version}`;
    assert.ok(messageForKind(apiVersion, r.kind), `${apiVersion} ${r.kind}`);
    const createOnly = r.verbs.length === 1 && r.verbs[0] === 'create';
    if (!createOnly) assert.ok(messageForKind(apiVersion, `${r.kind}List`), `${apiVersion} ${r.kind}List`);
  }
});

test('the schema is closed and well-formed', () => {
  for (const [name, fields] of Object.entries(PROTOBUF_MESSAGES)) {
    const numbers = new Set<number>();
    const jsonNames = new Set<string>();
    for (const [number, json, type, flags = 0] of fields) {
      assert.ok(SCALARS.has(type) || type in PROTOBUF_MESSAGES, `${name}.${json}: ${type} exists`);
      assert.ok(!numbers.has(number), `${name}: field number ${number} once`);
      numbers.add(number);
      if (!(flags & FIELD_INLINE)) {
        assert.ok(!jsonNames.has(json), `${name}: JSON name ${json} once`);
        jsonNames.add(json);
      }
      assert.ok(!(flags & FIELD_OMIT_ZERO) || (SCALARS.has(type) && !(flags & (FIELD_REPEATED | FIELD_MAP))), `${name}.${json}: omitZero only on singular scalars`);
    }
  }
  for (const [pkg, p] of Object.entries(PROTOBUF_PACKAGES)) {
    for (const kind of p.kinds) assert.ok(`${pkg}.${kind}` in PROTOBUF_MESSAGES, `${pkg}.${kind}`);
  }
  for (const m of PROTOBUF_ARRAY_MESSAGES) assert.deepEqual(PROTOBUF_MESSAGES[m], [[1, 'items', 'string', FIELD_REPEATED]], m);
});

test('upstream facts spot-checked against Kubernetes v1.32', () => {
  const field = (message: string, json: string) => PROTOBUF_MESSAGES[message]?.find((f) => f[1] === json);
  const cases: [string, string, readonly unknown[]][] = [
    ['core.v1.Namespace', 'metadata', [1, 'metadata', 'meta.v1.ObjectMeta']],
    ['core.v1.Secret', 'data', [2, 'data', 'bytes', FIELD_MAP]],
    ['core.v1.Secret', 'type', [3, 'type', 'string', FIELD_OMIT_ZERO]],
    ['core.v1.Container', 'name', [1, 'name', 'string']],
    ['core.v1.Container', 'resources', [8, 'resources', 'core.v1.ResourceRequirements']],
    ['core.v1.Volume', 'volumeSource', [2, 'volumeSource', 'core.v1.VolumeSource', FIELD_INLINE]],
    ['apps.v1.RollingUpdateDeployment', 'maxSurge', [2, 'maxSurge', 'intstr.IntOrString']],
    ['meta.v1.ObjectMeta', 'managedFields', [17, 'managedFields', 'meta.v1.ManagedFieldsEntry', FIELD_REPEATED]],
    ['policy.v1.Eviction', 'deleteOptions', [2, 'deleteOptions', 'meta.v1.DeleteOptions']],
    ['authentication.v1.BoundObjectReference', 'uid', [4, 'uid', 'string', FIELD_OMIT_ZERO]],
    ['networking.v1.IngressClassParametersReference', 'apiGroup', [1, 'apiGroup', 'string']],
    ['apiextensions.v1.JSONSchemaProps', '$ref', [3, '$ref', 'string']],
    ['apiextensions.v1.JSONSchemaProps', 'x-kubernetes-preserve-unknown-fields', [38, 'x-kubernetes-preserve-unknown-fields', 'bool']],
    ['runtime.Unknown', 'raw', [2, 'raw', 'bytes']],
    ['runtime.TypeMeta', 'kind', [2, 'kind', 'string', FIELD_OMIT_ZERO]],
  ];
  for (const [message, json, want] of cases) assert.deepEqual(field(message, json), want, `${message}.${json}`);
});
