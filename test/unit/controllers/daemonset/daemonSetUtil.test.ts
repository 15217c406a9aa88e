// Table tests of the DaemonSet controller's pure decisions: node eligibility (selectors, affinity,
// taints vs the automatic daemon tolerations), per-node plans, rolling-update steps and status.
import assert from 'node:assert/strict';
import type { DaemonSet } from 'kubernetes-types/apps/v1.js';
import type { Node, Pod, Taint } from 'kubernetes-types/core/v1.js';
import { describe, it } from 'node:test';
import {
  Backoff,
  computeDaemonSetStatus,
  groupPodsByNode,
  nodeShouldRunDaemonPod,
  planRollingUpdate,
  podsShouldBeOnNode,
  replaceNodeNameAffinity,
  targetNodeName,
  type FailedPodBackoff,
} from '../../../../src/controllers/daemonset/daemonSetUtil.js';
import { scaledValueFromIntOrPercent } from '../../../../src/controllers/daemonset/intOrPercent.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function node(name: string, opts: { labels?: Record<string, string>; taints?: Taint[] } = {}): Node {
  return { metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(opts.labels ?? {}) } }, spec: opts.taints ? { taints: opts.taints } : {} };
}

function daemonSet(opts: { spec?: Partial<NonNullable<NonNullable<DaemonSet['spec']>['template']['spec']>>; maxUnavailable?: number | string; maxSurge?: number | string; onDelete?: boolean; minReadySeconds?: number } = {}): DaemonSet {
  return {
    metadata: { name: 'ds', namespace: 'default', uid: 'ds-uid' },
    spec: {
      selector: { matchLabels: { app: 'ds' } },
      ...(opts.minReadySeconds ? { minReadySeconds: opts.minReadySeconds } : {}),
      template: { metadata: { labels: { app: 'ds' } }, spec: { containers: [{ name: 'c', image: 'i' }], ...(opts.spec ?? {}) } },
      updateStrategy: opts.onDelete ? { type: 'OnDelete' } : { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: opts.maxUnavailable ?? 1, maxSurge: opts.maxSurge ?? 0 } },
    },
  };
}

function pod(name: string, nodeName: string, opts: { hash?: string; phase?: string; ready?: boolean; created?: number; deleting?: boolean; readySince?: number } = {}): Pod {
  const ready = opts.ready ?? true;
  return {
    metadata: {
      name,
      namespace: 'default',
      uid: `${name}-uid`,
      creationTimestamp: iso(opts.created ?? T0),
      labels: { app: 'ds', 'controller-revision-hash': opts.hash ?? 'new' },
      ...(opts.deleting ? { deletionTimestamp: iso(T0) } : {}),
    },
    spec: { nodeName, containers: [{ name: 'c', image: 'i' }] },
    status: { phase: opts.phase ?? 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: iso(opts.readySince ?? T0 - 60_000) }] },
  };
}

const noBackoff: FailedPodBackoff = { inBackoff: () => false, next: () => undefined, delay: () => 0 };

describe('nodeShouldRunDaemonPod', () => {
  const cases: Array<{ name: string; node: Node; ds: DaemonSet; want: [boolean, boolean] }> = [
    { name: 'a plain node runs the pod', node: node('n1'), ds: daemonSet(), want: [true, true] },
    { name: 'a nodeSelector the node lacks keeps it off', node: node('n1'), ds: daemonSet({ spec: { nodeSelector: { disk: 'ssd' } } }), want: [false, false] },
    { name: 'a nodeSelector the node has lets it run', node: node('n1', { labels: { disk: 'ssd' } }), ds: daemonSet({ spec: { nodeSelector: { disk: 'ssd' } } }), want: [true, true] },
    {
      name: 'required node affinity that does not match keeps it off',
      node: node('n1', { labels: { zone: 'a' } }),
      ds: daemonSet({ spec: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] }] } } } } }),
      want: [false, false],
    },
    { name: 'a template nodeName naming another node keeps it off', node: node('n1'), ds: daemonSet({ spec: { nodeName: 'n2' } }), want: [false, false] },
    { name: 'an untolerated NoSchedule taint: no new pod, a running one stays', node: node('n1', { taints: [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }] }), ds: daemonSet(), want: [false, true] },
    { name: 'an untolerated NoExecute taint: no pod at all', node: node('n1', { taints: [{ key: 'dedicated', value: 'x', effect: 'NoExecute' }] }), ds: daemonSet(), want: [false, false] },
    {
      name: 'a tolerated taint lets it run',
      node: node('n1', { taints: [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }] }),
      ds: daemonSet({ spec: { tolerations: [{ key: 'dedicated', operator: 'Exists' }] } }),
      want: [true, true],
    },
    { name: 'PreferNoSchedule taints do not matter', node: node('n1', { taints: [{ key: 'soft', effect: 'PreferNoSchedule' }] }), ds: daemonSet(), want: [true, true] },
    { name: 'unschedulable nodes are tolerated automatically', node: node('n1', { taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] }), ds: daemonSet(), want: [true, true] },
    { name: 'not-ready nodes are tolerated automatically', node: node('n1', { taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }] }), ds: daemonSet(), want: [true, true] },
    { name: 'unreachable nodes are tolerated automatically', node: node('n1', { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] }), ds: daemonSet(), want: [true, true] },
    { name: 'memory pressure is tolerated automatically', node: node('n1', { taints: [{ key: 'node.kubernetes.io/memory-pressure', effect: 'NoSchedule' }] }), ds: daemonSet(), want: [true, true] },
    { name: 'network-unavailable is not tolerated by a pod network pod', node: node('n1', { taints: [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }] }), ds: daemonSet(), want: [false, true] },
    {
      name: 'network-unavailable is tolerated by a host-network pod',
      node: node('n1', { taints: [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }] }),
      ds: daemonSet({ spec: { hostNetwork: true } }),
      want: [true, true],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = nodeShouldRunDaemonPod(c.node, c.ds);
      assert.deepEqual([got.shouldRun, got.shouldContinueRunning], c.want);
    });
  }
});

describe('node affinity pinning', () => {
  it('replaces only the required node affinity with metadata.name In [node], and reads it back', () => {
    const a = replaceNodeNameAffinity({ podAntiAffinity: {}, nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'x', operator: 'Exists' }] }] } } }, 'n7');
    assert.deepEqual(a.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution, { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n7'] }] }] });
    assert.deepEqual(a.podAntiAffinity, {});
    assert.equal(targetNodeName({ spec: { containers: [], affinity: a } }), 'n7');
    assert.equal(targetNodeName({ spec: { containers: [], nodeName: 'n2', affinity: a } }), 'n2');
  });
});

describe('podsShouldBeOnNode', () => {
  const ds = daemonSet();
  const cases: Array<{ name: string; node: Node; pods?: Pod[]; ds?: DaemonSet; backoff?: FailedPodBackoff; want: { create: boolean; delete: string[]; events?: string[]; requeue?: boolean } }> = [
    { name: 'an eligible node without a pod gets one', node: node('n1'), want: { create: true, delete: [] } },
    { name: 'an eligible node with its pod needs nothing', node: node('n1'), pods: [pod('a', 'n1')], want: { create: false, delete: [] } },
    { name: 'without surge the newer of two pods goes', node: node('n1'), pods: [pod('b', 'n1', { created: T0 + 1000 }), pod('a', 'n1')], want: { create: false, delete: ['b'] } },
    { name: 'a failed pod is deleted with a FailedDaemonPod event', node: node('n1'), pods: [pod('a', 'n1', { phase: 'Failed', ready: false })], want: { create: false, delete: ['a'], events: ['FailedDaemonPod'] } },
    {
      name: 'a failed pod in back-off is left and the DaemonSet looked at again later',
      node: node('n1'),
      pods: [pod('a', 'n1', { phase: 'Failed', ready: false })],
      backoff: { inBackoff: () => true, next: () => undefined, delay: () => 4000 },
      want: { create: false, delete: [], requeue: true },
    },
    { name: 'a succeeded pod is deleted with a SucceededDaemonPod event', node: node('n1'), pods: [pod('a', 'n1', { phase: 'Succeeded', ready: false })], want: { create: false, delete: ['a'], events: ['SucceededDaemonPod'] } },
    { name: 'a pod on a node that must not run it is deleted', node: node('n1', { taints: [{ key: 'k', effect: 'NoExecute' }] }), pods: [pod('a', 'n1')], want: { create: false, delete: ['a'] } },
    { name: 'a pod being deleted is not deleted again nor replaced yet', node: node('n1'), pods: [pod('a', 'n1', { deleting: true })], want: { create: false, delete: [] } },
    {
      name: 'while surging, an available new pod replaces the old one',
      node: node('n1'),
      ds: daemonSet({ maxSurge: 1, maxUnavailable: 0 }),
      pods: [pod('old', 'n1', { hash: 'old' }), pod('new', 'n1', { created: T0 + 1000 })],
      want: { create: false, delete: ['old'] },
    },
    {
      name: 'while surging, an old pod stays until the new one is ready',
      node: node('n1'),
      ds: daemonSet({ maxSurge: 1, maxUnavailable: 0 }),
      pods: [pod('old', 'n1', { hash: 'old' }), pod('new', 'n1', { created: T0 + 1000, ready: false })],
      want: { create: false, delete: [] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = podsShouldBeOnNode({ node: c.node, ds: c.ds ?? ds, pods: c.pods, hash: 'new', now: T0, backoff: c.backoff ?? noBackoff });
      assert.equal(got.create, c.want.create);
      assert.deepEqual(got.delete, c.want.delete);
      assert.deepEqual(
        got.events.map((e) => e.reason),
        c.want.events ?? [],
      );
      assert.equal(got.requeueAfterMs !== undefined, c.want.requeue ?? false);
    });
  }
  it('words the FailedDaemonPod event as upstream', () => {
    const got = podsShouldBeOnNode({ node: node('n1'), ds, pods: [pod('ds-x', 'n1', { phase: 'Failed' })], hash: 'new', now: T0, backoff: noBackoff });
    assert.deepEqual(got.events[0], { type: 'Warning', reason: 'FailedDaemonPod', message: 'Found failed daemon pod default/ds-x on node n1, will try to kill it' });
  });
});

describe('planRollingUpdate', () => {
  const nodes = new Map(['n1', 'n2', 'n3', 'n4'].map((n) => [n, node(n)]));
  const oldPods = (...names: string[]) => names.map((n) => pod(`p-${n}`, n, { hash: 'old' }));
  const cases: Array<{ name: string; ds: DaemonSet; pods: Pod[]; want: { podsToDelete: string[]; nodesToCreate: string[] } }> = [
    { name: 'maxUnavailable 1 deletes one available old pod', ds: daemonSet({ maxUnavailable: 1 }), pods: oldPods('n1', 'n2', 'n3', 'n4'), want: { podsToDelete: ['p-n1'], nodesToCreate: [] } },
    { name: 'maxUnavailable 50% deletes two', ds: daemonSet({ maxUnavailable: '50%' }), pods: oldPods('n1', 'n2', 'n3', 'n4'), want: { podsToDelete: ['p-n1', 'p-n2'], nodesToCreate: [] } },
    {
      name: 'an unavailable new pod uses up the budget',
      ds: daemonSet({ maxUnavailable: 1 }),
      pods: [pod('p-n1', 'n1', { ready: false }), ...oldPods('n2', 'n3', 'n4')],
      want: { podsToDelete: [], nodesToCreate: [] },
    },
    {
      name: 'an unavailable old pod is replaced regardless of the budget',
      ds: daemonSet({ maxUnavailable: 1 }),
      pods: [pod('p-n1', 'n1', { ready: false }), pod('p-n2', 'n2', { hash: 'old', ready: false }), ...oldPods('n3', 'n4')],
      want: { podsToDelete: ['p-n2'], nodesToCreate: [] },
    },
    { name: 'a node without any pod counts as unavailable', ds: daemonSet({ maxUnavailable: 1 }), pods: oldPods('n2', 'n3', 'n4'), want: { podsToDelete: [], nodesToCreate: [] } },
    {
      name: 'pods not yet available for minReadySeconds count as unavailable',
      ds: daemonSet({ maxUnavailable: 2, minReadySeconds: 300 }),
      pods: [pod('p-n1', 'n1', { readySince: T0 - 10_000 }), ...['n2', 'n3', 'n4'].map((n) => pod(`p-${n}`, n, { hash: 'old', readySince: T0 - 600_000 }))],
      want: { podsToDelete: ['p-n2'], nodesToCreate: [] },
    },
    { name: 'maxSurge 1 starts one new pod beside an old one', ds: daemonSet({ maxSurge: 1, maxUnavailable: 0 }), pods: oldPods('n1', 'n2', 'n3', 'n4'), want: { podsToDelete: [], nodesToCreate: ['n1'] } },
    {
      name: 'with surge an available new pod lets its old pod go and the next node surge',
      ds: daemonSet({ maxSurge: 1, maxUnavailable: 0 }),
      pods: [...oldPods('n1', 'n2', 'n3', 'n4'), pod('new-n1', 'n1')],
      want: { podsToDelete: ['p-n1'], nodesToCreate: ['n2'] },
    },
    {
      name: 'with surge a new pod not yet available holds the surge budget',
      ds: daemonSet({ maxSurge: 1, maxUnavailable: 0 }),
      pods: [...oldPods('n1', 'n2', 'n3', 'n4'), pod('new-n1', 'n1', { ready: false })],
      want: { podsToDelete: [], nodesToCreate: [] },
    },
    { name: 'both limits 0 fall back to one unavailable', ds: daemonSet({ maxSurge: 0, maxUnavailable: 0 }), pods: oldPods('n1', 'n2', 'n3', 'n4'), want: { podsToDelete: ['p-n1'], nodesToCreate: [] } },
    { name: 'an up-to-date DaemonSet has nothing to do', ds: daemonSet(), pods: ['n1', 'n2', 'n3', 'n4'].map((n) => pod(`p-${n}`, n)), want: { podsToDelete: [], nodesToCreate: [] } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = planRollingUpdate({ ds: c.ds, nodes, nodeToPods: groupPodsByNode(c.pods), hash: 'new', now: T0 });
      assert.deepEqual(got, c.want);
    });
  }
});

describe('computeDaemonSetStatus', () => {
  it('counts desired, scheduled, misscheduled, ready, updated and available pods', () => {
    const nodes = [node('n1'), node('n2'), node('n3'), node('n4', { taints: [{ key: 'k', effect: 'NoSchedule' }] })];
    const pods = [pod('a', 'n1'), pod('b', 'n2', { hash: 'old' }), pod('c', 'n2', { created: T0 + 5 }), pod('d', 'n4', { ready: false })];
    const got = computeDaemonSetStatus({ ds: daemonSet(), nodes, nodeToPods: groupPodsByNode(pods), hash: 'new', now: T0 });
    assert.deepEqual(got, {
      desiredNumberScheduled: 3,
      currentNumberScheduled: 2,
      numberMisscheduled: 1,
      numberReady: 2,
      updatedNumberScheduled: 1,
      numberAvailable: 2,
      numberUnavailable: 1,
    });
  });
});

describe('Backoff', () => {
  it('doubles from the initial delay up to the maximum and reports back-off since the last failure', () => {
    const b = new Backoff(1000, 4000);
    assert.equal(b.inBackoff('k', 0), false);
    b.next('k', 0);
    assert.equal(b.delay('k'), 1000);
    assert.equal(b.inBackoff('k', 500), true);
    assert.equal(b.inBackoff('k', 1500), false);
    b.next('k', 1500);
    b.next('k', 1600);
    b.next('k', 1700);
    assert.equal(b.delay('k'), 4000);
  });
});

describe('scaledValueFromIntOrPercent', () => {
  for (const [v, total, up, want] of [
    [1, 10, true, 1],
    ['25%', 10, true, 3],
    ['25%', 10, false, 2],
    ['0%', 10, true, 0],
  ] as const) {
    it(`${v} of ${total} rounding ${up ? 'up' : 'down'} is ${want}`, () => assert.equal(scaledValueFromIntOrPercent(v, total, up), want));
  }
  it('rejects a string that is not a percentage', () => assert.throws(() => scaledValueFromIntOrPercent('3', 10, true)));
});
