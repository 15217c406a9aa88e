// The disruption controller against a real `k8ts server` with the real kubectl, the ReplicaSet
// controller and a fake kubelet: budgets report how many pods may be disrupted (from the
// ReplicaSet's scale for maxUnavailable), and the eviction API refuses with 429 what would break one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import { newDisruptionController } from '../../../src/controllers/disruption/disruptionController.js';
import { newReplicaSetController } from '../../../src/controllers/replicaset/replicaSetController.js';
import { controllerHarness, type Harness } from '../../support/controllerHarness.js';
import { startFakeKubelet } from '../../support/fakeKubelet.js';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';
import { waitFor } from '../../support/waitFor.js';

describe('disruption-controller', () => {
  let s: RunningServer;
  let h: Harness;
  let kubelet: { stop(): Promise<void> };

  const ok = async (args: string[], input?: string) => {
    const r = await s.kubectl(args, input === undefined ? {} : { input });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const pdb = async (name: string) => JSON.parse(await ok(['get', 'pdb', name, '-o', 'json'])) as PodDisruptionBudget;
  const evict = (pod: string) =>
    s.kubectl(['create', '--raw', `/api/v1/namespaces/default/pods/${pod}/eviction`, '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: 'default' } }),
    });

  before(async () => {
    s = await startK8tsServer(['--disable-agent', '--disable-controller-manager']);
    h = await controllerHarness(s.kubeconfig);
    kubelet = await startFakeKubelet(h.client, { nodes: ['n1'] });
    h.run(newDisruptionController(h.ctx), newReplicaSetController(h.ctx));
  });
  after(async () => {
    await kubelet?.stop();
    await h?.stop();
    await s?.stop();
  });

  it('reports disruptionsAllowed from the ReplicaSet scale for maxUnavailable and lets one eviction through', async () => {
    await ok(['apply', '-f', '-'], 'apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: app, image: nginx}]}\n');
    await ok(['apply', '-f', '-'], 'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec:\n  maxUnavailable: 1\n  selector: {matchLabels: {app: web}}\n');
    const b = await waitFor('web budget with 3 healthy', async () => {
      const p = await pdb('web');
      return p.status?.currentHealthy === 3 ? p : undefined;
    });
    assert.equal(b.status?.expectedPods, 3);
    assert.equal(b.status?.desiredHealthy, 2);
    assert.equal(b.status?.disruptionsAllowed, 1);
    assert.equal(b.status?.observedGeneration, b.metadata?.generation);
    const cond = b.status?.conditions?.find((c) => c.type === 'DisruptionAllowed');
    assert.equal(cond?.status, 'True');
    assert.equal(cond?.reason, 'SufficientPods');
    assert.match(await ok(['get', 'pdb', 'web']), /web\s+N\/A\s+1\s+1\s/);

    const pods = (JSON.parse(await ok(['get', 'pods', '-l', 'app=web', '-o', 'json'])) as { items: { metadata: { name: string } }[] }).items;
    const r = await evict(pods[0]!.metadata.name);
    assert.equal(r.code, 0, r.stderr);
  });

  it('refuses an eviction that would violate minAvailable with 429', async () => {
    for (const n of ['db-0', 'db-1']) await ok(['apply', '-f', '-'], `apiVersion: v1\nkind: Pod\nmetadata: {name: ${n}, labels: {app: db}}\nspec: {containers: [{name: db, image: postgres}]}\n`);
    await ok(['apply', '-f', '-'], 'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: db}\nspec:\n  minAvailable: 2\n  selector: {matchLabels: {app: db}}\n');
    const b = await waitFor('db budget with 2 healthy', async () => {
      const p = await pdb('db');
      return p.status?.currentHealthy === 2 ? p : undefined;
    });
    assert.equal(b.status?.desiredHealthy, 2);
    assert.equal(b.status?.expectedPods, 2);
    assert.equal(b.status?.disruptionsAllowed, 0);
    const cond = b.status?.conditions?.find((c) => c.type === 'DisruptionAllowed');
    assert.deepEqual([cond?.status, cond?.reason], ['False', 'InsufficientPods']);
    const r = await evict('db-0');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /TooManyRequests|429|violate the pod's disruption budget/);
    assert.match(await ok(['get', 'pod', 'db-0']), /db-0/);

    // Lowering the budget allows one disruption.
    await ok(['patch', 'pdb', 'db', '--type=merge', '-p', '{"spec":{"minAvailable":1}}']);
    const lowered = await waitFor('db budget allows 1', async () => {
      const p = await pdb('db');
      return p.status?.disruptionsAllowed === 1 ? p : undefined;
    });
    assert.equal(lowered.status?.observedGeneration, lowered.metadata?.generation);
    assert.equal((await evict('db-1')).code, 0);
  });
});
