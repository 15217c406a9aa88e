// The pod garbage collector against a real `k8ts server`: terminated pods beyond the threshold go
// (oldest first), and a pod bound to a node that was deleted is marked Failed with a
// DisruptionTarget condition (DeletionByPodGC), then force-deleted after the quarantine.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { newPodGC } from '../../../src/controllers/podgc/podGC.js';
import { controllerHarness, type Harness } from '../../support/controllerHarness.js';
import { nodeObject, startFakeKubelet } from '../../support/fakeKubelet.js';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';
import { waitFor } from '../../support/waitFor.js';

describe('pod garbage collector', () => {
  let s: RunningServer;
  let h: Harness;
  let kubelet: { stop(): Promise<void> };
  const ok = async (args: string[], input?: string) => {
    const r = await s.kubectl(args, input === undefined ? {} : { input });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const pods = () => h.client.resource<Pod>('', 'v1', 'pods');

  before(async () => {
    s = await startK8tsServer(['--disable-agent', '--disable-controller-manager']);
    h = await controllerHarness(s.kubeconfig, { terminatedPodGCThreshold: 2 });
    kubelet = await startFakeKubelet(h.client, { nodes: ['n1'], outcome: (p) => (p.metadata?.labels?.done === 'true' ? 'Succeeded' : 'Running') });
    h.run(newPodGC(h.ctx, { gcCheckPeriodMs: 300, quarantineTimeMs: 1000 }));
  });
  after(async () => {
    await kubelet?.stop();
    await h?.stop();
    await s?.stop();
  });

  it('keeps at most terminatedPodGCThreshold terminated pods, deleting the oldest', async () => {
    for (const n of ['t1', 't2', 't3', 't4']) await ok(['run', n, '--image=busybox', '--restart=Never', '--labels=done=true']);
    await ok(['run', 'alive', '--image=busybox', '--restart=Never']);
    await waitFor('two terminated pods left', async () => {
      const left = (await pods().list({ namespace: 'default', labelSelector: { done: 'true' } })).items;
      return left.length === 2 && left.every((p) => p.status?.phase === 'Succeeded');
    });
    const left = (await pods().list({ namespace: 'default', labelSelector: { done: 'true' } })).items.map((p) => p.metadata!.name).sort();
    assert.deepEqual(left, ['t3', 't4']);
    assert.equal(await ok(['get', 'pod', 'alive', '-o', 'jsonpath={.status.phase}']), 'Running');
  });

  it('a pod on a node that no longer exists is marked Failed with DisruptionTarget, then deleted', async () => {
    await ok(['apply', '-f', '-'], JSON.stringify(nodeObject('ghost')));
    await ok(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'orphan', namespace: 'default' }, spec: { nodeName: 'ghost', containers: [{ name: 'c', image: 'busybox' }] } }));
    const start = await pods().get('default', 'orphan');
    const ac = new AbortController();
    const seen: Array<{ type: string; pod: Pod }> = [];
    const w = await pods().watch({ namespace: 'default', name: 'orphan', resourceVersion: start.metadata!.resourceVersion!, signal: ac.signal });
    const watching = (async () => {
      for await (const ev of w) seen.push({ type: ev.type, pod: ev.object });
    })().catch(() => undefined);
    await ok(['delete', 'node', 'ghost']);
    const deletedAt = Date.now();
    await waitFor('orphan deleted', async () => seen.some((e) => e.type === 'DELETED'));
    ac.abort();
    await watching;
    assert.ok(Date.now() - deletedAt >= 900, 'not before the quarantine');
    const failed = seen.find((e) => e.type === 'MODIFIED' && e.pod.status?.phase === 'Failed');
    assert.ok(failed, 'the pod was marked Failed before its deletion');
    const cond = failed.pod.status?.conditions?.find((c) => c.type === 'DisruptionTarget');
    assert.deepEqual([cond?.status, cond?.reason, cond?.message], ['True', 'DeletionByPodGC', 'PodGC: node no longer exists']);
    assert.equal(await ok(['get', 'pod', 'alive', '-o', 'jsonpath={.status.phase}']), 'Running', 'pods on live nodes are untouched');
  });
});
