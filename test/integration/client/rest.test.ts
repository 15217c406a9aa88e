// The REST client, watch, informers, leader election and event recorders against a real
// `k8ts server`, checked with the client itself and with kubectl.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConfigMap, Namespace, Pod, ServiceAccount } from 'kubernetes-types/core/v1.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { Event as EventsV1Event } from 'kubernetes-types/events/v1.js';
import type { Status } from 'kubernetes-types/meta/v1.js';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';
import {
  ApiError,
  EventRecorder,
  EventsRecorder,
  LeaderElector,
  RestClient,
  SharedInformerFactory,
  isAlreadyExists,
  isConflict,
  isNotFound,
  loadKubeconfigConfig,
  type ResourceClient,
  type WatchEvent,
} from '../../../src/client/index.js';

const until = async (what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

const cm = (namespace: string, name: string, data: Record<string, string> = {}, labels?: Record<string, string>): ConfigMap => ({
  metadata: { namespace, name, ...(labels ? { labels } : {}) },
  data,
});

describe('client against a k8ts server', () => {
  let s: RunningServer;
  let client: RestClient;
  let configmaps: ResourceClient<ConfigMap>;
  const ns = async (name: string) => {
    await client.resource<Namespace>('', 'v1', 'namespaces').create({ metadata: { name } });
  };

  before(async () => {
    s = await startK8tsServer(['--disable-agent']);
    client = new RestClient(await loadKubeconfigConfig({ path: s.kubeconfig }), { component: 'client-test', qps: -1 });
    configmaps = client.resourceFor<ConfigMap>('ConfigMap');
  });
  after(async () => {
    client?.close();
    await s?.stop();
  });

  it('creates, gets, pages through, updates with conflicts, patches and deletes objects', async () => {
    await ns('rest');
    for (let i = 0; i < 7; i++) await configmaps.create(cm('rest', `cm-${i}`, { i: String(i) }, { parity: i % 2 ? 'odd' : 'even' }));
    await assert.rejects(configmaps.create(cm('rest', 'cm-0')), (e: unknown) => isAlreadyExists(e) && (e as ApiError).code === 409);

    const got = await configmaps.get('rest', 'cm-3');
    assert.equal(got.data?.i, '3');
    assert.equal(got.kind, 'ConfigMap');

    const page1 = await configmaps.list({ namespace: 'rest', limit: 3 });
    assert.equal(page1.items.length, 3);
    assert.ok(page1.metadata?.continue, 'a first page of 3 out of 7 has a continue token');
    const page2 = await configmaps.list({ namespace: 'rest', limit: 3, continue: page1.metadata.continue });
    assert.equal(page2.items.length, 3);
    const all = await configmaps.listAll({ namespace: 'rest', limit: 3, labelSelector: 'parity' });
    assert.deepEqual(all.items.map((c) => c.metadata?.name).sort(), [0, 1, 2, 3, 4, 5, 6].map((i) => `cm-${i}`));
    assert.equal((await configmaps.list({ namespace: 'rest', labelSelector: { parity: 'odd' } })).items.length, 3);
    assert.equal((await configmaps.list({ namespace: 'rest', fieldSelector: 'metadata.name=cm-5' })).items.length, 1);

    const updated = await configmaps.update({ ...got, data: { i: 'three' } });
    assert.notEqual(updated.metadata?.resourceVersion, got.metadata?.resourceVersion);
    await assert.rejects(configmaps.update({ ...got, data: { i: 'stale' } }), (e: unknown) => isConflict(e) && (e as ApiError).code === 409);

    const merged = await configmaps.patch('rest', 'cm-3', { data: { extra: 'm' } }, { type: 'merge' });
    assert.deepEqual(merged.data, { i: 'three', extra: 'm' });
    const jsonPatched = await configmaps.patch('rest', 'cm-3', [{ op: 'remove', path: '/data/extra' }], { type: 'json' });
    assert.deepEqual(jsonPatched.data, { i: 'three' });
    const strategic = await configmaps.patch('rest', 'cm-3', { metadata: { labels: { s: 'y' } } }, { type: 'strategic' });
    assert.equal(strategic.metadata?.labels?.s, 'y');
    const applied = await configmaps.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'rest', name: 'applied' }, data: { a: '1' } }, 'client-test');
    assert.equal(applied.data?.a, '1');
    assert.ok(applied.metadata?.managedFields?.some((f) => f.manager === 'client-test' && f.operation === 'Apply'));

    const dry = await configmaps.create(cm('rest', 'dry'), { dryRun: true });
    assert.equal(dry.metadata?.name, 'dry');
    await assert.rejects(configmaps.get('rest', 'dry'), isNotFound);

    await assert.rejects(configmaps.delete('rest', 'cm-1', { preconditions: { uid: 'not-the-uid' } }), isConflict);
    await configmaps.delete('rest', 'cm-1', { propagationPolicy: 'Background', gracePeriodSeconds: 0 });
    await assert.rejects(configmaps.get('rest', 'cm-1'), (e: unknown) => e instanceof ApiError && e.code === 404 && isNotFound(e));

    await configmaps.deleteCollection({ namespace: 'rest', labelSelector: 'parity=even' });
    const left = await configmaps.list({ namespace: 'rest', labelSelector: 'parity' });
    assert.deepEqual(left.items.map((c) => c.metadata?.name).sort(), ['cm-3', 'cm-5']);
  });

  it('creates subresources: a pod binding and a service account token', async () => {
    await ns('sub');
    const pods = client.resourceFor<Pod>('Pod');
    await pods.create({ metadata: { namespace: 'sub', name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    await pods.createSubresource('sub', 'p', 'binding', { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'p', namespace: 'sub' }, target: { apiVersion: 'v1', kind: 'Node', name: 'node-a' } });
    assert.equal((await pods.get('sub', 'p')).spec?.nodeName, 'node-a');

    const sas = client.resourceFor<ServiceAccount>('ServiceAccount');
    await sas.create({ metadata: { namespace: 'sub', name: 'robot' } }).catch((e: unknown) => {
      if (!isAlreadyExists(e)) throw e;
    });
    const tr = await sas.createSubresource<object, { status?: { token?: string } }>('sub', 'robot', 'token', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: [], expirationSeconds: 600 },
    });
    assert.match(tr.status?.token ?? '', /^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it('watches from a resourceVersion and ends when aborted', async () => {
    await ns('watch');
    const rv = (await configmaps.list({ namespace: 'watch' })).metadata?.resourceVersion;
    const ac = new AbortController();
    const stream = await configmaps.watch({ namespace: 'watch', resourceVersion: rv, allowWatchBookmarks: true, signal: ac.signal });
    const seen: string[] = [];
    const consumer = (async () => {
      for await (const ev of stream as AsyncIterable<WatchEvent<ConfigMap>>) {
        if (ev.type === 'BOOKMARK' || ev.object.metadata?.name !== 'w') continue;
        seen.push(`${ev.type} ${ev.object.metadata?.name} ${ev.object.data?.v ?? ''}`.trim());
        if (seen.length === 3) ac.abort();
      }
    })();
    await configmaps.create(cm('watch', 'w', { v: '1' }));
    await configmaps.patch('watch', 'w', { data: { v: '2' } });
    await configmaps.delete('watch', 'w');
    await consumer;
    assert.deepEqual(seen, ['ADDED w 1', 'MODIFIED w 2', 'DELETED w 2']);
  });

  it('informers see adds, updates and deletes, serve a lister and indexes, and catch late handlers up', async () => {
    await ns('inf');
    const mine = { test: 'informer' };
    await configmaps.create(cm('inf', 'before', { owner: 'x' }, mine));
    const factory = new SharedInformerFactory(client);
    const inf = factory.informerForKind<ConfigMap>('ConfigMap', undefined, { namespace: 'inf', labelSelector: mine, indexers: { byOwner: (c) => (c.data?.owner ? [c.data.owner] : []) } });
    assert.equal(factory.informerForKind<ConfigMap>('ConfigMap', undefined, { namespace: 'inf', labelSelector: 'test=informer' }), inf, 'one informer per resource and selector');
    assert.notEqual(factory.informerForKind<ConfigMap>('ConfigMap', undefined, { namespace: 'inf' }), inf);
    const log: string[] = [];
    inf.addEventHandler({
      onAdd: (o, initial) => log.push(`add ${o.metadata?.name}${initial ? ' initial' : ''}`),
      onUpdate: (o, n) => log.push(`update ${o.data?.owner}->${n.data?.owner}`),
      onDelete: (o) => log.push(`delete ${o.metadata?.name}`),
    });
    const ac = new AbortController();
    try {
      factory.start(ac.signal);
      assert.equal(await factory.waitForCacheSync(ac.signal), true);
      assert.equal(inf.get('inf', 'before')?.kind, 'ConfigMap', 'listed objects carry their kind');
      await configmaps.create(cm('inf', 'after', { owner: 'y' }, mine));
      await configmaps.patch('inf', 'after', { data: { owner: 'x' } });
      await until('the update', () => inf.get('inf', 'after')?.data?.owner === 'x');
      assert.deepEqual(inf.byIndex('byOwner', 'x').map((c) => c.metadata?.name).sort(), ['after', 'before']);
      await configmaps.delete('inf', 'before');
      await until('the delete', () => log.includes('delete before'));
      assert.deepEqual(log, ['add before initial', 'add after', 'update y->x', 'delete before']);
      assert.deepEqual(inf.list('inf').map((c) => c.metadata?.name), ['after']);

      const late: string[] = [];
      const reg = inf.addEventHandler({ onAdd: (o, initial) => late.push(`${o.metadata?.name} ${initial}`) });
      await until('the late handler to sync', () => reg.hasSynced());
      assert.deepEqual(late, ['after true']);
    } finally {
      ac.abort();
      factory.shutdown();
    }
  });

  it('elects exactly one leader on a Lease, and the other takes over when it stops', async () => {
    const started: string[] = [];
    const stopped: string[] = [];
    const newLeaders: string[] = [];
    const elector = (identity: string) =>
      new LeaderElector({
        client,
        namespace: 'kube-system',
        name: 'client-test',
        identity,
        leaseDurationMs: 3000,
        renewDeadlineMs: 2000,
        retryPeriodMs: 500,
        releaseOnCancel: true,
        callbacks: {
          onStartedLeading: () => void started.push(identity),
          onStoppedLeading: () => void stopped.push(identity),
          onNewLeader: (id) => void (identity === 'b' && newLeaders.push(id)),
        },
      });
    const a = elector('a');
    const acA = new AbortController();
    const runA = a.run(acA.signal);
    await until('a to lead', () => started.includes('a'));
    const b = elector('b');
    const acB = new AbortController();
    const runB = b.run(acB.signal);
    try {
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(started, ['a'], 'b must not lead while a renews');
      assert.equal(a.isLeader(), true);
      assert.equal(b.isLeader(), false);
      assert.equal(b.getLeader(), 'a');
      const leases = client.resourceFor<Lease>('Lease', 'coordination.k8s.io');
      const held = await leases.get('kube-system', 'client-test');
      assert.equal(held.spec?.holderIdentity, 'a');
      assert.equal(held.spec?.leaseDurationSeconds, 3);
      assert.match(held.spec?.renewTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

      acA.abort();
      await runA;
      assert.deepEqual(stopped, ['a']);
      await until('b to take over', () => started.includes('b'), 10_000);
      const taken = await leases.get('kube-system', 'client-test');
      assert.equal(taken.spec?.holderIdentity, 'b');
      assert.equal(taken.spec?.leaseTransitions, 1, 'a created it (0); its release keeps the count; b taking it over is one transition');
      assert.deepEqual(newLeaders.filter((l) => l), ['a', 'b']);
    } finally {
      acA.abort();
      acB.abort();
      await Promise.all([runA, runB]);
    }
  });

  it('records core/v1 events visible to kubectl, and a repeat increments count', async () => {
    await ns('ev');
    const obj = await configmaps.create(cm('ev', 'subject'));
    const recorder = new EventRecorder({ client, component: 'client-test' });
    recorder.event(obj, 'Normal', 'Tested', 'it works');
    await recorder.flush();
    recorder.event(obj, 'Normal', 'Tested', 'it works');
    recorder.event(obj, 'Warning', 'Odd', 'something else');
    await recorder.flush();
    const r = await s.kubectl(['get', 'events', '-n', 'ev', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const items = (JSON.parse(r.stdout) as { items: Array<{ reason: string; count: number; involvedObject: { name: string; uid: string; kind: string }; source: { component: string }; metadata: { name: string } }> }).items;
    const tested = items.filter((e) => e.reason === 'Tested');
    assert.equal(tested.length, 1);
    assert.equal(tested[0]!.count, 2);
    assert.equal(tested[0]!.involvedObject.uid, obj.metadata?.uid);
    assert.equal(tested[0]!.source.component, 'client-test');
    assert.match(tested[0]!.metadata.name, /^subject\.[0-9a-f]{16}$/);
    assert.equal(items.filter((e) => e.reason === 'Odd').length, 1);
    recorder.shutdown();
  });

  it('records events.k8s.io/v1 events, and an isomorphic repeat starts a series', async () => {
    await ns('ev2');
    const obj = await configmaps.create(cm('ev2', 'subject'));
    const recorder = new EventsRecorder({ client, reportingController: 'default-scheduler', reportingInstance: 'default-scheduler-test' });
    recorder.eventf(obj, undefined, 'Warning', 'FailedScheduling', 'Scheduling', '0/%d nodes are available', 3);
    await recorder.flush();
    recorder.eventf(obj, undefined, 'Warning', 'FailedScheduling', 'Scheduling', '0/%d nodes are available', 3);
    await recorder.flush();
    const events = client.resource<EventsV1Event>('events.k8s.io', 'v1', 'events');
    const list = await events.list({ namespace: 'ev2' });
    assert.equal(list.items.length, 1);
    const e = list.items[0]!;
    assert.equal(e.note, '0/3 nodes are available');
    assert.equal(e.reportingController, 'default-scheduler');
    assert.equal(e.action, 'Scheduling');
    assert.equal(e.series?.count, 2);
    assert.match(e.eventTime ?? '', /\.\d{6}Z$/);
    recorder.shutdown();
  });

  it('turns failures into ApiError with the server’s Status', async () => {
    const err = await configmaps.get('nope', 'nope').catch((e: unknown) => e);
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, 404);
    assert.equal(err.reason, 'NotFound');
    const status: Status = err.status;
    assert.equal(status.details?.name, 'nope');
  });
});
