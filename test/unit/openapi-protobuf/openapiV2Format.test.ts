import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openapiV2FormatFor, type OpenAPIV2Format } from '../../../src/api/openapi/protobuf/index.js';

const cases: { name: string; accept: string | undefined; want: OpenAPIV2Format | undefined }[] = [
  { name: 'no Accept header gets JSON', accept: undefined, want: 'json' },
  { name: 'an empty Accept header gets JSON', accept: '', want: 'json' },
  { name: 'anything gets JSON, the first served type', accept: '*/*', want: 'json' },
  { name: 'kubectl and client-go ask for the @v1.0 spelling and get protobuf', accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf', want: 'protobuf' },
  { name: 'the valid media type spelling gets protobuf', accept: 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf', want: 'protobuf' },
  { name: 'JSON asked for gets JSON', accept: 'application/json', want: 'json' },
  { name: 'the first acceptable clause wins', accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json', want: 'protobuf' },
  { name: 'a higher quality wins over order', accept: 'application/json;q=0.5, application/com.github.proto-openapi.spec.v2@v1.0+protobuf', want: 'protobuf' },
  { name: 'a specific type wins over a wildcard of the same quality', accept: '*/*, application/com.github.proto-openapi.spec.v2@v1.0+protobuf', want: 'protobuf' },
  { name: 'a type wildcard of application gets JSON', accept: 'application/*', want: 'json' },
  { name: 'quality zero means not acceptable', accept: 'application/json;q=0', want: undefined },
  { name: 'nothing served acceptable means 406', accept: 'application/yaml, text/html', want: undefined },
];

for (const c of cases) {
  test(`openapiV2FormatFor: ${c.name}`, () => {
    assert.equal(openapiV2FormatFor(c.accept), c.want);
  });
}
