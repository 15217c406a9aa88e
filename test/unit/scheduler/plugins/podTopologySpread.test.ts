import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node, Pod, Taint } from 'kubernetes-types/core/v1.js';
import { CycleState } from '../../../../src/scheduler/framework/cycleState.js';
import { PodInfo } from '../../../../src/scheduler/framework/nodeInfo.js';
import { Code, ConfigError, isPlugin, type NodeScore, type Plugin } from '../../../../src/scheduler/framework/types.js';
import { ErrReasonConstraintsNotMatch, ErrReasonNodeLabelNotMatch, PodTopologySpread } from '../../../../src/scheduler/plugins/podTopologySpread.js';
import { exists, fakeHandle, makeNode, nodeInfos, pod, type FakeCluster } from './spreadBuilders.js';

const HOST = 'kubernetes.io/hostname';
const foo = exists('foo');
const bar = exists('bar');

function zoneNode(name: string, zone: string | undefined, extra: Record<string, string> = {}, taints: Taint[] = []): Node {
  return makeNode(name, { ...(zone ? { zone } : {}), node: name, ...extra }, taints);
}

function newPlugin(cluster: FakeCluster, args?: Record<string, unknown>): Plugin {
  return PodTopologySpread.create(args ?? PodTopologySpread.defaultArgs!(), fakeHandle(cluster));
}

type Want = Record<string, Code>;

function runFilter(p: Pod, nodes: Node[], existing: Pod[]): Record<string, { code: Code; reasons: readonly string[] }> {
  const infos = nodeInfos(nodes, existing);
  const pl = newPlugin({ infos });
  assert.ok(isPlugin(pl, 'preFilter') && isPlugin(pl, 'filter'));
  const state = new CycleState();
  const pre = pl.preFilter(state, p, infos);
  const out: Record<string, { code: Code; reasons: readonly string[] }> = {};
  if (pre.status?.code === Code.Skip) {
    for (const ni of infos) out[ni.name] = { code: Code.Success, reasons: [] };
    return out;
  }
  for (const ni of infos) {
    const s = pl.filter(state, p, ni);
    out[ni.name] = { code: s?.code ?? Code.Success, reasons: s?.reasons ?? [] };
  }
  return out;
}

const fourNodes = [zoneNode('node-a', 'zone1'), zoneNode('node-b', 'zone1'), zoneNode('node-x', 'zone2'), zoneNode('node-y', 'zone2')];
const labelled = (name: string, node: string, labels: Record<string, string> = { foo: '' }) => pod(name).on(node).labels(labels).build();
const S = Code.Success;
const U = Code.Unschedulable;
const UU = Code.UnschedulableAndUnresolvable;

describe('PodTopologySpread Filter', () => {
  const cases: Array<{ name: string; pod: Pod; nodes?: Node[]; existing?: Pod[]; want: Want }> = [
    {
      name: 'no existing pods: every node fits',
      pod: pod('p').labels({ foo: '' }).spread(1, 'zone', 'DoNotSchedule', foo).build(),
      want: { 'node-a': S, 'node-b': S, 'node-x': S, 'node-y': S },
    },
    {
      name: 'no existing pods and the pod does not match itself: every node fits',
      pod: pod('p').labels({ foo: '' }).spread(1, 'zone', 'DoNotSchedule', bar).build(),
      want: { 'node-a': S, 'node-b': S, 'node-x': S, 'node-y': S },
    },
    {
      name: 'pods in another namespace do not count',
      pod: pod('p').labels({ foo: '' }).spread(1, 'zone', 'DoNotSchedule', foo).build(),
      existing: [pod('p-a1').ns('ns1').on('node-a').labels({ foo: '' }).build(), pod('p-b1').ns('ns2').on('node-b').labels({ foo: '' }).build(), labelled('p-y1', 'node-y')],
      want: { 'node-a': S, 'node-b': S, 'node-x': U, 'node-y': U },
    },
    {
      name: 'pods spread 3/3 across zones: every node fits',
      pod: pod('p').labels({ foo: '' }).spread(1, 'zone', 'DoNotSchedule', foo).build(),
      existing: [labelled('p-a1', 'node-a'), labelled('p-b1', 'node-b'), labelled('p-b2', 'node-b'), labelled('p-x1', 'node-x'), labelled('p-y1', 'node-y'), labelled('p-y2', 'node-y')],
      want: { 'node-a': S, 'node-b': S, 'node-x': S, 'node-y': S },
    },
    {
      name: 'spread 1/2 because node-b has no zone: node-b is unresolvable, zone2 is skewed',
      pod: pod('p').labels({ foo: '' }).spread(1, 'zone', 'DoNotSchedule', foo).build(),
      nodes: [zoneNode('node-a', 'zone1'), zoneNode('node-b', undefined), zoneNode('node-x', 'zone2'), zoneNode('node-y', 'zone2')],
      existing: [labelled('p-a1', 'node-a'), labelled('p-b1', 'node-b'), labelled('p-x1', 'node-x'), labelled('p-y1', 'node-y')],
      want: { 'node-a': S, 'node-b': UU, 'node-x': U, 'node-y': U },
    },
    {
      name: 'no node has the topology key: all unresolvable',
      pod: pod('p').labels({ foo: '' }).spread(1, 'rack', 'DoNotSchedule', foo).build(),
      existing: [labelled('p-a1', 'node-a')],
      want: { 'node-a': UU, 'node-b': UU, 'node-x': UU, 'node-y': UU },
    },
    {
      name: 'pods spread 2/1/0/3 over nodes: only node-x fits',
      pod: pod('p').labels({ foo: '' }).spread(1, 'node', 'DoNotSchedule', foo).build(),
      existing: [labelled('p-a1', 'node-a'), labelled('p-a2', 'node-a'), labelled('p-b1', 'node-b'), labelled('p-y1', 'node-y'), labelled('p-y2', 'node-y'), labelled('p-y3', 'node-y')],
      want: { 'node-a': U, 'node-b': U, 'node-x': S, 'node-y': U },
    },
    {
      name: 'pods spread 2/1/0/3 with maxSkew 2: node-b and node-x fit',
      pod: pod('p').labels({ foo: '' }).spread(2, 'node', 'DoNotSchedule', foo).build(),
      existing: [labelled('p-a1', 'node-a'), labelled('p-a2', 'node-a'), labelled('p-b1', 'node-b'), labelled('p-y1', 'node-y'), labelled('p-y2', 'node-y'), labelled('p-y3', 'node-y')],
      want: { 'node-a': U, 'node-b': S, 'node-x': S, 'node-y': U },
    },
    {
      name: 'pods spread 2/1/0/3 but the pod does not match itself: node-b and node-x fit',
      pod: pod('p').labels({ bar: '' }).spread(1, 'node', 'DoNotSchedule', foo).build(),
      existing: [labelled('p-a1', 'node-a'), labelled('p-a2', 'node-a'), labelled('p-b1', 'node-b'), labelled('p-y1', 'node-y'), labelled('p-y2', 'node-y'), labelled('p-y3', 'node-y')],
      want: { 'node-a': U, 'node-b': S, 'node-x': S, 'node-y': U },
    },
    {
      name: 'terminating pods do not count',
      pod: pod('p').labels({ foo: '' }).spread(1, 'node', 'DoNotSchedule', foo).build(),
      existing: [pod('p-a1').on('node-a').labels({ foo: '' }).terminating().build(), pod('p-b1').on('node-b').labels({ foo: '' }).terminating().build()],
      want: { 'node-a': S, 'node-b': S, 'node-x': S, 'node-y': S },
    },
    {
      name: 'two constraints on zone and node, spread 3/3 and 2/1/0/3: only node-x fits',
      pod: pod('p').labels({ foo: '' }).spread(1, 'zone', 'DoNotSchedule', foo).spread(1, 'node', 'DoNotSchedule', foo).build(),
      existing: [labelled('p-a1', 'node-a'), labelled('p-a2', 'node-a'), labelled('p-b1', 'node-b'), labelled('p-y1', 'node-y'), labelled('p-y2', 'node-y'), labelled('p-y3', 'node-y')],
      want: { 'node-a': U, 'node-b': U, 'node-x': S, 'node-y': U },
    },
    {
      name: 'minDomains 3 with only 2 zones treats the global minimum as 0',
      pod: pod('p').labels({ foo: '' }).spread(1, 'zone', 'DoNotSchedule', foo, { minDomains: 3 }).build(),
      existing: [labelled('p-a1', 'node-a'), labelled('p-x1', 'node-x')],
      want: { 'node-a': U, 'node-b': U, 'node-x': U, 'node-y': U },
    },
    {
      name: 'minDomains 2 with 2 zones keeps the real global minimum',
      pod: pod('p').labels({ foo: '' }).spread(1, 'zone', 'DoNotSchedule', foo, { minDomains: 2 }).build(),
      existing: [labelled('p-a1', 'node-a'), labelled('p-x1', 'node-x')],
      want: { 'node-a': S, 'node-b': S, 'node-x': S, 'node-y': S },
    },
    {
      name: 'nodeAffinityPolicy Honor (default): nodes the pod cannot use do not count',
      pod: pod('p').labels({ foo: '' }).nodeSelector({ pool: 'a' }).spread(1, 'zone', 'DoNotSchedule', foo).build(),
      nodes: [zoneNode('node-a', 'zone1', { pool: 'a' }), zoneNode('node-x', 'zone2', { pool: 'a' }), zoneNode('node-y', 'zone2', { pool: 'b' })],
      existing: [labelled('p-a1', 'node-a'), labelled('p-y1', 'node-y'), labelled('p-y2', 'node-y')],
      want: { 'node-a': U, 'node-x': S, 'node-y': S },
    },
    {
      name: 'nodeAffinityPolicy Ignore: every node counts',
      pod: pod('p').labels({ foo: '' }).nodeSelector({ pool: 'a' }).spread(1, 'zone', 'DoNotSchedule', foo, { nodeAffinityPolicy: 'Ignore' }).build(),
      nodes: [zoneNode('node-a', 'zone1', { pool: 'a' }), zoneNode('node-x', 'zone2', { pool: 'a' }), zoneNode('node-y', 'zone2', { pool: 'b' })],
      existing: [labelled('p-a1', 'node-a'), labelled('p-y1', 'node-y'), labelled('p-y2', 'node-y')],
      want: { 'node-a': S, 'node-x': U, 'node-y': U },
    },
    {
      name: 'nodeTaintsPolicy Honor: pods on nodes with untolerated taints do not count',
      pod: pod('p').labels({ foo: '' }).spread(1, 'zone', 'DoNotSchedule', foo, { nodeTaintsPolicy: 'Honor' }).build(),
      nodes: [zoneNode('node-a', 'zone1'), zoneNode('node-x', 'zone2'), zoneNode('node-y', 'zone2', {}, [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }])],
      existing: [labelled('p-a1', 'node-a'), labelled('p-y1', 'node-y'), labelled('p-y2', 'node-y')],
      want: { 'node-a': U, 'node-x': S, 'node-y': S },
    },
    {
      name: 'nodeTaintsPolicy Ignore (default): tainted nodes count',
      pod: pod('p').labels({ foo: '' }).spread(1, 'zone', 'DoNotSchedule', foo).build(),
      nodes: [zoneNode('node-a', 'zone1'), zoneNode('node-x', 'zone2'), zoneNode('node-y', 'zone2', {}, [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }])],
      existing: [labelled('p-a1', 'node-a'), labelled('p-y1', 'node-y'), labelled('p-y2', 'node-y')],
      want: { 'node-a': S, 'node-x': U, 'node-y': U },
    },
    {
      name: 'matchLabelKeys narrows the selector to pods with the same value',
      pod: pod('p').labels({ foo: '', rev: '2' }).spread(1, 'node', 'DoNotSchedule', foo, { matchLabelKeys: ['rev'] }).build(),
      existing: [labelled('p-a1', 'node-a', { foo: '', rev: '1' }), labelled('p-a2', 'node-a', { foo: '', rev: '1' }), labelled('p-b1', 'node-b', { foo: '', rev: '2' })],
      want: { 'node-a': S, 'node-b': U, 'node-x': S, 'node-y': S },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = runFilter(c.pod, c.nodes ?? fourNodes, c.existing ?? []);
      const codes = Object.fromEntries(Object.entries(got).map(([k, v]) => [k, v.code]));
      assert.deepEqual(codes, c.want);
      for (const v of Object.values(got)) {
        if (v.code === U) assert.deepEqual(v.reasons, [ErrReasonConstraintsNotMatch]);
        if (v.code === UU) assert.deepEqual(v.reasons, [ErrReasonNodeLabelNotMatch]);
      }
    });
  }

  it('skips pods without DoNotSchedule constraints', () => {
    const pl = newPlugin({ infos: nodeInfos(fourNodes) });
    assert.ok(isPlugin(pl, 'preFilter'));
    const p = pod('p').labels({ foo: '' }).spread(1, 'zone', 'ScheduleAnyway', foo).build();
    assert.equal(pl.preFilter(new CycleState(), p, nodeInfos(fourNodes)).status?.code, Code.Skip);
  });
});

describe('PodTopologySpread PreFilterExtensions', () => {
  it('removing a matching pod from the crowded domain lets the pod fit there; adding it back does not', () => {
    const existing = [labelled('p-a1', 'node-a'), labelled('p-a2', 'node-a'), labelled('p-x1', 'node-x')];
    const infos = nodeInfos(fourNodes, existing);
    const pl = newPlugin({ infos });
    assert.ok(isPlugin(pl, 'preFilter') && isPlugin(pl, 'filter'));
    const p = pod('p').labels({ foo: '' }).spread(1, 'zone', 'DoNotSchedule', foo).build();
    const state = new CycleState();
    pl.preFilter(state, p, infos);
    const nodeA = infos[0]!;
    assert.equal(pl.filter(state, p, nodeA)?.code, U);
    const what = state.clone();
    const ext = pl.preFilterExtensions!()!;
    ext.removePod(what, p, new PodInfo(existing[0]!), nodeA);
    assert.equal(pl.filter(what, p, nodeA)?.code ?? S, S);
    // The original state is untouched by the clone's what-if.
    assert.equal(pl.filter(state, p, nodeA)?.code, U);
    ext.addPod(what, p, new PodInfo(existing[0]!), nodeA);
    assert.equal(pl.filter(what, p, nodeA)?.code, U);
  });

  it('pods of another namespace do not change the counts', () => {
    const infos = nodeInfos(fourNodes, [labelled('p-a1', 'node-a')]);
    const pl = newPlugin({ infos });
    assert.ok(isPlugin(pl, 'preFilter') && isPlugin(pl, 'filter'));
    const p = pod('p').labels({ foo: '' }).spread(1, 'zone', 'DoNotSchedule', foo).build();
    const state = new CycleState();
    pl.preFilter(state, p, infos);
    pl.preFilterExtensions!()!.addPod(state, p, new PodInfo(pod('o').ns('other').on('node-x').labels({ foo: '' }).build()), infos[2]!);
    assert.equal(pl.filter(state, p, infos[2]!)?.code ?? S, S);
  });
});

function runScore(p: Pod, nodes: Node[], failed: Node[], existing: Pod[], cluster: Omit<FakeCluster, 'infos'> = {}, args?: Record<string, unknown>): Record<string, number> | 'skip' {
  const all = nodeInfos([...nodes, ...failed], existing);
  const candidates = all.filter((i) => nodes.some((n) => n.metadata?.name === i.name));
  const pl = newPlugin({ ...cluster, infos: all }, args);
  assert.ok(isPlugin(pl, 'preScore') && isPlugin(pl, 'score'));
  const state = new CycleState();
  const pre = pl.preScore(state, p, candidates);
  if (pre?.code === Code.Skip) return 'skip';
  const scores: NodeScore[] = candidates.map((ni) => {
    const s = pl.score(state, p, ni);
    assert.equal(typeof s, 'number');
    return { name: ni.name, score: s as number };
  });
  pl.normalizeScore!(state, p, scores);
  return Object.fromEntries(scores.map((s) => [s.name, s.score]));
}

const hostNode = (name: string, extra: Record<string, string> = {}) => makeNode(name, { [HOST]: name, ...extra });

describe('PodTopologySpread Score (upstream expectations)', () => {
  const spread2103 = [labelled('p-a1', 'node-a'), labelled('p-a2', 'node-a'), labelled('p-b1', 'node-b'), labelled('p-d1', 'node-d'), labelled('p-d2', 'node-d'), labelled('p-d3', 'node-d')];
  const spread4321 = [
    ...['p-a1', 'p-a2', 'p-a3', 'p-a4'].map((n) => labelled(n, 'node-a')),
    ...['p-b1', 'p-b2', 'p-b3'].map((n) => labelled(n, 'node-b')),
    ...['p-c1', 'p-c2'].map((n) => labelled(n, 'node-c')),
    labelled('p-d1', 'node-d'),
  ];
  const abcd = ['node-a', 'node-b', 'node-c', 'node-d'].map((n) => hostNode(n));
  const spread4213 = [
    ...['p-a1', 'p-a2', 'p-a3', 'p-a4'].map((n) => labelled(n, 'node-a')),
    ...['p-b1', 'p-b2'].map((n) => labelled(n, 'node-b')),
    labelled('p-x1', 'node-x'),
    ...['p-y1', 'p-y2', 'p-y3'].map((n) => labelled(n, 'node-y')),
  ];
  const zoned = (n: string, z: string) => hostNode(n, { zone: z });
  const cases: Array<{ name: string; pod: Pod; nodes: Node[]; failed?: Node[]; existing?: Pod[]; cluster?: Omit<FakeCluster, 'infos'>; want: Record<string, number> }> = [
    {
      name: 'one constraint on node, all nodes have the same number of matching pods',
      pod: pod('p').labels({ foo: '' }).spread(1, HOST, 'ScheduleAnyway', foo).build(),
      nodes: [hostNode('node-a'), hostNode('node-b')],
      existing: [labelled('p-a1', 'node-a'), labelled('p-b1', 'node-b')],
      want: { 'node-a': 100, 'node-b': 100 },
    },
    {
      name: 'one constraint on node, all 4 nodes are candidates (2/1/0/3)',
      pod: pod('p').labels({ foo: '' }).spread(1, HOST, 'ScheduleAnyway', foo).build(),
      nodes: abcd,
      existing: spread2103,
      want: { 'node-a': 20, 'node-b': 60, 'node-c': 100, 'node-d': 0 },
    },
    {
      name: 'one constraint on node, all 4 nodes are candidates, maxSkew=2',
      pod: pod('p').labels({ foo: '' }).spread(2, HOST, 'ScheduleAnyway', foo).build(),
      nodes: abcd,
      existing: spread2103,
      want: { 'node-a': 33, 'node-b': 66, 'node-c': 100, 'node-d': 16 },
    },
    {
      name: 'one constraint on node, all 4 nodes are candidates, maxSkew=3 (4/3/2/1)',
      pod: pod('p').labels({ foo: '' }).spread(3, HOST, 'ScheduleAnyway', foo).build(),
      nodes: abcd,
      existing: spread4321,
      want: { 'node-a': 44, 'node-b': 66, 'node-c': 77, 'node-d': 100 },
    },
    {
      name: 'system defaulting, nodes without zone, pods matching a service',
      pod: pod('p').labels({ foo: '' }).build(),
      nodes: abcd,
      existing: spread4321,
      cluster: { services: [{ metadata: { name: 'svc', namespace: 'default' }, spec: { selector: { foo: '' } } }] },
      want: { 'node-a': 44, 'node-b': 66, 'node-c': 77, 'node-d': 100 },
    },
    {
      name: 'one constraint on node, 3 out of 4 nodes are candidates',
      pod: pod('p').labels({ foo: '' }).spread(1, HOST, 'ScheduleAnyway', foo).build(),
      nodes: [hostNode('node-a'), hostNode('node-b'), hostNode('node-x')],
      failed: [hostNode('node-y')],
      existing: spread4213,
      want: { 'node-a': 33, 'node-b': 83, 'node-x': 100 },
    },
    {
      name: 'one constraint on node, 3 out of 4 nodes are candidates, one node lacks the topology key',
      pod: pod('p').labels({ foo: '' }).spread(1, HOST, 'ScheduleAnyway', foo).build(),
      nodes: [hostNode('node-a'), makeNode('node-b', { n: 'node-b' }), hostNode('node-x')],
      failed: [hostNode('node-y')],
      existing: spread4213,
      want: { 'node-a': 16, 'node-b': 0, 'node-x': 100 },
    },
    {
      name: 'one constraint on zone, 3 out of 4 nodes are candidates',
      pod: pod('p').labels({ foo: '' }).spread(1, 'zone', 'ScheduleAnyway', foo).build(),
      nodes: [zoned('node-a', 'zone1'), zoned('node-b', 'zone1'), zoned('node-x', 'zone2')],
      failed: [zoned('node-y', 'zone2')],
      existing: spread4213,
      want: { 'node-a': 75, 'node-b': 75, 'node-x': 100 },
    },
    {
      name: 'two constraints on zone and node, 2 out of 4 nodes are candidates',
      pod: pod('p').labels({ foo: '' }).spread(1, 'zone', 'ScheduleAnyway', foo).spread(1, HOST, 'ScheduleAnyway', foo).build(),
      nodes: [zoned('node-a', 'zone1'), zoned('node-x', 'zone2')],
      failed: [zoned('node-b', 'zone1'), zoned('node-y', 'zone2')],
      existing: [
        labelled('p-a1', 'node-a'),
        labelled('p-a2', 'node-a'),
        labelled('p-b1', 'node-b'),
        labelled('p-x1', 'node-x'),
        labelled('p-x2', 'node-x'),
        ...['p-y1', 'p-y2', 'p-y3', 'p-y4'].map((n) => labelled(n, 'node-y')),
      ],
      want: { 'node-a': 100, 'node-x': 63 },
    },
    {
      name: 'two constraints on zone and node with different selectors',
      pod: pod('p').labels({ foo: '', bar: '' }).spread(1, 'zone', 'ScheduleAnyway', foo).spread(1, HOST, 'ScheduleAnyway', bar).build(),
      nodes: [zoned('node-a', 'zone1'), zoned('node-b', 'zone1'), zoned('node-x', 'zone2'), zoned('node-y', 'zone2')],
      existing: [labelled('p-a1', 'node-a'), labelled('p-b1', 'node-b', { foo: '', bar: '' }), labelled('p-y1', 'node-y'), labelled('p-y2', 'node-y', { bar: '' })],
      want: { 'node-a': 60, 'node-b': 20, 'node-x': 100, 'node-y': 60 },
    },
    {
      name: 'two constraints with different selectors, some nodes have 0 pods',
      pod: pod('p').labels({ foo: '', bar: '' }).spread(1, 'zone', 'ScheduleAnyway', foo).spread(1, HOST, 'ScheduleAnyway', bar).build(),
      nodes: [zoned('node-a', 'zone1'), zoned('node-b', 'zone1'), zoned('node-x', 'zone2'), zoned('node-y', 'zone2')],
      existing: [labelled('p-b1', 'node-b', { bar: '' }), labelled('p-x1', 'node-x'), labelled('p-y1', 'node-y', { foo: '', bar: '' })],
      want: { 'node-a': 100, 'node-b': 60, 'node-x': 40, 'node-y': 0 },
    },
    {
      name: 'two constraints with different selectors, 3 out of 4 nodes are candidates',
      pod: pod('p').labels({ foo: '', bar: '' }).spread(1, 'zone', 'ScheduleAnyway', foo).spread(1, HOST, 'ScheduleAnyway', bar).build(),
      nodes: [zoned('node-a', 'zone1'), zoned('node-b', 'zone1'), zoned('node-x', 'zone2')],
      failed: [zoned('node-y', 'zone2')],
      existing: [labelled('p-a1', 'node-a'), labelled('p-b1', 'node-b', { foo: '', bar: '' }), labelled('p-y1', 'node-y'), labelled('p-y2', 'node-y', { bar: '' })],
      want: { 'node-a': 50, 'node-b': 25, 'node-x': 100 },
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(runScore(c.pod, c.nodes, c.failed ?? [], c.existing ?? [], c.cluster), c.want));

  it('skips pods without ScheduleAnyway constraints and without default constraints', () => {
    assert.equal(runScore(pod('p').labels({ foo: '' }).build(), abcd, [], spread4321), 'skip');
  });

  it('derives the default selector from the owning ReplicaSet', () => {
    const owned = (n: string, node: string) => pod(n).on(node).labels({ app: 'web' }).build();
    const p = pod('p').labels({ app: 'web' }).ownedBy('ReplicaSet', 'apps/v1', 'rs').build();
    const got = runScore(p, abcd, [], [owned('w1', 'node-a'), owned('w2', 'node-a'), owned('w3', 'node-b')], {
      replicaSets: [{ metadata: { name: 'rs', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'web' } }, template: {} } }],
    });
    assert.ok(got !== 'skip');
    assert.ok(got['node-c']! > got['node-b']! && got['node-b']! > got['node-a']!, JSON.stringify(got));
  });

  it('List defaulting with no constraints applies none', () => {
    const svc = { services: [{ metadata: { name: 'svc', namespace: 'default' }, spec: { selector: { foo: '' } } }] };
    const all = nodeInfos(abcd, spread4321);
    const pl = PodTopologySpread.create({ defaultingType: 'List', defaultConstraints: [] }, fakeHandle({ ...svc, infos: all }));
    assert.ok(isPlugin(pl, 'preScore'));
    assert.equal(pl.preScore(new CycleState(), pod('p').labels({ foo: '' }).build(), all)?.code, Code.Skip);
  });
});

describe('PodTopologySpread args', () => {
  const bad: Array<[string, Record<string, unknown>, string]> = [
    ['System defaulting with constraints', { defaultingType: 'System', defaultConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'ScheduleAnyway' }] }, 'defaultingType'],
    ['an unknown defaulting type', { defaultingType: 'Auto' }, 'defaultingType'],
    ['maxSkew 0', { defaultingType: 'List', defaultConstraints: [{ maxSkew: 0, topologyKey: 'zone', whenUnsatisfiable: 'ScheduleAnyway' }] }, 'defaultConstraints[0].maxSkew'],
    ['a selector in a default constraint', { defaultingType: 'List', defaultConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: {} }] }, 'defaultConstraints[0].labelSelector'],
    [
      'a repeated constraint',
      {
        defaultingType: 'List',
        defaultConstraints: [
          { maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'ScheduleAnyway' },
          { maxSkew: 2, topologyKey: 'zone', whenUnsatisfiable: 'ScheduleAnyway' },
        ],
      },
      'defaultConstraints[1]',
    ],
  ];
  for (const [name, args, field] of bad) {
    it(`refuses ${name}`, () => assert.throws(() => PodTopologySpread.create(args, fakeHandle()), (e: unknown) => e instanceof ConfigError && e.field === field));
  }

  it('registers pod and node events', () => {
    const pl = newPlugin({});
    assert.ok(isPlugin(pl, 'enqueue'));
    assert.deepEqual(
      pl.eventsToRegister().map((e) => e.event.resource),
      ['Pod', 'Node'],
    );
  });
});
