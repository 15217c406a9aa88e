import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_RESOURCES } from '../../../src/api/catalog.js';
import { addCustomResourceSchema, openapiV2Json, removeCustomResourceSchema } from '../../../src/api/openapi/index.js';
import { encodeOpenAPIV2Protobuf, openapiV2Protobuf } from '../../../src/api/openapi/protobuf/index.js';
import { decode } from './openapiV2Proto.js';

const definitionNames = (body: Buffer) =>
  ((decode('Document', body)['definitions'] as { additional_properties: { name: string }[] }).additional_properties ?? []).map((d) => d.name);

test('openapiV2Protobuf encodes once per document and carries the JSON document ETag', () => {
  const first = openapiV2Protobuf(BUILTIN_RESOURCES);
  assert.equal(first.etag, openapiV2Json(BUILTIN_RESOURCES).etag);
  assert.ok(first.body.equals(encodeOpenAPIV2Protobuf(openapiV2Json(BUILTIN_RESOURCES).doc)));
  // A fresh array with the same resources is the same document.
  assert.equal(openapiV2Protobuf([...BUILTIN_RESOURCES]), first);
});

test('openapiV2Protobuf re-encodes when a custom resource schema comes or goes', () => {
  const before = openapiV2Protobuf(BUILTIN_RESOURCES);
  const name = 'com.example.v1.Widget';
  try {
    addCustomResourceSchema('example.com', 'v1', 'Widget', 'widgets', true, {
      type: 'object',
      properties: { spec: { type: 'object', properties: { size: { type: 'integer', default: 1 } } } },
    });
    const withWidget = openapiV2Protobuf(BUILTIN_RESOURCES);
    assert.notEqual(withWidget.etag, before.etag);
    assert.equal(withWidget.etag, openapiV2Json(BUILTIN_RESOURCES).etag);
    assert.ok(definitionNames(withWidget.body).includes(name), `${name} is in the encoded document`);
  } finally {
    removeCustomResourceSchema('example.com', 'v1', 'Widget');
  }
  const after = openapiV2Protobuf(BUILTIN_RESOURCES);
  assert.equal(after.etag, before.etag);
  assert.ok(after.body.equals(before.body));
  assert.ok(!definitionNames(after.body).includes(name));
});
