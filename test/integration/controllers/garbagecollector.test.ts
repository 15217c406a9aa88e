// The garbage collector against a real `k8ts server`, driven with the real kubectl: RS deletion
// with --cascade=foreground (pods go first, then the RS), orphan (pods stay, without owner) and
// background; a dependent whose owner was deleted while no collector ran is collected by a fresh
// one; and a reference to an owner in another namespace (OwnerRefInvalidNamespace).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConfigMap, Event, Pod } from 'kubernetes-types/core/v1.js';
import type { ReplicaSet } from 'kubernetes-types/apps/v1.js';
import { newGarbageCollector } from '../../../src/controllers/garbagecollector/garbageCollector.js';
import { newReplicaSetController } from '../../../src/controllers/replicaset/replicaSetController.js';
import { controllerHarness, type Harness } from '../../support/controllerHarness.js';
import { startFakeKubelet } from '../../support/fakeKubelet.js';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';
import { waitFor } from '../../support/waitFor.js';

const rsManifest = (name: string, replicas = 2) =>
  JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: 'default' },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
  });

describe('garbage collector', () => {
  let s: RunningServer;
  let h: Harness;
  let kubelet: { stop(): Promise<void> };
  const ok = async (args: string[], input?: string) => {
    const r = await s.kubectl(args, input === undefined ? {} : { input });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const podsOf = async (app: string) => (await h.client.resource<Pod>('', 'v1', 'pods').list({ namespace: 'default', labelSelector: { app } })).items;
  const runningRS = async (name: string, replicas = 2) => {
    await ok(['apply', '-f', '-'], rsManifest(name, replicas));
    await waitFor(`${name} pods running`, async () => (await podsOf(name)).filter((p) => p.status?.phase === 'Running').length === replicas);
  };

  before(async () => {
    s = await startK8tsServer(['--disable-agent', '--disable-controller-manager']);
    h = await controllerHarness(s.kubeconfig);
    kubelet = await startFakeKubelet(h.client, { nodes: ['n1'] });
    h.run(newReplicaSetController(h.ctx), newGarbageCollector(h.ctx));
  });
  after(async () => {
    await kubelet?.stop();
    await h?.stop();
    await s?.stop();
  });

  it('kubectl delete rs --cascade=foreground deletes the pods first, then the ReplicaSet', async () => {
    await runningRS('fg');
    const list = await h.client.resource<Pod>('', 'v1', 'pods').list({ namespace: 'default' });
    const ac = new AbortController();
    const deletedAt = new Map<string, number>();
    let sawFinalizer = false;
    const watchKind = async (group: string, plural: string) => {
      const w = await h.client.resource<Pod | ReplicaSet>(group, 'v1', plural).watch({ namespace: 'default', resourceVersion: list.metadata!.resourceVersion!, signal: ac.signal });
      for await (const ev of w) {
        if (plural === 'replicasets' && ev.object.metadata?.finalizers?.includes('foregroundDeletion')) sawFinalizer = true;
        if (ev.type === 'DELETED') deletedAt.set(`${plural}/${ev.object.metadata!.name}`, Number(ev.object.metadata!.resourceVersion));
      }
    };
    const watches = [watchKind('', 'pods'), watchKind('apps', 'replicasets')].map((p) => p.catch(() => undefined));
    const pods = (await podsOf('fg')).map((p) => p.metadata!.name!);
    await ok(['delete', 'rs', 'fg', '--cascade=foreground', '--timeout=30s']);
    await waitFor('deletions observed', async () => deletedAt.has('replicasets/fg') && pods.every((p) => deletedAt.has(`pods/${p}`)));
    ac.abort();
    await Promise.all(watches);
    assert.ok(sawFinalizer, 'the ReplicaSet carried the foregroundDeletion finalizer while its pods went');
    const rsGone = deletedAt.get('replicasets/fg')!;
    for (const p of pods) assert.ok(deletedAt.get(`pods/${p}`)! < rsGone, `pod ${p} was deleted before the ReplicaSet`);
  });

  it('kubectl delete rs --cascade=orphan leaves the pods running without ownerReferences', async () => {
    await runningRS('orph');
    await ok(['delete', 'rs', 'orph', '--cascade=orphan', '--timeout=30s']);
    const r = await s.kubectl(['get', 'rs', 'orph']);
    assert.notEqual(r.code, 0);
    await waitFor('pods released', async () => (await podsOf('orph')).every((p) => (p.metadata?.ownerReferences ?? []).length === 0));
    await new Promise((r) => setTimeout(r, 1000));
    const pods = await podsOf('orph');
    assert.equal(pods.length, 2);
    assert.ok(pods.every((p) => !p.metadata?.deletionTimestamp && (p.metadata?.ownerReferences ?? []).length === 0));
  });

  it('kubectl delete rs --cascade=background removes the ReplicaSet at once and its pods after', async () => {
    await runningRS('bg');
    await ok(['delete', 'rs', 'bg', '--cascade=background']);
    await waitFor('pods collected', async () => (await podsOf('bg')).length === 0);
  });

  it('a reference to an owner in another namespace is reported as OwnerRefInvalidNamespace and the dependent collected', async () => {
    await ok(['create', 'namespace', 'team-a']);
    await ok(['create', 'namespace', 'team-b']);
    await ok(['-n', 'team-a', 'create', 'configmap', 'boss']);
    const boss = JSON.parse(await ok(['-n', 'team-a', 'get', 'cm', 'boss', '-o', 'json'])) as ConfigMap;
    const dep = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'minion', namespace: 'team-b', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'boss', uid: boss.metadata!.uid! }] } };
    await ok(['apply', '-f', '-'], JSON.stringify(dep));
    await waitFor('minion collected', async () => (await s.kubectl(['-n', 'team-b', 'get', 'cm', 'minion'])).code !== 0);
    await waitFor('OwnerRefInvalidNamespace event', async () => {
      const evs = (await h.client.resource<Event>('', 'v1', 'events').list({ namespace: 'team-b' })).items;
      return evs.some((e) => e.reason === 'OwnerRefInvalidNamespace' && e.type === 'Warning' && e.involvedObject.name === 'minion' && e.message === `ownerRef [v1/ConfigMap, namespace: team-b, name: boss, uid: ${boss.metadata!.uid}] does not exist in namespace "team-b"`);
    });
    assert.equal((await s.kubectl(['-n', 'team-a', 'get', 'cm', 'boss'])).code, 0, 'the real owner is untouched');
  });

  it('a dependent whose owner was deleted while no collector ran is collected by a fresh one', async () => {
    await h.stop();
    await ok(['create', 'configmap', 'owner']);
    const owner = JSON.parse(await ok(['get', 'cm', 'owner', '-o', 'json'])) as ConfigMap;
    const dep = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dependent', namespace: 'default', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid! }] } };
    await ok(['apply', '-f', '-'], JSON.stringify(dep));
    await ok(['delete', 'cm', 'owner']);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await s.kubectl(['get', 'cm', 'dependent'])).code, 0, 'nothing collects while the collector is down');
    h = await controllerHarness(s.kubeconfig);
    h.run(newGarbageCollector(h.ctx));
    await waitFor('dependent collected after restart', async () => (await s.kubectl(['get', 'cm', 'dependent'])).code !== 0);
  });
});
