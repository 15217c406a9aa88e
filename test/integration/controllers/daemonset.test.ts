// The DaemonSet controller against a real `k8ts server` (with its scheduler) and a fake kubelet,
// driven with the real kubectl: one pod per node, new nodes, taints and tolerations, rollout
// status/history/undo, and failed daemon pods replaced with back-off.
import assert from 'node:assert/strict';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { after, before, describe, it } from 'node:test';
import { newDaemonSetController } from '../../../src/controllers/daemonset/daemonSetController.js';
import { controllerHarness, type Harness } from '../../support/controllerHarness.js';
import { nodeObject, startFakeKubelet } from '../../support/fakeKubelet.js';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';
import { waitFor } from '../../support/waitFor.js';

const dsYaml = (name: string, image: string, extra = '') => `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ${name}}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers:
      - {name: c, image: ${image}}
${extra}`;

describe('daemonset-controller in k8ts server', () => {
  let s: RunningServer;
  let h: Harness;
  const kubelets: Array<{ stop(): Promise<void> }> = [];
  const failedOnce = new Set<string>();
  const ok = async (args: string[], input?: string) => {
    const r = await s.kubectl(args, input === undefined ? {} : { input, timeoutMs: 60_000 });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const pods = async (app: string): Promise<Pod[]> => JSON.parse(await ok(['get', 'pods', '-l', `app=${app}`, '-o', 'json'])).items as Pod[];
  const runningByNode = async (app: string) => {
    const ps = (await pods(app)).filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
    return new Map(ps.map((p) => [p.spec?.nodeName ?? '', p]));
  };

  before(async () => {
    s = await startK8tsServer(['--disable-agent', '--disable-controller-manager']);
    h = await controllerHarness(s.kubeconfig);
    kubelets.push(
      await startFakeKubelet(h.client, {
        nodes: ['n1', 'n2'],
        // The first pod of the "crashy" DaemonSet on n1 fails; its replacement runs.
        outcome: (p) => {
          if (p.metadata?.labels?.app === 'crashy' && p.spec?.nodeName === 'n1' && !failedOnce.has('n1')) {
            failedOnce.add('n1');
            return 'Failed';
          }
          return 'Running';
        },
      }),
    );
    h.run(newDaemonSetController(h.ctx));
  });
  after(async () => {
    for (const k of kubelets) await k.stop();
    await h?.stop();
    await s?.stop();
  });

  it('runs one Running pod per node, pinned by node affinity, with the daemon tolerations', async () => {
    await ok(['apply', '-f', '-'], dsYaml('agent', 'busybox:1.36'));
    const byNode = await waitFor('a running agent pod on n1 and n2', async () => {
      const m = await runningByNode('agent');
      return m.has('n1') && m.has('n2') ? m : undefined;
    });
    assert.equal((await pods('agent')).length, 2);
    const p = byNode.get('n1')!;
    assert.deepEqual(p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms, [
      { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] },
    ]);
    const tolerated = (p.spec?.tolerations ?? []).map((t) => `${t.key}:${t.effect}`);
    for (const t of [
      'node.kubernetes.io/not-ready:NoExecute',
      'node.kubernetes.io/unreachable:NoExecute',
      'node.kubernetes.io/disk-pressure:NoSchedule',
      'node.kubernetes.io/memory-pressure:NoSchedule',
      'node.kubernetes.io/pid-pressure:NoSchedule',
      'node.kubernetes.io/unschedulable:NoSchedule',
    ]) {
      assert.ok(tolerated.includes(t), `missing toleration ${t} in ${tolerated.join(', ')}`);
    }
    assert.ok(p.metadata?.labels?.['controller-revision-hash'], 'pods carry the revision hash');
    const st = await ok(['rollout', 'status', 'ds/agent', '--timeout=30s']);
    assert.match(st, /daemon set "agent" successfully rolled out/);
    const ds = JSON.parse(await ok(['get', 'ds', 'agent', '-o', 'json']));
    assert.equal(ds.status.desiredNumberScheduled, 2);
    assert.equal(ds.status.currentNumberScheduled, 2);
    assert.equal(ds.status.numberReady, 2);
    assert.equal(ds.status.updatedNumberScheduled, 2);
    assert.equal(ds.status.numberAvailable, 2);
    assert.equal(ds.status.numberMisscheduled, 0);
    assert.equal(ds.status.observedGeneration, ds.metadata.generation);
    const events = await ok(['get', 'events', '--field-selector', 'involvedObject.name=agent', '-o', 'jsonpath={range .items[*]}{.reason}|{.message}{"\\n"}{end}']);
    assert.match(events, /SuccessfulCreate\|Created pod: agent-/);
  });

  it('gives a new node a pod, a tainted node none unless the DaemonSet tolerates the taint', async () => {
    const tainted: Node = nodeObject('n4');
    tainted.spec = { taints: [{ key: 'dedicated', value: 'infra', effect: 'NoSchedule' }] };
    await h.client.resource<Node>('', 'v1', 'nodes').create(tainted);
    kubelets.push(await startFakeKubelet(h.client, { nodes: ['n3', 'n4'] }));
    await waitFor('an agent pod on the new node n3', async () => (await runningByNode('agent')).has('n3'));
    await ok(['apply', '-f', '-'], dsYaml('infra', 'busybox:1.36', '      tolerations:\n      - {key: dedicated, operator: Exists, effect: NoSchedule}\n'));
    await waitFor('infra pods on all four nodes', async () => (await runningByNode('infra')).size === 4);
    await new Promise((r) => setTimeout(r, 500));
    const agents = await runningByNode('agent');
    assert.deepEqual([...agents.keys()].sort(), ['n1', 'n2', 'n3'], 'no agent pod on the tainted node');
    const ds = JSON.parse(await ok(['get', 'ds', 'agent', '-o', 'json']));
    assert.equal(ds.status.desiredNumberScheduled, 3);
    // A NoExecute taint the DaemonSet does not tolerate evicts its pod from the node.
    await ok(['taint', 'nodes', 'n3', 'evict=now:NoExecute']);
    await waitFor('the agent pod leaving n3', async () => !(await pods('agent')).some((p) => p.spec?.nodeName === 'n3'));
    await waitFor('desiredNumberScheduled 2', async () => JSON.parse(await ok(['get', 'ds', 'agent', '-o', 'json'])).status.desiredNumberScheduled === 2);
  });

  it('rolls out a new template one node at a time, and kubectl rollout history/undo replays revisions', async () => {
    const before = new Map([...(await runningByNode('agent'))].map(([n, p]) => [n, p.metadata?.uid]));
    await ok(['set', 'image', 'ds/agent', 'c=busybox:1.37']);
    const st = await ok(['rollout', 'status', 'ds/agent', '--timeout=40s']);
    assert.match(st, /successfully rolled out/);
    const after = await runningByNode('agent');
    assert.deepEqual([...after.keys()].sort(), ['n1', 'n2']);
    for (const [n, p] of after) {
      assert.equal(p.spec?.containers[0]?.image, 'busybox:1.37');
      assert.notEqual(p.metadata?.uid, before.get(n), `pod on ${n} was replaced`);
    }
    const revs = JSON.parse(await ok(['get', 'controllerrevisions', '-l', 'app=agent', '-o', 'json'])).items as Array<{ metadata: { name: string; labels: Record<string, string> }; revision: number }>;
    assert.deepEqual(revs.map((r) => r.revision).sort(), [1, 2]);
    for (const r of revs) assert.match(r.metadata.name, /^agent-[bcdfghjklmnpqrstvwxz2456789]+$/);
    const hist = await ok(['rollout', 'history', 'ds/agent']);
    assert.match(hist, /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/);
    const rev1 = await ok(['rollout', 'history', 'ds/agent', '--revision=1']);
    assert.match(rev1, /busybox:1\.36/);
    assert.match(await ok(['rollout', 'undo', 'ds/agent']), /rolled back/);
    await ok(['rollout', 'status', 'ds/agent', '--timeout=40s']);
    for (const p of (await runningByNode('agent')).values()) assert.equal(p.spec?.containers[0]?.image, 'busybox:1.36');
    const hist2 = await ok(['rollout', 'history', 'ds/agent']);
    assert.match(hist2, /\n2\s+<none>\n3\s+<none>/);
    // Undoing to the revision already current is skipped, as upstream.
    assert.match(await ok(['rollout', 'undo', 'ds/agent', '--to-revision=3']), /skipped rollback \(current template already matches revision 3\)/);
  });

  it('deletes a failed daemon pod with a FailedDaemonPod event and runs a new one', async () => {
    await ok(['apply', '-f', '-'], dsYaml('crashy', 'busybox:1.36', '      nodeSelector: {kubernetes.io/hostname: n1}\n'));
    await waitFor('a running crashy pod on n1', async () => (await runningByNode('crashy')).has('n1'), 30_000);
    const events = await ok(['get', 'events', '--field-selector', 'involvedObject.name=crashy', '-o', 'jsonpath={range .items[*]}{.reason}|{.message}{"\\n"}{end}']);
    assert.match(events, /FailedDaemonPod\|Found failed daemon pod default\/crashy-\w+ on node n1, will try to kill it/);
    assert.match(events, /SuccessfulDelete\|Deleted pod: crashy-/);
    const ds = JSON.parse(await ok(['get', 'ds', 'crashy', '-o', 'json']));
    assert.equal(ds.status.desiredNumberScheduled, 1);
  });
});
