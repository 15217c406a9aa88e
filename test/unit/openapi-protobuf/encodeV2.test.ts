import { test } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { BUILTIN_RESOURCES } from '../../../src/api/catalog.js';
import { openapiV2Json } from '../../../src/api/openapi/index.js';
import { encodeOpenAPIV2Protobuf } from '../../../src/api/openapi/protobuf/index.js';
import { decode, type Decoded } from './openapiV2Proto.js';
import { swaggerFromDocument } from './swaggerFromProto.js';

/** A Document holding one definition "X" with this schema. */
const withSchema = (schema: object) => ({ definitions: { X: schema } });
/** The wire form of that Document. */
const wantSchema = (schema: Decoded): Decoded => ({ definitions: { additional_properties: [{ name: 'X', value: schema }] } });
const any = (v: unknown): Decoded => ({ yaml: JSON.stringify(v) });
/** A Document with one parameter "p" in the shared parameters. */
const withParameter = (p: object) => ({ parameters: { p } });
const wantParameter = (p: Decoded): Decoded => ({ parameters: { additional_properties: [{ name: 'p', value: p }] } });

const cases: { name: string; doc: object; want: Decoded }[] = [
  { name: 'a document with only its version says which swagger version it is', doc: { swagger: '2.0' }, want: { swagger: '2.0' } },
  {
    name: 'a $ref goes to _ref and keeps its description',
    doc: withSchema({ $ref: '#/definitions/Y', description: 'why' }),
    want: wantSchema({ _ref: '#/definitions/Y', description: 'why' }),
  },
  { name: 'a type name becomes a one-element TypeItem', doc: withSchema({ type: 'string' }), want: wantSchema({ type: { value: ['string'] } }) },
  { name: 'a list of type names keeps every name', doc: withSchema({ type: ['string', 'null'] }), want: wantSchema({ type: { value: ['string', 'null'] } }) },
  {
    name: 'items as one schema becomes a one-element ItemsItem',
    doc: withSchema({ type: 'array', items: { type: 'integer', format: 'int32' } }),
    want: wantSchema({ type: { value: ['array'] }, items: { schema: [{ format: 'int32', type: { value: ['integer'] } }] } }),
  },
  {
    name: 'items as a tuple keeps every schema in order',
    doc: withSchema({ items: [{ type: 'string' }, { type: 'number' }] }),
    want: wantSchema({ items: { schema: [{ type: { value: ['string'] } }, { type: { value: ['number'] } }] } }),
  },
  {
    name: 'additionalProperties false is written, as a oneof member has presence',
    doc: withSchema({ additionalProperties: false }),
    want: wantSchema({ additional_properties: { boolean: false } }),
  },
  {
    name: 'additionalProperties as a schema is the oneof schema member',
    doc: withSchema({ type: 'object', additionalProperties: { type: 'string' } }),
    want: wantSchema({ additional_properties: { schema: { type: { value: ['string'] } } }, type: { value: ['object'] } }),
  },
  {
    name: 'properties keep their order and an empty properties object is present, not missing',
    doc: withSchema({ properties: { b: { type: 'string' }, a: { properties: {} } }, required: ['b', ''] }),
    want: wantSchema({
      required: ['b', ''],
      properties: { additional_properties: [{ name: 'b', value: { type: { value: ['string'] } } }, { name: 'a', value: { properties: {} } }] },
    }),
  },
  {
    name: 'enum, default and example travel as JSON text in Any.yaml',
    doc: withSchema({ enum: ['on', 1, null, { a: [true] }], default: 'on', example: { k: 'v' } }),
    want: wantSchema({ default: any('on'), enum: [any('on'), any(1), any(null), any({ a: [true] })], example: any({ k: 'v' }) }),
  },
  {
    name: 'vendor extensions keep their order and any JSON value',
    doc: withSchema({ 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-group-version-kind': [{ group: '', kind: 'Pod', version: 'v1' }], 'x-b': false }),
    want: wantSchema({
      vendor_extension: [
        { name: 'x-kubernetes-patch-strategy', value: any('merge') },
        { name: 'x-kubernetes-group-version-kind', value: any([{ group: '', kind: 'Pod', version: 'v1' }]) },
        { name: 'x-b', value: any(false) },
      ],
    }),
  },
  {
    name: 'numbers: doubles keep fractions and sign, int64s are truncated and may be negative',
    doc: withSchema({ minimum: -1.5, maximum: 1e300, multipleOf: 0.25, maxLength: 3.9, minItems: -1, maxProperties: 2 ** 53 }),
    want: wantSchema({ multiple_of: 0.25, maximum: 1e300, minimum: -1.5, max_length: 3, min_items: -1, max_properties: 2 ** 53 }),
  },
  {
    name: 'keys without a field and values of the wrong JSON type are dropped',
    doc: withSchema({ nullable: true, oneOf: [{}], description: 5, required: 'a', 'y-not': 1 }),
    want: wantSchema({}),
  },
  {
    name: 'non-ASCII text and control characters survive, in strings and in Any.yaml',
    doc: withSchema({ description: 'Grüße ✓ 🚀 \u0085', 'x-k': 'Grüße\u2028\u0085' }),
    want: wantSchema({ description: 'Grüße ✓ 🚀 \u0085', vendor_extension: [{ name: 'x-k', value: { yaml: '"Grüße\\u2028\\u0085"' } }] }),
  },
  {
    name: 'a body parameter is the BodyParameter member',
    doc: withParameter({ name: 'body', in: 'body', required: true, schema: { $ref: '#/definitions/Y' } }),
    want: wantParameter({ body_parameter: { name: 'body', in: 'body', required: true, schema: { _ref: '#/definitions/Y' } } }),
  },
  {
    name: 'a query parameter is a QueryParameterSubSchema, allowEmptyValue and validations numbered after it',
    doc: withParameter({ name: 'limit', in: 'query', type: 'integer', allowEmptyValue: true, uniqueItems: true, enum: [1, 2], 'x-a': 1 }),
    want: wantParameter({
      non_body_parameter: {
        query_parameter_sub_schema: { in: 'query', name: 'limit', allow_empty_value: true, type: 'integer', unique_items: true, enum: [any(1), any(2)], vendor_extension: [{ name: 'x-a', value: any(1) }] },
      },
    }),
  },
  {
    name: 'a path parameter is a PathParameterSubSchema',
    doc: withParameter({ name: 'name', in: 'path', required: true, type: 'string', uniqueItems: true, description: 'd' }),
    want: wantParameter({ non_body_parameter: { path_parameter_sub_schema: { required: true, in: 'path', description: 'd', name: 'name', type: 'string', unique_items: true } } }),
  },
  {
    name: 'a header parameter is a HeaderParameterSubSchema, with array items as PrimitivesItems',
    doc: withParameter({ name: 'h', in: 'header', type: 'array', items: { type: 'array', items: { type: 'string', maxLength: 2 } }, collectionFormat: 'csv' }),
    want: wantParameter({
      non_body_parameter: {
        header_parameter_sub_schema: { in: 'header', name: 'h', type: 'array', items: { type: 'array', items: { type: 'string', max_length: 2 } }, collection_format: 'csv' },
      },
    }),
  },
  {
    name: 'a formData parameter is a FormDataParameterSubSchema',
    doc: withParameter({ name: 'f', in: 'formData', type: 'file', default: 'x' }),
    want: wantParameter({ non_body_parameter: { form_data_parameter_sub_schema: { in: 'formData', name: 'f', type: 'file', default: any('x') } } }),
  },
  {
    name: 'paths keep their order; $ref parameters are JsonReferences; responses are named by code',
    doc: {
      paths: {
        '/b': { parameters: [{ $ref: '#/parameters/p' }], get: { operationId: 'g', responses: { '200': { description: 'OK', schema: { type: 'file' } }, default: { $ref: '#/responses/r' } } } },
        '/a': { 'x-p': 1 },
        'x-paths': 'e',
      },
    },
    want: {
      paths: {
        vendor_extension: [{ name: 'x-paths', value: any('e') }],
        path: [
          {
            name: '/b',
            value: {
              get: {
                operation_id: 'g',
                responses: {
                  response_code: [
                    { name: '200', value: { response: { description: 'OK', schema: { file_schema: { type: 'file' } } } } },
                    { name: 'default', value: { json_reference: { _ref: '#/responses/r' } } },
                  ],
                },
              },
              parameters: [{ json_reference: { _ref: '#/parameters/p' } }],
            },
          },
          { name: '/a', value: { vendor_extension: [{ name: 'x-p', value: any(1) }] } },
        ],
      },
    },
  },
  {
    name: 'security definitions pick their oneof member by type and flow; requirements are named string lists',
    doc: {
      security: [{ BearerToken: [] }, { o: ['read', 'write'] }],
      securityDefinitions: {
        BearerToken: { type: 'apiKey', name: 'authorization', in: 'header' },
        b: { type: 'basic' },
        o: { type: 'oauth2', flow: 'accessCode', authorizationUrl: 'a', tokenUrl: 't', scopes: { read: 'r' } },
        p: { type: 'oauth2', flow: 'password', tokenUrl: 't' },
      },
    },
    want: {
      security: [{ additional_properties: [{ name: 'BearerToken', value: {} }] }, { additional_properties: [{ name: 'o', value: { value: ['read', 'write'] } }] }],
      security_definitions: {
        additional_properties: [
          { name: 'BearerToken', value: { api_key_security: { type: 'apiKey', name: 'authorization', in: 'header' } } },
          { name: 'b', value: { basic_authentication_security: { type: 'basic' } } },
          {
            name: 'o',
            value: { oauth2_access_code_security: { type: 'oauth2', flow: 'accessCode', scopes: { additional_properties: [{ name: 'read', value: 'r' }] }, authorization_url: 'a', token_url: 't' } },
          },
          { name: 'p', value: { oauth2_password_security: { type: 'oauth2', flow: 'password', token_url: 't' } } },
        ],
      },
    },
  },
  {
    name: 'info, host, basePath, tags and document extensions land in their Document fields',
    doc: { info: { title: 'T', version: 'v', contact: { email: 'e' }, license: { name: 'L' } }, host: 'h', basePath: '/b', schemes: ['https'], tags: [{ name: 't', externalDocs: { url: 'u' } }], 'x-d': 1 },
    want: {
      info: { title: 'T', version: 'v', contact: { email: 'e' }, license: { name: 'L' } },
      host: 'h',
      base_path: '/b',
      schemes: ['https'],
      tags: [{ name: 't', external_docs: { url: 'u' } }],
      vendor_extension: [{ name: 'x-d', value: any(1) }],
    },
  },
];

for (const c of cases) {
  test(`encodeOpenAPIV2Protobuf: ${c.name}`, () => {
    const got = decode('Document', encodeOpenAPIV2Protobuf(c.doc));
    assert.deepStrictEqual(got, c.want);
  });
}

test('encodeOpenAPIV2Protobuf writes fields in field-number order, as Go marshals them', () => {
  // swagger = 1 ("2.0"), then host = 3 ("h"), whatever the JSON key order.
  const got = encodeOpenAPIV2Protobuf({ host: 'h', swagger: '2.0' });
  assert.deepEqual([...got], [0x0a, 3, 0x32, 0x2e, 0x30, 0x1a, 1, 0x68]);
});

test('encodeOpenAPIV2Protobuf handles strings larger than its write buffer', () => {
  const description = 'ü'.repeat(300_000);
  const got = decode('Document', encodeOpenAPIV2Protobuf(withSchema({ description, type: 'string' })));
  assert.deepStrictEqual(got, wantSchema({ description, type: { value: ['string'] } }));
});

// ---------------------------------------------------------------------------------------------
// The served document

const served = openapiV2Json(BUILTIN_RESOURCES);
const doc = served.doc as {
  definitions: Record<string, { properties?: Record<string, unknown> }>;
  paths: Record<string, unknown>;
};
const bytes = encodeOpenAPIV2Protobuf(served.doc);
const decoded = decode('Document', bytes);

type NamedList = { name: string; value: Decoded }[];
const entries = (wrapper: unknown, key = 'additional_properties') => ((wrapper as Decoded | undefined)?.[key] as NamedList | undefined) ?? [];
const entry = (wrapper: unknown, name: string, key = 'additional_properties') => entries(wrapper, key).find((e) => e.name === name)?.value;
const extension = (message: Decoded | undefined, name: string) =>
  YAML.parse(String(entry(message, name, 'vendor_extension')?.['yaml'] ?? ''), { version: '1.1' }) as unknown;

test('the served document decodes back to exactly the JSON it was encoded from', () => {
  assert.deepStrictEqual(swaggerFromDocument(decoded), JSON.parse(served.json));
});

test('the served document keeps the order of definitions, properties and paths', () => {
  assert.deepEqual(entries(decoded['definitions']).map((e) => e.name), Object.keys(doc.definitions));
  assert.deepEqual(entries(decoded['paths'], 'path').map((e) => e.name), Object.keys(doc.paths));
  const pod = entry(decoded['definitions'], 'io.k8s.api.core.v1.PodSpec');
  assert.deepEqual(entries(pod?.['properties']).map((e) => e.name), Object.keys(doc.definitions['io.k8s.api.core.v1.PodSpec']?.properties ?? {}));
});

test('the served document carries what kubectl reads: GVKs, refs, types, patch metadata', () => {
  const pod = entry(decoded['definitions'], 'io.k8s.api.core.v1.Pod');
  assert.deepEqual(extension(pod, 'x-kubernetes-group-version-kind'), [{ group: '', kind: 'Pod', version: 'v1' }]);
  assert.deepEqual(entry(pod?.['properties'], 'spec'), {
    _ref: '#/definitions/io.k8s.api.core.v1.PodSpec',
    description: (doc.definitions['io.k8s.api.core.v1.Pod']?.properties?.['spec'] as { description: string }).description,
  });

  const containers = entry(entry(decoded['definitions'], 'io.k8s.api.core.v1.PodSpec')?.['properties'], 'containers');
  assert.deepEqual(containers?.['type'], { value: ['array'] });
  assert.deepEqual(containers?.['items'], { schema: [{ _ref: '#/definitions/io.k8s.api.core.v1.Container' }] });
  assert.equal(extension(containers, 'x-kubernetes-patch-merge-key'), 'name');
  assert.equal(extension(containers, 'x-kubernetes-patch-strategy'), 'merge');
  assert.equal(extension(containers, 'x-kubernetes-list-type'), 'map');
  assert.deepEqual(extension(containers, 'x-kubernetes-list-map-keys'), ['name']);

  const labels = entry(entry(decoded['definitions'], 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta')?.['properties'], 'labels');
  assert.deepEqual(labels?.['additional_properties'], { schema: { type: { value: ['string'] } } });
  assert.deepEqual(labels?.['type'], { value: ['object'] });
});

test('the served document tells body, path, query and referenced parameters apart', () => {
  const podPath = entry(decoded['paths'], '/api/v1/namespaces/{namespace}/pods/{name}', 'path');
  const pathParameters = (podPath?.['parameters'] as Decoded[]).map((p) => Object.keys((p['parameter'] as Decoded | undefined) ?? p)[0]);
  assert.deepEqual(pathParameters, ['non_body_parameter', 'json_reference', 'json_reference']);
  const name = ((podPath?.['parameters'] as Decoded[])[0]?.['parameter'] as Decoded)['non_body_parameter'] as Decoded;
  assert.deepEqual(Object.keys(name), ['path_parameter_sub_schema']);

  const put = podPath?.['put'] as Decoded;
  const body = (put['parameters'] as Decoded[])[0]?.['parameter'] as Decoded;
  assert.deepEqual(body, { body_parameter: { name: 'body', in: 'body', required: true, schema: { _ref: '#/definitions/io.k8s.api.core.v1.Pod' } } });
  assert.deepEqual(entries(put['responses'], 'response_code').map((r) => r.name), ['200', '201', '401']);
  assert.deepEqual(extension(put, 'x-kubernetes-group-version-kind'), { group: '', kind: 'Pod', version: 'v1' });

  const pretty = entry(decoded['parameters'], 'pretty') as Decoded;
  assert.equal(((pretty['non_body_parameter'] as Decoded)['query_parameter_sub_schema'] as Decoded)['name'], 'pretty');
});

test('encoding the served document twice gives the same bytes', () => {
  assert.ok(encodeOpenAPIV2Protobuf(served.doc).equals(bytes));
});
