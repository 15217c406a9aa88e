import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyJsonPatch, MAX_JSON_PATCH_OPERATIONS, PatchError, UNPROCESSABLE_MESSAGE, type JsonObject } from '../../../src/api/patch/index.js';

const pod = (): JsonObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', resourceVersion: '7', labels: { app: 'web' } },
  spec: {
    containers: [
      { name: 'app', image: 'nginx:1.25' },
      { name: 'sidecar', image: 'envoy:1.30' },
    ],
  },
});

describe('applyJsonPatch applies RFC 6902 operations', () => {
  const cases: Array<[string, unknown, (p: JsonObject) => void]> = [
    ['adds a label to the existing labels map', [{ op: 'add', path: '/metadata/labels/tier', value: 'frontend' }], (p) => {
      (p['metadata'] as { labels: Record<string, string> }).labels['tier'] = 'frontend';
    }],
    ['replaces the image of the first container by index', [{ op: 'replace', path: '/spec/containers/0/image', value: 'nginx:1.27' }], (p) => {
      ((p['spec'] as JsonObject)['containers'] as JsonObject[])[0]!['image'] = 'nginx:1.27';
    }],
    ['removes the second container by index', [{ op: 'remove', path: '/spec/containers/1' }], (p) => {
      ((p['spec'] as JsonObject)['containers'] as JsonObject[]).pop();
    }],
    ['appends a container with the "-" index', [{ op: 'add', path: '/spec/containers/-', value: { name: 'log', image: 'busybox' } }], (p) => {
      ((p['spec'] as JsonObject)['containers'] as JsonObject[]).push({ name: 'log', image: 'busybox' });
    }],
    ['copies a label into an annotation', [
      { op: 'add', path: '/metadata/annotations', value: {} },
      { op: 'copy', from: '/metadata/labels/app', path: '/metadata/annotations/app' },
    ], (p) => {
      (p['metadata'] as JsonObject)['annotations'] = { app: 'web' };
    }],
    ['moves a label to a new key', [{ op: 'move', from: '/metadata/labels/app', path: '/metadata/labels/name' }], (p) => {
      (p['metadata'] as JsonObject)['labels'] = { name: 'web' };
    }],
    ['applies the replace after a passing test of the resourceVersion', [
      { op: 'test', path: '/metadata/resourceVersion', value: '7' },
      { op: 'replace', path: '/metadata/labels/app', value: 'api' },
    ], (p) => {
      (p['metadata'] as JsonObject)['labels'] = { app: 'api' };
    }],
    ['escapes "/" in a label key as ~1, as kubectl users write it', [{ op: 'add', path: '/metadata/labels/app.kubernetes.io~1name', value: 'web' }], (p) => {
      (p['metadata'] as { labels: Record<string, string> }).labels['app.kubernetes.io/name'] = 'web';
    }],
    ['adds a member that is missing when asked to replace it, as upstream does', [{ op: 'replace', path: '/spec/nodeName', value: 'node-1' }], (p) => {
      (p['spec'] as JsonObject)['nodeName'] = 'node-1';
    }],
    ['counts a negative index from the end of the list, as upstream does', [{ op: 'replace', path: '/spec/containers/-1/image', value: 'envoy:1.31' }], (p) => {
      ((p['spec'] as JsonObject)['containers'] as JsonObject[])[1]!['image'] = 'envoy:1.31';
    }],
    ['passes a test for null when the member is missing, as upstream does', [{ op: 'test', path: '/spec/nodeName', value: null }], () => {}],
    ['treats a null patch as no operations', null, () => {}],
    ['treats an empty list as no operations', [], () => {}],
  ];
  for (const [name, ops, edit] of cases) {
    it(name, () => {
      const doc = pod();
      const want = pod();
      edit(want);
      assert.deepEqual(applyJsonPatch(doc, ops), want);
      assert.deepEqual(doc, pod(), 'the input document is not modified');
    });
  }
});

describe('applyJsonPatch refuses what upstream refuses', () => {
  const cases: Array<[string, unknown, PatchError['code'], string]> = [
    ['a failed test, answered with upstream generic 422', [{ op: 'test', path: '/metadata/resourceVersion', value: '6' }], 'UnprocessableEntity', 'testing value /metadata/resourceVersion failed: test failed'],
    ['removing a member that does not exist', [{ op: 'remove', path: '/spec/nodeName' }], 'UnprocessableEntity', 'remove operation does not apply: doc is missing path: "/spec/nodeName": missing value'],
    ['adding below a parent that does not exist', [{ op: 'add', path: '/spec/affinity/nodeAffinity', value: {} }], 'UnprocessableEntity', 'add operation does not apply: doc is missing path: "/spec/affinity/nodeAffinity": missing value'],
    ['an index past the end of the list', [{ op: 'add', path: '/spec/containers/5', value: {} }], 'UnprocessableEntity', "error in add for path: '/spec/containers/5': Unable to access invalid index: 5: invalid index referenced"],
    ['an operation upstream does not know', [{ op: 'frobnicate', path: '/spec' }], 'UnprocessableEntity', 'Unexpected kind: frobnicate'],
    ['an operation without op', [{ path: '/spec' }], 'UnprocessableEntity', 'Unexpected kind: unknown'],
    ['a copy from a path that does not exist', [{ op: 'copy', from: '/spec/nodeName', path: '/spec/hostname' }], 'UnprocessableEntity', 'copy operation does not apply: doc is missing from path: /spec/nodeName: missing value'],
    ['removing the whole document', [{ op: 'remove', path: '' }], 'UnprocessableEntity', 'remove operation does not apply: doc is missing path: "": missing value'],
    ['a patch that is an object instead of a list', { op: 'add' }, 'BadRequest', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch'],
    ['a patch whose operation is a string', ['add'], 'BadRequest', 'json: cannot unmarshal string into Go value of type jsonpatch.Operation'],
    ['replacing the document with a list', [{ op: 'replace', path: '', value: [1] }], 'Invalid', 'json: cannot unmarshal array into Go value of type map[string]interface {}'],
  ];
  for (const [name, ops, code, detail] of cases) {
    it(`answers ${code} for ${name}`, () => {
      assert.throws(
        () => applyJsonPatch(pod(), ops),
        (e: unknown) => e instanceof PatchError && e.code === code && e.detail === detail,
      );
    });
  }

  it('sends upstream generic text, not the cause, for operations that fail', () => {
    try {
      applyJsonPatch(pod(), [{ op: 'test', path: '/metadata/name', value: 'db' }]);
      assert.fail('expected an error');
    } catch (e) {
      assert.ok(e instanceof PatchError);
      assert.equal(e.message, UNPROCESSABLE_MESSAGE);
      assert.deepEqual([e.status, e.reason], [422, 'Invalid']);
      assert.deepEqual(e.toStatus(), {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: UNPROCESSABLE_MESSAGE,
        reason: 'Invalid',
        code: 422,
      });
    }
  });

  it('refuses more operations than upstream allows with 413', () => {
    const ops = Array.from({ length: MAX_JSON_PATCH_OPERATIONS + 1 }, () => ({ op: 'test', path: '/kind', value: 'Pod' }));
    assert.throws(
      () => applyJsonPatch(pod(), ops),
      (e: unknown) => e instanceof PatchError && e.code === 'RequestEntityTooLarge' && e.status === 413,
    );
  });

  it('leaves the input untouched when a later operation fails', () => {
    const doc = pod();
    assert.throws(() =>
      applyJsonPatch(doc, [
        { op: 'replace', path: '/metadata/labels/app', value: 'api' },
        { op: 'test', path: '/kind', value: 'Service' },
      ]),
    );
    assert.deepEqual(doc, pod());
  });
});
