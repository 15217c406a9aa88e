// Cases restate upstream strategicpatch's own expectations (its testdata of original, patch and
// result) with Pod and Deployment shapes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PatchError, strategicMergePatch, type JsonObject, type JsonValue } from '../../../src/api/patch/index.js';
import type { SchemaNode } from '../../../src/api/schema.js';
import { deployment, pod, widget } from './schemaFixture.js';

/** A container (or any named item) with extra fields. */
const c = (name: string, extra: JsonObject = {}): JsonObject => ({ name, ...extra });
const spec = (s: JsonObject): JsonObject => ({ spec: s });
const meta = (m: JsonObject): JsonObject => ({ metadata: m });
const names = (...n: string[]): JsonObject[] => n.map((x) => c(x));

type Case = [name: string, original: JsonObject, patch: JsonValue, want: JsonObject, schema?: SchemaNode | null];

function run(cases: Case[]): void {
  for (const [name, original, patch, want, schema] of cases) {
    it(name, () => {
      const before = structuredClone(original);
      const got = strategicMergePatch(original, patch, schema === null ? undefined : (schema ?? pod));
      assert.deepEqual(got, want);
      assert.deepEqual(original, before, 'the original is not modified');
    });
  }
}

describe('strategicMergePatch on maps', () => {
  run([
    ['leaves the object as it was for an empty patch', meta({ labels: { app: 'web' } }), {}, meta({ labels: { app: 'web' } })],
    ['leaves the object as it was for a null patch', meta({ labels: { app: 'web' } }), null, meta({ labels: { app: 'web' } })],
    ['adds a label and keeps the others', meta({ labels: { app: 'web' } }), meta({ labels: { tier: 'fe' } }), meta({ labels: { app: 'web', tier: 'fe' } })],
    ['deletes a label set to null', meta({ labels: { app: 'web', tier: 'fe' } }), meta({ labels: { tier: null } }), meta({ labels: { app: 'web' } })],
    ['ignores null for a label that is not there', meta({ labels: { app: 'web' } }), meta({ labels: { tier: null } }), meta({ labels: { app: 'web' } })],
    ['empties a map whose patch says $patch: delete', meta({ labels: { app: 'web', tier: 'fe' } }), meta({ labels: { $patch: 'delete' } }), meta({ labels: {} })],
    ['keeps only the patch keys of a map whose patch says $patch: replace', meta({ labels: { app: 'web', tier: 'fe' } }), meta({ labels: { $patch: 'replace', env: 'prod' } }), meta({ labels: { env: 'prod' } })],
    ['replaces the whole object with an empty one for a lone top-level $patch: replace', { kind: 'Pod', spec: { restartPolicy: 'Always' } }, { $patch: 'replace' }, {}],
    ['replaces the whole object with the patch for a top-level $patch: replace with fields', { kind: 'Pod', spec: { restartPolicy: 'Always' } }, { $patch: 'replace', kind: 'Pod' }, { kind: 'Pod' }],
    ['takes the patch value when a field changes type', spec({ nodeSelector: 'disk=ssd' }), spec({ nodeSelector: { disk: 'ssd' } }), spec({ nodeSelector: { disk: 'ssd' } })],
    ['drops nulls inside a map it adds', meta({ name: 'web' }), meta({ annotations: { a: '1', b: null } }), meta({ name: 'web', annotations: { a: '1' } })],
    ['does not add a new field whose value is a $patch map', meta({ name: 'web' }), meta({ labels: { $patch: 'delete' } }), meta({ name: 'web' })],
    ['merges an atomic-for-apply map (nodeSelector) key by key, since it has no patch strategy', spec({ nodeSelector: { disk: 'ssd' } }), spec({ nodeSelector: { zone: 'a' } }), spec({ nodeSelector: { disk: 'ssd', zone: 'a' } })],
  ]);
});

describe('strategicMergePatch on lists merged by key', () => {
  run([
    ['changes the image of one container and keeps the others', spec({ containers: [c('app', { image: 'nginx:1' }), c('sidecar', { image: 'envoy' })] }), spec({ containers: [c('app', { image: 'nginx:2' })] }), spec({ containers: [c('app', { image: 'nginx:2' }), c('sidecar', { image: 'envoy' })] })],
    ['places a new container before the live ones, as upstream orders a merge without $setElementOrder', spec({ containers: [c('app')] }), spec({ containers: [c('log', { image: 'busybox' })] }), spec({ containers: [c('log', { image: 'busybox' }), c('app')] })],
    ['keeps the patch order for the containers the patch names', spec({ containers: [c('a'), c('b', { image: 'b' }), c('c')] }), spec({ containers: [c('c', { image: 'c2' }), c('a', { image: 'a2' }), c('b', { imagePullPolicy: 'Always' })] }), spec({ containers: [c('c', { image: 'c2' }), c('a', { image: 'a2' }), c('b', { image: 'b', imagePullPolicy: 'Always' })] })],
    ['puts a container the patch does not name where the live list had it', spec({ containers: [c('a'), c('b', { image: 'b' }), c('c')] }), spec({ containers: [c('c', { image: 'c2' }), c('a', { image: 'a2' })] }), spec({ containers: [c('b', { image: 'b' }), c('c', { image: 'c2' }), c('a', { image: 'a2' })] })],
    ['deletes a container with $patch: delete', spec({ containers: names('app', 'sidecar') }), spec({ containers: [{ name: 'sidecar', $patch: 'delete' }] }), spec({ containers: names('app') })],
    ['changes nothing when deleting a container that is not there', spec({ containers: names('app') }), spec({ containers: [{ name: 'ghost', $patch: 'delete' }] }), spec({ containers: names('app') })],
    ['adds one container and deletes another in one patch', spec({ containers: names('app', 'sidecar') }), spec({ containers: [c('log'), { name: 'sidecar', $patch: 'delete' }] }), spec({ containers: names('log', 'app') })],
    ['deletes every duplicate of a deleted key', spec({ containers: [c('x', { env: [c('A'), c('A'), c('B', { value: 'b' }), c('C'), c('C')] })] }), spec({ containers: [c('x', { env: [{ name: 'A', $patch: 'delete' }, { name: 'C', $patch: 'delete' }] })] }), spec({ containers: [c('x', { env: [c('B', { value: 'b' })] })] })],
    ['makes the other patch items the whole list with a $patch: replace item', spec({ containers: names('a', 'b') }), spec({ containers: [c('c', { image: 'x' }), { $patch: 'replace' }] }), spec({ containers: [c('c', { image: 'x' })] })],
    ['empties the list with a lone $patch: replace item', spec({ containers: names('a', 'b') }), spec({ containers: [{ $patch: 'replace' }] }), spec({ containers: [] })],
    ['removes a field of one container set to null', spec({ containers: [c('app', { image: 'x', imagePullPolicy: 'Always' })] }), spec({ containers: [c('app', { imagePullPolicy: null })] }), spec({ containers: [c('app', { image: 'x' })] })],
    ['merges env by name inside the container merged by name', spec({ containers: [c('app', { env: [c('A', { value: '1' }), c('B', { value: '2' })] })] }), spec({ containers: [c('app', { env: [c('B', { value: '3' })] })] }), spec({ containers: [c('app', { env: [c('A', { value: '1' }), c('B', { value: '3' })] })] })],
    ['merges ports by containerPort', spec({ containers: [c('app', { ports: [{ containerPort: 80 }, { containerPort: 443 }] })] }), spec({ containers: [c('app', { ports: [{ containerPort: 80, name: 'http' }] })] }), spec({ containers: [c('app', { ports: [{ containerPort: 80, name: 'http' }, { containerPort: 443 }] })] })],
    ['leaves the list alone for an empty patch list', spec({ containers: names('a') }), spec({ containers: [] }), spec({ containers: names('a') })],
    ['replaces args whole, since that list has no merge strategy', spec({ containers: [c('app', { args: ['-v', '-x'] })] }), spec({ containers: [c('app', { args: ['-q'] })] }), spec({ containers: [c('app', { args: ['-q'] })] })],
    ['replaces tolerations whole, since that list has no merge strategy', spec({ tolerations: [{ key: 'a' }, { key: 'b' }] }), spec({ tolerations: [{ key: 'c' }] }), spec({ tolerations: [{ key: 'c' }] })],
    ['keeps a $patch: delete item of a replaced list as a plain item, as the typed decode upstream does', spec({ tolerations: [{ key: 'a' }] }), spec({ tolerations: [{ key: 'b', $patch: 'delete' }] }), spec({ tolerations: [{ key: 'b' }] })],
    ['deletes a whole list set to null', spec({ tolerations: [{ key: 'a' }] }), spec({ tolerations: null }), spec({})],
  ]);
});

describe('strategicMergePatch on lists of scalars with merge strategy (finalizers)', () => {
  run([
    ['unions finalizers without duplicates', meta({ finalizers: ['a', 'b'] }), meta({ finalizers: ['b', 'c'] }), meta({ finalizers: ['a', 'b', 'c'] })],
    ['keeps the patch order for the finalizers the patch names', meta({ finalizers: ['a', 'b', 'c'] }), meta({ finalizers: ['c', 'a', 'b'] }), meta({ finalizers: ['c', 'a', 'b'] })],
    ['puts a finalizer the patch does not name where the live list had it', meta({ finalizers: ['a', 'b', 'c'] }), meta({ finalizers: ['c', 'a'] }), meta({ finalizers: ['b', 'c', 'a'] })],
    ['removes a finalizer listed in $deleteFromPrimitiveList', meta({ finalizers: ['a', 'b', 'c'] }), meta({ '$deleteFromPrimitiveList/finalizers': ['b'] }), meta({ finalizers: ['a', 'c'] })],
    ['changes nothing when $deleteFromPrimitiveList names an absent finalizer', meta({ finalizers: ['a', 'b'] }), meta({ '$deleteFromPrimitiveList/finalizers': ['z'] }), meta({ finalizers: ['a', 'b'] })],
    ['does not create the list for $deleteFromPrimitiveList', meta({ name: 'web' }), meta({ '$deleteFromPrimitiveList/finalizers': ['z'] }), meta({ name: 'web' })],
    ['leaves a null list null for $deleteFromPrimitiveList', meta({ finalizers: null }), meta({ '$deleteFromPrimitiveList/finalizers': ['z'] }), meta({ finalizers: null })],
    ['applies $deleteFromPrimitiveList to a list without merge strategy too', spec({ containers: [c('app', { args: ['x', 'y', 'z'] })] }), spec({ containers: [c('app', { '$deleteFromPrimitiveList/args': ['y'] })] }), spec({ containers: [c('app', { args: ['x', 'z'] })] })],
    ['deletes and keeps the order of $setElementOrder, server-only items kept', meta({ finalizers: ['a', 'b', 'c', 'd'] }), meta({ '$setElementOrder/finalizers': ['a', 'b'], '$deleteFromPrimitiveList/finalizers': ['c'] }), meta({ finalizers: ['a', 'b', 'd'] })],
    ['deletes every duplicate listed in $deleteFromPrimitiveList', meta({ finalizers: ['a', 'b', 'c', 'c', 'd'] }), meta({ '$setElementOrder/finalizers': ['a', 'b'], '$deleteFromPrimitiveList/finalizers': ['c'] }), meta({ finalizers: ['a', 'b', 'd'] })],
    ['adds, deletes and orders in one patch', meta({ finalizers: ['a', 'b', 'c'] }), meta({ '$setElementOrder/finalizers': ['a', 'b', 'd'], '$deleteFromPrimitiveList/finalizers': ['c'], finalizers: ['d'] }), meta({ finalizers: ['a', 'b', 'd'] })],
    ['orders by $setElementOrder and keeps a server-only finalizer at the end', meta({ finalizers: ['1', '3', '4', '2', '9'] }), meta({ '$setElementOrder/finalizers': ['4', '2', '3', '1'] }), meta({ finalizers: ['4', '2', '3', '1', '9'] })],
    ['orders by $setElementOrder and keeps a server-only finalizer after its live predecessor', meta({ finalizers: ['1', '2', '9', '3', '4'] }), meta({ '$setElementOrder/finalizers': ['2', '1', '4', '3'] }), meta({ finalizers: ['2', '1', '9', '4', '3'] })],
    ['orders by $setElementOrder and keeps a run of server-only finalizers together', meta({ finalizers: ['1', '2', '7', '9', '8', '3', '4'] }), meta({ '$setElementOrder/finalizers': ['2', '1', '4', '3'] }), meta({ finalizers: ['2', '1', '7', '9', '8', '4', '3'] })],
    ['ignores $setElementOrder entries absent from the list', meta({ finalizers: ['1', '3'] }), meta({ '$setElementOrder/finalizers': ['3', '2', '1'] }), meta({ finalizers: ['3', '1'] })],
    ['keeps duplicates of the live list together when ordering', meta({ finalizers: ['1', '2', '3', '2', '4'] }), meta({ '$setElementOrder/finalizers': ['2', '1', '4', '3', '2'] }), meta({ finalizers: ['2', '2', '1', '4', '3'] })],
  ]);
});

describe('strategicMergePatch with $setElementOrder on containers', () => {
  const ordered = (...n: string[]): JsonObject[] => n.map((x) => ({ name: x }));
  run([
    ['reorders the containers and merges nothing else', spec({ containers: [c('1', { other: 'a' }), c('3'), c('4'), c('2')] }), spec({ '$setElementOrder/containers': ordered('4', '2', '3', '1') }), spec({ containers: [c('4'), c('2'), c('3'), c('1', { other: 'a' })] })],
    ['keeps a server-only container last when it was last', spec({ containers: names('1', '3', '4', '2', '9') }), spec({ '$setElementOrder/containers': ordered('4', '2', '3', '1') }), spec({ containers: names('4', '2', '3', '1', '9') })],
    ['keeps a server-only container after the container it followed', spec({ containers: names('1', '2', '9', '3', '4') }), spec({ '$setElementOrder/containers': ordered('2', '1', '4', '3') }), spec({ containers: names('2', '1', '9', '4', '3') })],
    ['keeps a run of server-only containers together', spec({ containers: names('1', '2', '7', '9', '8', '3', '4') }), spec({ '$setElementOrder/containers': ordered('2', '1', '4', '3') }), spec({ containers: names('2', '1', '7', '9', '8', '4', '3') })],
    ['adds a container at the place $setElementOrder gives', spec({ containers: [c('1', { other: 'a' }), c('2', { value: '2' })] }), spec({ '$setElementOrder/containers': ordered('3', '1', '2'), containers: [c('3', { value: '3' })] }), spec({ containers: [c('3', { value: '3' }), c('1', { other: 'a' }), c('2', { value: '2' })] })],
    ['adds several containers at the places $setElementOrder gives', spec({ containers: names('1', '2') }), spec({ '$setElementOrder/containers': ordered('1', '4', '2', '3'), containers: [c('4', { value: '4' }), c('3', { value: '3' })] }), spec({ containers: [c('1'), c('4', { value: '4' }), c('2'), c('3', { value: '3' })] })],
    ['ignores $setElementOrder entries absent from the merged list', spec({ containers: names('1', '3') }), spec({ '$setElementOrder/containers': ordered('3', '2', '1'), containers: [c('3', { value: '3' }), c('1', { value: '1' })] }), spec({ containers: [c('3', { value: '3' }), c('1', { value: '1' })] })],
    ['places a new container first and a server-only one after it when the order only names the new one', spec({ containers: names('hello2') }), spec({ '$setElementOrder/containers': ordered('hello', 'doesntexist'), containers: [c('hello')] }), spec({ containers: names('hello', 'hello2') })],
    ['drops a $patch: delete item of a list that did not exist', spec({ restartPolicy: 'Always' }), spec({ containers: [c('hello'), { name: 'doesntexist', $patch: 'delete' }] }), spec({ restartPolicy: 'Always', containers: names('hello') })],
    ['groups duplicates of the live list when ordering', spec({ containers: [c('1'), c('2', { value: 'dup1' }), c('3'), c('2', { value: 'dup2' }), c('4')] }), spec({ '$setElementOrder/containers': ordered('2', '1', '4', '3', '2') }), spec({ containers: [c('2', { value: 'dup1' }), c('2', { value: 'dup2' }), c('1'), c('4'), c('3')] })],
    ['deletes and reorders in one list while reordering another', spec({ containers: [c('a', { value: 'a' }), c('b', { value: 'b' })], initContainers: [c('c', { value: 'c' }), c('d', { value: 'd' })] }), spec({ '$setElementOrder/containers': ordered('b'), '$setElementOrder/initContainers': ordered('d', 'c'), containers: [{ name: 'a', $patch: 'delete' }] }), spec({ containers: [c('b', { value: 'b' })], initContainers: [c('d', { value: 'd' }), c('c', { value: 'c' })] })],
  ]);
});

describe('strategicMergePatch with $retainKeys', () => {
  const rolling = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } };
  run([
    ['clears the rolling update when the strategy becomes Recreate', spec({ strategy: rolling }), spec({ strategy: { $retainKeys: ['type'], type: 'Recreate' } }), spec({ strategy: { type: 'Recreate' } }), deployment],
    ['clears a defaulted field that the patch does not retain', spec({ strategy: { type: 'RollingUpdate' } }), spec({ strategy: { $retainKeys: ['rollingUpdate'], rollingUpdate: { maxSurge: 2 } } }), spec({ strategy: { rollingUpdate: { maxSurge: 2 } } }), deployment],
    ['switches a volume source from configMap to emptyDir', spec({ volumes: [c('data', { configMap: { name: 'cfg' } }), c('tmp', { emptyDir: {} })] }), spec({ volumes: [c('data', { $retainKeys: ['name', 'emptyDir'], emptyDir: {} })] }), spec({ volumes: [c('data', { emptyDir: {} }), c('tmp', { emptyDir: {} })] })],
    ['merges as usual without the directive', spec({ strategy: rolling }), spec({ strategy: { rollingUpdate: { maxUnavailable: 0 } } }), spec({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } }), deployment],
    ['deletes a field set to null without the directive', spec({ strategy: rolling }), spec({ strategy: { rollingUpdate: null } }), spec({ strategy: { type: 'RollingUpdate' } }), deployment],
    ['accepts a null for a key it does not retain', spec({ strategy: rolling }), spec({ strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: null } }), spec({ strategy: { type: 'Recreate' } }), deployment],
    ['drops the directive from a map it adds', spec({}), spec({ strategy: { $retainKeys: ['type'], type: 'Recreate' } }), spec({ strategy: { type: 'Recreate' } }), deployment],
  ]);
});

describe('strategicMergePatch without a schema, or below fields the schema does not know', () => {
  run([
    ['replaces a list whole when there is no schema', spec({ containers: [c('a', { image: 'x' }), c('b')] }), spec({ containers: [c('a', { image: 'y' })] }), spec({ containers: [c('a', { image: 'y' })] }), null],
    ['merges maps and deletes nulls when there is no schema', spec({ size: 1, labels: { a: '1', b: '2' } }), spec({ labels: { b: null, c: '3' } }), spec({ size: 1, labels: { a: '1', c: '3' } }), null],
    ['still honours $patch when there is no schema', spec({ labels: { a: '1' } }), spec({ labels: { $patch: 'replace', b: '2' } }), spec({ labels: { b: '2' } }), null],
    ['replaces lists below a field the schema does not know', spec({ extra: { items: ['a', 'b'] } }), spec({ extra: { items: ['c'] } }), spec({ extra: { items: ['c'] } })],
    ['replaces lists below fields a custom resource keeps unknown', spec({ size: 1, items: [c('a'), c('b')] }), spec({ items: [c('c')] }), spec({ size: 1, items: [c('c')] }), widget],
  ]);
});

describe('strategicMergePatch refuses malformed patches and directives', () => {
  const cases: Array<[string, JsonObject, unknown, PatchError['code'], RegExp]> = [
    ['$patch: merge in a map, which upstream does not accept', meta({ labels: { a: '1' } }), meta({ labels: { $patch: 'merge', b: '2' } }), 'BadRequest', /^unknown patch type: merge in map: map\[\$patch:merge b:2\]$/],
    ['$patch: merge in a list item', spec({ containers: names('a') }), spec({ containers: [{ name: 'a', $patch: 'merge' }] }), 'BadRequest', /^merging lists cannot yet be specified in the patch$/],
    ['an unknown $patch value in a list item', spec({ containers: names('a') }), spec({ containers: [{ name: 'a', $patch: 'frobnicate' }] }), 'BadRequest', /^unknown patch type: frobnicate in map: map\[\$patch:frobnicate name:a\]$/],
    ['a container without its merge key', spec({ containers: [c('a', { image: 'x' })] }), spec({ containers: [{ image: 'y' }] }), 'BadRequest', /^map: map\[image:y\] does not contain declared merge key: name$/],
    ['a $patch: delete item without its merge key', spec({ containers: names('a') }), spec({ containers: [{ $patch: 'delete' }] }), 'BadRequest', /does not contain declared merge key: name$/],
    ['a $setElementOrder list that contradicts the patch list', spec({ containers: names('1', '3', '2') }), spec({ '$setElementOrder/containers': names('1', '2', '3'), containers: [c('3', { value: '3' }), c('1', { value: '1' })] }), 'BadRequest', /doesn't match \$setElementOrder list/],
    ['a $setElementOrder list of finalizers that contradicts the patch list', meta({ finalizers: ['1', '3', '2'] }), meta({ '$setElementOrder/finalizers': ['1', '2', '3'], finalizers: ['3', '1'] }), 'BadRequest', /doesn't match \$setElementOrder list/],
    ['a $setElementOrder that is not a list', meta({ finalizers: ['a'] }), meta({ '$setElementOrder/finalizers': 'a' }), 'BadRequest', /^expected a \[\]interface \{\}, but received a string$/],
    ['a $setElementOrder key without a field', meta({ finalizers: ['a'] }), meta({ $setElementOrder: ['a'] }), 'BadRequest', /^invalid patch format of setElementOrder list$/],
    ['a $deleteFromPrimitiveList key with a mangled prefix', meta({ finalizers: ['a'] }), meta({ '$deleteFromPrimitiveListX/finalizers': ['a'] }), 'BadRequest', /^invalid patch format of primitive list$/],
    ['a $retainKeys that is not a list', spec({ strategy: { type: 'Recreate' } }), spec({ strategy: { $retainKeys: 'type', type: 'Recreate' } }), 'BadRequest', /^invalid patch format of retainKeys$/],
    ['a $retainKeys list that misses a key the patch sets', spec({ strategy: { type: 'Recreate' } }), spec({ strategy: { $retainKeys: ['type'], type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } }), 'BadRequest', /^invalid patch format of retainKeys$/],
    ['a list of lists in a merge list', meta({ finalizers: [] }), meta({ finalizers: [['a']] }), 'UnprocessableEntity', /^the server rejected our request due to an error in our request$/],
    ['a merge list mixing strings and numbers', meta({ finalizers: ['a'] }), meta({ finalizers: [1] }), 'BadRequest', /^list element types are not identical/],
    ['a patch that is a list', meta({}), [meta({})], 'BadRequest', /^json: cannot unmarshal array into Go value of type map\[string\]interface \{\}$/],
  ];
  for (const [name, original, patch, code, message] of cases) {
    it(`answers ${code} for ${name}`, () => {
      assert.throws(
        () => strategicMergePatch(original, patch, pod),
        (e: unknown) => e instanceof PatchError && e.code === code && message.test(e.message),
      );
    });
  }

  it('keeps the list-of-lists cause in detail, as upstream answers a bare 422', () => {
    assert.throws(
      () => strategicMergePatch(meta({ finalizers: [] }), meta({ finalizers: [['a']] }), pod),
      (e: unknown) => e instanceof PatchError && e.detail === 'lists of lists are not supported' && e.status === 422,
    );
  });
});
