// The Endpoints and EndpointSlice controllers against a real `k8ts server` with the real kubectl
// and a fake kubelet: a Service's ready pods become addresses, a pod turning NotReady moves to
// notReadyAddresses / ready:false, headless Services get hostnames and the headless label, and
// everything goes with the Service.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Endpoints } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { newEndpointsController } from '../../../src/controllers/endpoints/endpointsController.js';
import { newEndpointSliceController } from '../../../src/controllers/endpointslice/endpointSliceController.js';
import { controllerHarness, type Harness } from '../../support/controllerHarness.js';
import { startFakeKubelet } from '../../support/fakeKubelet.js';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';
import { waitFor } from '../../support/waitFor.js';

const podYaml = (name: string, labels: Record<string, string>, extra = '') => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels: ${JSON.stringify(labels)}
spec:
${extra}  containers:
  - name: app
    image: nginx
    ports: [{name: http, containerPort: 8080}]
`;

describe('endpoint-controller and endpointslice-controller', () => {
  let s: RunningServer;
  let h: Harness;
  let kubelet: { stop(): Promise<void> };

  const ok = async (args: string[], input?: string) => {
    const r = await s.kubectl(args, input === undefined ? {} : { input });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const getJSON = async <T>(args: string[]): Promise<T | undefined> => {
    const r = await s.kubectl([...args, '-o', 'json']);
    return r.code === 0 ? (JSON.parse(r.stdout) as T) : undefined;
  };

  before(async () => {
    s = await startK8tsServer(['--disable-agent', '--disable-controller-manager']);
    h = await controllerHarness(s.kubeconfig);
    kubelet = await startFakeKubelet(h.client, { nodes: ['n1'] });
    h.run(newEndpointsController(h.ctx), newEndpointSliceController(h.ctx));
  });
  after(async () => {
    await kubelet?.stop();
    await h?.stop();
    await s?.stop();
  });

  it('lists three ready pods as three addresses and one EndpointSlice, and moves a NotReady pod aside', async () => {
    for (const n of ['web-0', 'web-1', 'web-2']) await ok(['apply', '-f', '-'], podYaml(n, { app: 'web' }));
    await ok(['apply', '-f', '-'], 'apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {tier: front}}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: http}]\n');
    const ep = await waitFor('3 ready addresses', async () => {
      const e = await getJSON<Endpoints>(['get', 'endpoints', 'web']);
      return e?.subsets?.[0]?.addresses?.length === 3 ? e : undefined;
    });
    assert.deepEqual(ep.subsets![0]!.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
    assert.deepEqual(ep.subsets![0]!.addresses!.map((a) => a.targetRef?.name).sort(), ['web-0', 'web-1', 'web-2']);
    assert.equal(ep.subsets![0]!.addresses![0]!.nodeName, 'n1');
    assert.equal(ep.metadata?.labels?.tier, 'front');
    assert.ok(ep.metadata?.annotations?.['endpoints.kubernetes.io/last-change-trigger-time']);
    assert.match(await ok(['get', 'endpoints', 'web']), /:8080/);

    const slice = await waitFor('a slice with 3 ready endpoints', async () => {
      const l = await getJSON<{ items: EndpointSlice[] }>(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=web']);
      return l?.items.length === 1 && l.items[0]!.endpoints?.filter((e) => e.conditions?.ready).length === 3 ? l.items[0] : undefined;
    });
    assert.equal(slice.addressType, 'IPv4');
    assert.match(slice.metadata!.name!, /^web-[a-z0-9]{5}$/);
    assert.equal(slice.metadata?.labels?.['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io');
    assert.equal(slice.metadata?.ownerReferences?.[0]?.kind, 'Service');
    assert.deepEqual(slice.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);

    // web-1 fails its readiness probe.
    const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await ok(['patch', 'pod', 'web-1', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: t }] } })]);
    const ep2 = await waitFor('web-1 not ready', async () => {
      const e = await getJSON<Endpoints>(['get', 'endpoints', 'web']);
      return e?.subsets?.[0]?.notReadyAddresses?.length === 1 ? e : undefined;
    });
    assert.equal(ep2.subsets![0]!.notReadyAddresses![0]!.targetRef?.name, 'web-1');
    assert.equal(ep2.subsets![0]!.addresses!.length, 2);
    const slice2 = await waitFor('web-1 ready:false in its slice', async () => {
      const l = await getJSON<{ items: EndpointSlice[] }>(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=web']);
      const e = l?.items[0]?.endpoints?.find((x) => x.targetRef?.name === 'web-1');
      return e?.conditions?.ready === false ? l!.items : undefined;
    });
    assert.equal(slice2.length, 1, 'the same slice is updated, not replaced');
    assert.equal(slice2[0]!.metadata?.name, slice.metadata?.name);
    assert.deepEqual(slice2[0]!.endpoints!.find((x) => x.targetRef?.name === 'web-1')!.conditions, { ready: false, serving: false, terminating: false });

    await ok(['delete', 'service', 'web']);
    await waitFor('Endpoints gone with the Service', async () => (await s.kubectl(['get', 'endpoints', 'web'])).code !== 0);
    await waitFor('slices gone with the Service', async () => (await getJSON<{ items: unknown[] }>(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=web']))?.items.length === 0);
  });

  it('publishes hostnames of a headless Service with publishNotReadyAddresses, labels it headless, and leaves selectorless Services alone', async () => {
    await ok(['apply', '-f', '-'], 'apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec:\n  clusterIP: None\n  publishNotReadyAddresses: true\n  selector: {app: db}\n  ports: [{port: 5432}]\n');
    await ok(['apply', '-f', '-'], podYaml('db-0', { app: 'db' }, '  hostname: db-0\n  subdomain: db\n'));
    const ep = await waitFor('db-0 with its hostname', async () => {
      const e = await getJSON<Endpoints>(['get', 'endpoints', 'db']);
      return e?.subsets?.[0]?.addresses?.[0]?.hostname === 'db-0' ? e : undefined;
    });
    assert.equal(ep.metadata?.labels?.['service.kubernetes.io/headless'], '');
    assert.deepEqual(ep.subsets![0]!.ports, [{ port: 5432, protocol: 'TCP' }]);
    const l = await waitFor('a headless slice', async () => {
      const x = await getJSON<{ items: EndpointSlice[] }>(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=db']);
      return x?.items.find((i) => i.endpoints?.length) ? x : undefined;
    });
    const withEp = l.items.find((i) => i.endpoints?.length)!;
    assert.equal(withEp.endpoints![0]!.hostname, 'db-0');
    assert.equal(withEp.metadata?.labels?.['service.kubernetes.io/headless'], '');

    // A Service without selector: its Endpoints are the user's.
    await ok(['apply', '-f', '-'], 'apiVersion: v1\nkind: Service\nmetadata: {name: ext}\nspec:\n  ports: [{port: 80}]\n');
    await ok(['apply', '-f', '-'], 'apiVersion: v1\nkind: Endpoints\nmetadata: {name: ext}\nsubsets: [{addresses: [{ip: 192.0.2.10}], ports: [{port: 80}]}]\n');
    await new Promise((r) => setTimeout(r, 1000));
    const ext = await getJSON<Endpoints>(['get', 'endpoints', 'ext']);
    assert.equal(ext?.subsets?.[0]?.addresses?.[0]?.ip, '192.0.2.10');
    const kube = await getJSON<Endpoints>(['get', 'endpoints', 'kubernetes', '-n', 'default']);
    assert.ok(kube?.subsets?.[0]?.addresses?.length, 'the API server keeps its own Endpoints');
  });
});
