// The node lifecycle and taint eviction controllers against a real `k8ts server` with the real
// kubectl and a fake kubelet: a node whose Lease stops being renewed turns NotReady (Unknown),
// its pods are marked not ready, it is tainted unreachable, and its pods are evicted as their
// tolerations say; when its Lease is renewed again the taints go.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { Event, Node, Pod } from 'kubernetes-types/core/v1.js';
import { isNotFound } from '../../../src/client/apiError.js';
import { newNodeLifecycleController } from '../../../src/controllers/nodelifecycle/nodeLifecycleController.js';
import { newTaintEvictionController } from '../../../src/controllers/nodelifecycle/taintEvictionController.js';
import { controllerHarness, type Harness } from '../../support/controllerHarness.js';
import { startFakeKubelet } from '../../support/fakeKubelet.js';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';
import { waitFor } from '../../support/waitFor.js';

const microNow = () => new Date().toISOString().replace(/Z$/, '000Z');

const podYaml = (name: string, node: string, tolerations: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  nodeName: ${node}
  tolerations: ${tolerations}
  containers: [{name: app, image: nginx}]
`;

describe('node-lifecycle-controller and taint-eviction-controller', () => {
  let s: RunningServer;
  let h: Harness;
  let kubelet: { stop(): Promise<void> };
  const renewing = new Set(['n1', 'n2']);
  let heartbeat: NodeJS.Timeout | undefined;

  const ok = async (args: string[], input?: string) => {
    const r = await s.kubectl(args, input === undefined ? {} : { input });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const node = async (name: string) => JSON.parse(await ok(['get', 'node', name, '-o', 'json'])) as Node;

  before(async () => {
    s = await startK8tsServer(['--disable-agent', '--disable-controller-manager']);
    h = await controllerHarness(s.kubeconfig, { nodeMonitorGracePeriodMs: 3000, nodeMonitorPeriodMs: 500 });
    kubelet = await startFakeKubelet(h.client, { nodes: ['n1', 'n2'] });
    // The kubelets' node Lease heartbeats, which the test stops for n2.
    const leases = h.client.resource<Lease>('coordination.k8s.io', 'v1', 'leases');
    const beat = async () => {
      for (const n of renewing) {
        try {
          const l = await leases.get('kube-node-lease', n);
          await leases.update({ ...l, spec: { ...l.spec, renewTime: microNow() } });
        } catch (err) {
          if (!isNotFound(err)) continue;
          await leases.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: n, namespace: 'kube-node-lease' }, spec: { holderIdentity: n, leaseDurationSeconds: 40, renewTime: microNow() } }).catch(() => undefined);
        }
      }
    };
    await beat();
    heartbeat = setInterval(() => void beat(), 400);
    h.run(newNodeLifecycleController(h.ctx), newTaintEvictionController(h.ctx));
  });
  after(async () => {
    clearInterval(heartbeat);
    await kubelet?.stop();
    await h?.stop();
    await s?.stop();
  });

  it('turns a silent node NotReady, taints it unreachable, and evicts pods per their tolerationSeconds', async () => {
    await ok(['apply', '-f', '-'], podYaml('short', 'n2', '[{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}]'));
    await ok(['apply', '-f', '-'], podYaml('forever', 'n2', '[{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute}]'));
    await ok(['apply', '-f', '-'], podYaml('healthy-node-pod', 'n1', '[]'));
    await waitFor('pods running and ready', async () => {
      const l = JSON.parse(await ok(['get', 'pods', '-o', 'json'])) as { items: Pod[] };
      return l.items.length === 3 && l.items.every((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    });
    // Healthy for longer than the grace period while the Leases are renewed.
    await new Promise((r) => setTimeout(r, 3500));
    assert.match(await ok(['get', 'nodes']), /n2\s+Ready/);

    renewing.delete('n2');
    const stoppedAt = Date.now();
    await waitFor('n2 NotReady in kubectl get nodes', async () => /n2\s+NotReady/.test(await ok(['get', 'nodes'])));
    const n2 = await node('n2');
    const ready = n2.status!.conditions!.find((c) => c.type === 'Ready')!;
    assert.equal(ready.status, 'Unknown');
    assert.equal(ready.reason, 'NodeStatusUnknown');
    assert.equal(ready.message, 'Kubelet stopped posting node status.');
    for (const t of ['MemoryPressure', 'DiskPressure', 'PIDPressure']) assert.equal(n2.status!.conditions!.find((c) => c.type === t)?.status, 'Unknown', t);
    assert.ok(Date.now() - stoppedAt >= 2500, 'not before the grace period');

    const tainted = await waitFor('unreachable taints on n2', async () => {
      const n = await node('n2');
      const t = n.spec?.taints ?? [];
      return t.some((x) => x.key === 'node.kubernetes.io/unreachable' && x.effect === 'NoExecute') && t.some((x) => x.key === 'node.kubernetes.io/unreachable' && x.effect === 'NoSchedule') ? n : undefined;
    });
    assert.ok(tainted.spec!.taints!.find((x) => x.effect === 'NoExecute')!.timeAdded);
    const taintedAt = Date.now();
    const forever = JSON.parse(await ok(['get', 'pod', 'forever', '-o', 'json'])) as Pod;
    assert.equal(forever.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'False', 'pods on the node are marked not ready');

    // "short" tolerates the taint for 2 s.
    await waitFor('short evicted', async () => {
      const r = await s.kubectl(['get', 'pod', 'short', '-o', 'json']);
      if (r.code !== 0) return true;
      return !!(JSON.parse(r.stdout) as Pod).metadata?.deletionTimestamp;
    }, 10_000);
    const evictedAfter = Date.now() - taintedAt;
    assert.ok(evictedAfter >= 1000 && evictedAfter < 6000, `evicted after ${evictedAfter} ms`);
    const events = JSON.parse(await ok(['get', 'events', '-o', 'json'])) as { items: Event[] };
    assert.ok(events.items.some((e) => e.reason === 'TaintManagerEviction' && e.message === 'Marking for deletion Pod default/short'));
    assert.ok(events.items.some((e) => e.reason === 'NodeNotReady' && e.involvedObject.kind === 'Pod' && e.message === 'Node is not ready'));
    assert.ok(events.items.some((e) => e.reason === 'NodeNotReady' && e.involvedObject.kind === 'Node' && e.message === 'Node n2 status is now: NodeNotReady'));

    await new Promise((r) => setTimeout(r, 1500));
    const stays = JSON.parse(await ok(['get', 'pod', 'forever', '-o', 'json'])) as Pod;
    assert.equal(stays.metadata?.deletionTimestamp, undefined, 'a pod tolerating forever stays');
    assert.match(await ok(['get', 'nodes']), /n1\s+Ready/);

    // The kubelet comes back: Ready again (as it would post), Lease renewed → taints removed.
    renewing.add('n2');
    const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await ok(['patch', 'node', 'n2', '--subresource=status', '--type=strategic', '-p', JSON.stringify({ status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: t, lastTransitionTime: t }] } })]);
    await waitFor('taints removed', async () => (await node('n2')).spec?.taints?.length ? undefined : true);
  });
});
