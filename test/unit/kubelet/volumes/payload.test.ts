import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigMap, Pod, Secret } from 'kubernetes-types/core/v1.js';
import { aggregateMessage, configMapPayload, downwardAPIPayload, extractFieldPathAsString, extractResourceValue, formatMap, goQuote, secretPayload } from '../../../../src/kubelet/volumes/payload.js';
import type { Payload } from '../../../../src/kubelet/volumes/atomicWriter.js';

const show = (p: Payload) => Object.fromEntries([...p].map(([k, v]) => [k, `${v.mode.toString(8)}:${v.data.toString('utf8')}`]));

const cm: ConfigMap = { data: { 'app.conf': 'port=80', mode: 'prod' }, binaryData: { 'logo.bin': Buffer.from('BIN').toString('base64') } };
const secret: Secret = { data: { password: Buffer.from('s3cret').toString('base64'), user: Buffer.from('admin').toString('base64') } };

describe('configMap and secret payloads (upstream MakePayload)', () => {
  const cases: Array<{ name: string; build: () => Payload; want?: Record<string, string>; error?: string }> = [
    { name: 'every key of data and binaryData becomes a file with the default mode', build: () => configMapPayload(undefined, cm, 0o644, false), want: { 'app.conf': '644:port=80', mode: '644:prod', 'logo.bin': '644:BIN' } },
    { name: 'items pick keys, rename them, and an item mode wins over the default', build: () => configMapPayload([{ key: 'mode', path: 'env/mode', mode: 0o400 }, { key: 'logo.bin', path: 'logo' }], cm, 0o600, false), want: { 'env/mode': '400:prod', logo: '600:BIN' } },
    { name: 'a missing key of a required configMap is upstream\'s error', build: () => configMapPayload([{ key: 'nope', path: 'x' }], cm, 0o644, false), error: 'configmap references non-existent config key: nope' },
    { name: 'a missing key of an optional configMap is skipped', build: () => configMapPayload([{ key: 'nope', path: 'x' }, { key: 'mode', path: 'm' }], cm, 0o644, true), want: { m: '644:prod' } },
    { name: 'secret values are base64-decoded', build: () => secretPayload(undefined, secret, 0o640, false), want: { password: '640:s3cret', user: '640:admin' } },
    { name: 'a missing secret key is upstream\'s error', build: () => secretPayload([{ key: 'token', path: 't' }], secret, 0o644, false), error: 'references non-existent secret key: token' },
    { name: 'an optional secret that does not exist gives an empty volume', build: () => secretPayload(undefined, {}, 0o644, true), want: {} },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.error) assert.throws(c.build, { message: c.error });
      else assert.deepEqual(show(c.build()), c.want);
    });
  }
});

const pod: Pod = {
  metadata: { name: 'web-0', namespace: 'shop', uid: 'u-1', labels: { zone: 'b', app: 'web' }, annotations: { note: 'say "hi"\n' } },
  spec: {
    containers: [
      { name: 'main', image: 'x', resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '250m', memory: '64Mi' } } },
      { name: 'side', image: 'x' },
    ],
  },
};
const allocatable = { cpu: '4', memory: '8Gi' };

describe('downward API values (upstream fieldpath and resource extraction)', () => {
  const fields: Array<[string, string, string]> = [
    ['metadata.name is the pod name', 'metadata.name', 'web-0'],
    ['metadata.namespace is the namespace', 'metadata.namespace', 'shop'],
    ['metadata.uid is the uid', 'metadata.uid', 'u-1'],
    ['metadata.labels are sorted key="value" lines without a trailing newline', 'metadata.labels', 'app="web"\nzone="b"'],
    ['metadata.annotations are Go-quoted', 'metadata.annotations', 'note="say \\"hi\\"\\n"'],
    ["a subscripted label is its raw value", "metadata.labels['zone']", 'b'],
    ['a subscripted annotation that is missing is empty', "metadata.annotations['absent']", ''],
  ];
  for (const [name, path, want] of fields) it(name, () => assert.equal(extractFieldPathAsString(pod, path), want));

  it('refuses fields a volume cannot show, with upstream\'s message', () => {
    assert.throws(() => extractFieldPathAsString(pod, 'spec.nodeName'), { message: 'unsupported fieldPath: spec.nodeName' });
    assert.throws(() => extractFieldPathAsString(pod, "metadata.name['x']"), { message: `fieldPath "metadata.name['x']" does not support subscript` });
  });

  const resources: Array<[string, string, string | undefined, string, string]> = [
    ['limits.cpu in cores rounds up', 'limits.cpu', undefined, 'main', '1'],
    ['limits.cpu with divisor 1m is millicores', 'limits.cpu', '1m', 'main', '500'],
    ['requests.memory with divisor 1Mi', 'requests.memory', '1Mi', 'main', '64'],
    ['limits.memory in bytes', 'limits.memory', undefined, 'main', String(128 * 1024 * 1024)],
    ['an unset limit is the node allocatable', 'limits.memory', '1Gi', 'side', '8'],
    ['an unset cpu limit is the node allocatable cpu', 'limits.cpu', undefined, 'side', '4'],
    ['an unset request is 0', 'requests.cpu', '1m', 'side', '0'],
  ];
  for (const [name, resource, divisor, container, want] of resources) {
    it(name, () => assert.equal(extractResourceValue({ resource, ...(divisor ? { divisor } : {}) }, pod, container, allocatable), want));
  }

  it('collects a volume with modes and aggregates errors as upstream', () => {
    const r = downwardAPIPayload(
      [
        { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
        { path: 'cpu', mode: 0o600, resourceFieldRef: { containerName: 'main', resource: 'limits.cpu', divisor: '1m' } },
      ],
      pod,
      0o644,
      allocatable,
    );
    assert.deepEqual(r.errors, []);
    assert.deepEqual(show(r.payload), { labels: '644:app="web"\nzone="b"', cpu: '600:500' });
    const bad = downwardAPIPayload([{ path: 'a', fieldRef: { fieldPath: 'spec.x' } }, { path: 'b', resourceFieldRef: { containerName: 'ghost', resource: 'limits.cpu' } }], pod, 0o644, allocatable);
    assert.equal(aggregateMessage(bad.errors), '[unsupported fieldPath: spec.x, container ghost not found]');
  });

  it('formats maps and quotes like Go', () => {
    assert.equal(formatMap({}), '');
    assert.equal(goQuote('tab\there\u0001é'), '"tab\\there\\x01é"');
  });
});
