import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Namespace, Node, Pod } from 'kubernetes-types/core/v1.js';
import { CycleState } from '../../../../src/scheduler/framework/cycleState.js';
import { PodInfo } from '../../../../src/scheduler/framework/nodeInfo.js';
import { ActionType, Code, ConfigError, isPlugin, type NodeScore, type Plugin } from '../../../../src/scheduler/framework/types.js';
import {
  ErrReasonAffinityRulesNotMatch,
  ErrReasonAntiAffinityRulesNotMatch,
  ErrReasonExistingAntiAffinityRulesNotMatch,
  InterPodAffinity,
} from '../../../../src/scheduler/plugins/interPodAffinity.js';
import { fakeHandle, makeNode, namespace, nodeInfos, pod, sel, term, weighted } from './spreadBuilders.js';

const S = Code.Success;
const U = Code.Unschedulable;
const UU = Code.UnschedulableAndUnresolvable;

const securityIn = { matchExpressions: [{ key: 'security', operator: 'In', values: ['S1', 'value2'] }] };
const node1 = makeNode('node1', { region: 'r1', zone: 'z11', 'kubernetes.io/hostname': 'node1' });

function plugin(infos: ReturnType<typeof nodeInfos>, namespaces: Namespace[] = [], args?: Record<string, unknown>): Plugin {
  return InterPodAffinity.create(args ?? InterPodAffinity.defaultArgs!(), fakeHandle({ infos, namespaces }));
}

function filterAll(p: Pod, nodes: Node[], existing: Pod[], namespaces: Namespace[] = []): Record<string, { code: Code; reasons: readonly string[] }> {
  const infos = nodeInfos(nodes, existing);
  const pl = plugin(infos, namespaces);
  assert.ok(isPlugin(pl, 'preFilter') && isPlugin(pl, 'filter'));
  const state = new CycleState();
  const pre = pl.preFilter(state, p, infos);
  const out: Record<string, { code: Code; reasons: readonly string[] }> = {};
  for (const ni of infos) {
    const s = pre.status?.code === Code.Skip ? undefined : pl.filter(state, p, ni);
    out[ni.name] = { code: s?.code ?? S, reasons: s?.reasons ?? [] };
  }
  return out;
}

describe('InterPodAffinity Filter', () => {
  const cases: Array<{ name: string; pod: Pod; nodes?: Node[]; existing?: Pod[]; namespaces?: Namespace[]; want: Code; reason?: string }> = [
    { name: 'a pod without required pod affinity schedules onto a node with no existing pods', pod: pod('p').build(), want: S },
    {
      name: 'affinity with an In operator matching an existing pod is satisfied',
      pod: pod('p').podAffinity(term(securityIn, 'region')).build(),
      existing: [pod('e').on('node1').labels({ security: 'S1' }).build()],
      want: S,
    },
    {
      name: 'affinity limited to another namespace is not satisfied by a pod here',
      pod: pod('p').podAffinity(term(securityIn, 'region', { namespaces: ['DiffNameSpace'] })).build(),
      existing: [pod('e').on('node1').labels({ security: 'S1' }).build()],
      want: UU,
      reason: ErrReasonAffinityRulesNotMatch,
    },
    {
      name: 'affinity whose selector matches no existing pod is unresolvable',
      pod: pod('p').podAffinity(term(sel({ security: 'S2' }), 'region')).build(),
      existing: [pod('e').on('node1').labels({ security: 'S1' }).build()],
      want: UU,
      reason: ErrReasonAffinityRulesNotMatch,
    },
    {
      name: 'affinity with several terms needs one pod matching all of them',
      pod: pod('p').podAffinity(term(sel({ security: 'S1' }), 'region'), term(sel({ wan: 'yes' }), 'region')).build(),
      existing: [pod('e1').on('node1').labels({ security: 'S1' }).build(), pod('e2').on('node1').labels({ wan: 'yes' }).build()],
      want: UU,
      reason: ErrReasonAffinityRulesNotMatch,
    },
    {
      name: 'the incoming pod anti-affine to an existing pod in the same region is unschedulable',
      pod: pod('p').podAntiAffinity(term(securityIn, 'region')).build(),
      existing: [pod('e').on('node1').labels({ security: 'S1' }).build()],
      want: U,
      reason: ErrReasonAntiAffinityRulesNotMatch,
    },
    {
      name: "an existing pod's anti-affinity that selects the incoming pod makes the node unschedulable",
      pod: pod('p').labels({ security: 'S1' }).build(),
      existing: [pod('e').on('node1').podAntiAffinity(term(securityIn, 'zone')).build()],
      want: U,
      reason: ErrReasonExistingAntiAffinityRulesNotMatch,
    },
    {
      name: "an existing pod's anti-affinity over a topology the node lacks does not apply",
      pod: pod('p').labels({ security: 'S1' }).build(),
      existing: [pod('e').on('node1').podAntiAffinity(term(securityIn, 'rack')).build()],
      want: S,
    },
    {
      name: 'the first pod of a group with affinity to itself may schedule',
      pod: pod('p').labels({ security: 'S1' }).podAffinity(term(securityIn, 'region')).build(),
      want: S,
    },
    {
      name: 'the first pod of a group may not schedule on a node without the topology key',
      pod: pod('p').labels({ security: 'S1' }).podAffinity(term(securityIn, 'rack')).build(),
      want: UU,
      reason: ErrReasonAffinityRulesNotMatch,
    },
    {
      name: 'a pod with affinity that it does not match itself, with no matching pods, is unresolvable',
      pod: pod('p').labels({ security: 'S3' }).podAffinity(term(securityIn, 'region')).build(),
      want: UU,
      reason: ErrReasonAffinityRulesNotMatch,
    },
    {
      name: 'a namespaceSelector is resolved through the namespace lister (match)',
      pod: pod('p').podAffinity(term(securityIn, 'region', { namespaceSelector: sel({ team: 'a' }) })).build(),
      existing: [pod('e').ns('a1').on('node1').labels({ security: 'S1' }).build()],
      namespaces: [namespace('a1', { team: 'a' }), namespace('b1', { team: 'b' })],
      want: S,
    },
    {
      name: 'a namespaceSelector is resolved through the namespace lister (no match)',
      pod: pod('p').podAffinity(term(securityIn, 'region', { namespaceSelector: sel({ team: 'a' }) })).build(),
      existing: [pod('e').ns('b1').on('node1').labels({ security: 'S1' }).build()],
      namespaces: [namespace('a1', { team: 'a' }), namespace('b1', { team: 'b' })],
      want: UU,
      reason: ErrReasonAffinityRulesNotMatch,
    },
    {
      name: 'an empty namespaceSelector selects every namespace',
      pod: pod('p').podAntiAffinity(term(securityIn, 'region', { namespaceSelector: {} })).build(),
      existing: [pod('e').ns('elsewhere').on('node1').labels({ security: 'S1' }).build()],
      want: U,
      reason: ErrReasonAntiAffinityRulesNotMatch,
    },
    {
      name: "an existing pod's namespaceSelector is matched against the incoming pod's namespace labels",
      pod: pod('p').ns('team-a').labels({ security: 'S1' }).build(),
      existing: [pod('e').ns('other').on('node1').podAntiAffinity(term(securityIn, 'zone', { namespaceSelector: sel({ team: 'a' }) })).build()],
      namespaces: [namespace('team-a', { team: 'a' })],
      want: U,
      reason: ErrReasonExistingAntiAffinityRulesNotMatch,
    },
    {
      name: 'a term without a labelSelector selects no pod',
      pod: pod('p').podAntiAffinity(term(undefined, 'region')).build(),
      existing: [pod('e').on('node1').labels({ security: 'S1' }).build()],
      want: S,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = filterAll(c.pod, c.nodes ?? [node1], c.existing ?? [], c.namespaces)['node1']!;
      assert.equal(got.code, c.want);
      if (c.reason) assert.deepEqual(got.reasons, [c.reason]);
    });
  }

  it('anti-affinity applies across the whole topology domain, not just the node', () => {
    const nodes = [makeNode('n1', { zone: 'z1' }), makeNode('n2', { zone: 'z1' }), makeNode('n3', { zone: 'z2' })];
    const got = filterAll(pod('p').podAntiAffinity(term(sel({ app: 'db' }), 'zone')).build(), nodes, [pod('db').on('n1').labels({ app: 'db' }).build()]);
    assert.deepEqual(
      Object.fromEntries(Object.entries(got).map(([k, v]) => [k, v.code])),
      { n1: U, n2: U, n3: S },
    );
  });
});

describe('InterPodAffinity PreFilterExtensions', () => {
  it("removing the pod whose anti-affinity blocks the node lifts the block in the what-if copy only", () => {
    const blocker = pod('e').on('node1').podAntiAffinity(term(securityIn, 'zone')).build();
    const infos = nodeInfos([node1], [blocker]);
    const pl = plugin(infos);
    assert.ok(isPlugin(pl, 'preFilter') && isPlugin(pl, 'filter'));
    const p = pod('p').labels({ security: 'S1' }).build();
    const state = new CycleState();
    pl.preFilter(state, p, infos);
    const what = state.clone();
    const ext = pl.preFilterExtensions!()!;
    ext.removePod(what, p, new PodInfo(blocker), infos[0]!);
    assert.equal(pl.filter(what, p, infos[0]!)?.code ?? S, S);
    assert.equal(pl.filter(state, p, infos[0]!)?.code, U);
    ext.addPod(what, p, new PodInfo(blocker), infos[0]!);
    assert.equal(pl.filter(what, p, infos[0]!)?.code, U);
  });

  it('removing the only pod the incoming pod has affinity to makes the node unresolvable', () => {
    const target = pod('e').on('node1').labels({ security: 'S1' }).build();
    const infos = nodeInfos([node1], [target]);
    const pl = plugin(infos);
    assert.ok(isPlugin(pl, 'preFilter') && isPlugin(pl, 'filter'));
    const p = pod('p').podAffinity(term(securityIn, 'region')).build();
    const state = new CycleState();
    pl.preFilter(state, p, infos);
    pl.preFilterExtensions!()!.removePod(state, p, new PodInfo(target), infos[0]!);
    assert.equal(pl.filter(state, p, infos[0]!)?.code, UU);
  });
});

function scoreAll(p: Pod, nodes: Node[], existing: Pod[], args?: Record<string, unknown>): Record<string, number> | 'skip' {
  const infos = nodeInfos(nodes, existing);
  const pl = plugin(infos, [], args);
  assert.ok(isPlugin(pl, 'preScore') && isPlugin(pl, 'score'));
  const state = new CycleState();
  if (pl.preScore(state, p, infos)?.code === Code.Skip) return 'skip';
  const scores: NodeScore[] = infos.map((ni) => ({ name: ni.name, score: pl.score(state, p, ni) as number }));
  pl.normalizeScore!(state, p, scores);
  return Object.fromEntries(scores.map((s) => [s.name, s.score]));
}

describe('InterPodAffinity Score', () => {
  const china = makeNode('node1', { region: 'China', 'kubernetes.io/hostname': 'machine1' });
  const india = makeNode('node2', { region: 'India', 'kubernetes.io/hostname': 'machine2' });
  const az1 = makeNode('node3', { az: 'az1', 'kubernetes.io/hostname': 'machine3' });
  const china2 = makeNode('node4', { region: 'China', 'kubernetes.io/hostname': 'machine4' });
  const cases: Array<{ name: string; pod: Pod; nodes: Node[]; existing: Pod[]; args?: Record<string, unknown>; want: Record<string, number> | 'skip' }> = [
    {
      name: 'no affinity anywhere: skipped',
      pod: pod('p').build(),
      nodes: [china, india, az1],
      existing: [],
      want: 'skip',
    },
    {
      name: 'preferred affinity: nodes in the region of a matching pod score highest',
      pod: pod('p').preferredAffinity(weighted(5, term(sel({ security: 'S1' }), 'region'))).build(),
      nodes: [china, india, az1, china2],
      existing: [pod('e').on('node1').labels({ security: 'S1' }).build()],
      want: { node1: 100, node2: 0, node3: 0, node4: 100 },
    },
    {
      name: 'preferred affinity and anti-affinity weights add up per topology pair',
      pod: pod('p')
        .preferredAffinity(weighted(8, term(sel({ security: 'S1' }), 'region')))
        .preferredAntiAffinity(weighted(5, term(sel({ app: 'noisy' }), 'region')))
        .build(),
      nodes: [china, india, az1],
      existing: [pod('e1').on('node1').labels({ security: 'S1' }).build(), pod('e2').on('node2').labels({ app: 'noisy' }).build()],
      // raw: node1 8, node2 -5, node3 0 → (s+5)*100/13
      want: { node1: 100, node2: 0, node3: 38 },
    },
    {
      name: "an existing pod's required affinity to the incoming pod counts hardPodAffinityWeight",
      pod: pod('p').labels({ security: 'S1' }).build(),
      nodes: [china, india, china2],
      existing: [pod('e').on('node1').podAffinity(term(sel({ security: 'S1' }), 'region')).build()],
      want: { node1: 100, node2: 0, node4: 100 },
    },
    {
      name: 'hardPodAffinityWeight 0 ignores existing pods’ required affinity',
      pod: pod('p').labels({ security: 'S1' }).build(),
      nodes: [china, india],
      existing: [pod('e').on('node1').podAffinity(term(sel({ security: 'S1' }), 'region')).build()],
      args: { hardPodAffinityWeight: 0, ignorePreferredTermsOfExistingPods: false },
      want: 'skip',
    },
    {
      name: "an existing pod's preferred anti-affinity to the incoming pod lowers its region",
      pod: pod('p').labels({ security: 'S1' }).build(),
      nodes: [china, india],
      existing: [pod('e').on('node1').preferredAntiAffinity(weighted(3, term(sel({ security: 'S1' }), 'region'))).build()],
      want: { node1: 0, node2: 100 },
    },
    {
      name: 'ignorePreferredTermsOfExistingPods skips pods without preferred terms of their own',
      pod: pod('p').labels({ security: 'S1' }).build(),
      nodes: [china, india],
      existing: [pod('e').on('node1').preferredAntiAffinity(weighted(3, term(sel({ security: 'S1' }), 'region'))).build()],
      args: { hardPodAffinityWeight: 1, ignorePreferredTermsOfExistingPods: true },
      want: 'skip',
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(scoreAll(c.pod, c.nodes, c.existing, c.args), c.want));
});

describe('InterPodAffinity args and events', () => {
  for (const bad of [-1, 101, 1.5]) {
    it(`refuses hardPodAffinityWeight ${bad}`, () =>
      assert.throws(
        () => InterPodAffinity.create({ hardPodAffinityWeight: bad }, fakeHandle()),
        (e: unknown) => e instanceof ConfigError && e.field === 'hardPodAffinityWeight',
      ));
  }

  it('queues after an assigned pod matching the affinity appears, not after an unrelated one', () => {
    const pl = InterPodAffinity.create(undefined, fakeHandle());
    assert.ok(isPlugin(pl, 'enqueue'));
    const podEvent = pl.eventsToRegister().find((e) => e.event.resource === 'Pod')!;
    assert.equal(podEvent.event.actionType, ActionType.Add | ActionType.UpdatePodLabel | ActionType.Delete);
    const p = pod('p').podAffinity(term(sel({ app: 'db' }), 'zone')).build();
    assert.equal(podEvent.hint!(p, undefined, pod('db').on('n1').labels({ app: 'db' }).build()), 'Queue');
    assert.equal(podEvent.hint!(p, undefined, pod('web').on('n1').labels({ app: 'web' }).build()), 'QueueSkip');
    assert.equal(podEvent.hint!(p, undefined, pod('db').labels({ app: 'db' }).build()), 'QueueSkip');
  });
});
