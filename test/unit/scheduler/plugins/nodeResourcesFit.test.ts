import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import {
  NodeResourcesFit,
  REASON_INSUFFICIENT_CPU,
  REASON_INSUFFICIENT_EPHEMERAL_STORAGE,
  REASON_INSUFFICIENT_MEMORY,
  REASON_TOO_MANY_PODS,
  brokenLinearFunction,
  insufficientReason,
} from '../../../../src/scheduler/plugins/nodeResourcesFit.js';
import { resourceAllocationScore } from '../../../../src/scheduler/plugins/resourceAllocation.js';
import { ActionType, Code, ConfigError, type FilterPlugin, type PreFilterPlugin, type PreScorePlugin, type ScorePlugin, type EnqueueExtensions } from '../../../../src/scheduler/framework/types.js';
import { makeNode, makeNodeInfo, makePod, makeSnapshot, newPlugin, newState, statusOf, type ResourceList } from './builders.js';

type FitPlugin = PreFilterPlugin & FilterPlugin & PreScorePlugin & ScorePlugin & EnqueueExtensions;

const EXT_A = 'example.com/aaa';
const EXT_B = 'example.com/bbb';
const KUBE_EXT = 'kubernetes.io/something';
const HUGEPAGE = 'hugepages-2Mi';

// Upstream's fit_test node: 10m cpu, 20 bytes memory, 32 pods, 5 of example.com/aaa, 20 bytes storage, 5 hugepages.
const fitNode = (pods = '32') =>
  makeNode({ allocatable: { cpu: '10m', memory: '20', pods, [EXT_A]: '5', 'ephemeral-storage': '20', [HUGEPAGE]: '5' } });

const podWith = (requests: ResourceList, extra: Partial<Parameters<typeof makePod>[0]> = {}) => makePod({ requests, ...extra });

describe('NodeResourcesFit Filter', () => {
  const U = Code.Unschedulable;
  const UU = Code.UnschedulableAndUnresolvable;
  const cases: Array<{ name: string; pod: Pod; existing: Pod[]; args?: Record<string, unknown>; pods?: string; want: { code: number; reasons: string[] } }> = [
    { name: 'a pod that requests nothing always fits', pod: makePod({ containers: [] }), existing: [podWith({ cpu: '10m', memory: '20' })], want: { code: 0, reasons: [] } },
    {
      name: 'a pod that needs more cpu and memory than is left fails with both reasons, resolvable by preemption',
      pod: podWith({ cpu: '1m', memory: '1' }),
      existing: [podWith({ cpu: '10m', memory: '20' })],
      want: { code: U, reasons: [REASON_INSUFFICIENT_CPU, REASON_INSUFFICIENT_MEMORY] },
    },
    {
      name: 'an init container larger than what is left fails on cpu',
      pod: makePod({ requests: { cpu: '1m', memory: '1' }, initContainers: [{ requests: { cpu: '3m', memory: '1' } }] }),
      existing: [podWith({ cpu: '8m', memory: '19' })],
      want: { code: U, reasons: [REASON_INSUFFICIENT_CPU] },
    },
    {
      name: 'init containers count by their maximum, not their sum',
      pod: makePod({ requests: { cpu: '1m', memory: '1' }, initContainers: [{ requests: { cpu: '1m', memory: '1' } }, { requests: { cpu: '2m', memory: '1' } }] }),
      existing: [podWith({ cpu: '8m', memory: '19' })],
      want: { code: 0, reasons: [] },
    },
    { name: 'a pod fits when both resources have room', pod: podWith({ cpu: '1m', memory: '1' }), existing: [podWith({ cpu: '5m', memory: '5' })], want: { code: 0, reasons: [] } },
    { name: 'a pod that exactly fills the node fits', pod: podWith({ cpu: '5m', memory: '19' }), existing: [podWith({ cpu: '5m', memory: '1' })], want: { code: 0, reasons: [] } },
    {
      name: 'only the resource that lacks room is reported',
      pod: podWith({ cpu: '2m', memory: '1' }),
      existing: [podWith({ cpu: '9m', memory: '5' })],
      want: { code: U, reasons: [REASON_INSUFFICIENT_CPU] },
    },
    {
      name: 'a pod asking for more cpu than the whole node has is unresolvable',
      pod: podWith({ cpu: '11m', memory: '1' }),
      existing: [],
      want: { code: UU, reasons: [REASON_INSUFFICIENT_CPU] },
    },
    {
      name: 'one unresolvable resource makes the whole status unresolvable',
      pod: podWith({ cpu: '2m', memory: '21' }),
      existing: [podWith({ cpu: '9m', memory: '0' })],
      want: { code: UU, reasons: [REASON_INSUFFICIENT_CPU, REASON_INSUFFICIENT_MEMORY] },
    },
    { name: 'an extended resource with room fits', pod: podWith({ cpu: '1m', memory: '1', [EXT_A]: '1' }), existing: [podWith({ cpu: '0', memory: '0' })], want: { code: 0, reasons: [] } },
    {
      name: 'an extended resource used up by other pods is resolvable',
      pod: podWith({ cpu: '1m', memory: '1', [EXT_A]: '1' }),
      existing: [podWith({ cpu: '0', memory: '0', [EXT_A]: '5' })],
      want: { code: U, reasons: [insufficientReason(EXT_A)] },
    },
    {
      name: 'an extended resource request beyond the node capacity is unresolvable',
      pod: podWith({ cpu: '1m', memory: '1', [EXT_A]: '10' }),
      existing: [podWith({ cpu: '0', memory: '0' })],
      want: { code: UU, reasons: [insufficientReason(EXT_A)] },
    },
    {
      name: 'an extended resource the node does not have is enforced',
      pod: podWith({ cpu: '1m', memory: '1', [EXT_B]: '1' }),
      existing: [],
      want: { code: UU, reasons: [insufficientReason(EXT_B)] },
    },
    {
      name: 'an extended resource listed in ignoredResources is not checked',
      pod: podWith({ cpu: '1m', memory: '1', [EXT_B]: '1' }),
      existing: [],
      args: { ignoredResources: [EXT_B] },
      want: { code: 0, reasons: [] },
    },
    {
      name: 'an extended resource whose domain is in ignoredResourceGroups is not checked',
      pod: podWith({ cpu: '1m', memory: '1', [EXT_B]: '1' }),
      existing: [],
      args: { ignoredResourceGroups: ['example.com'] },
      want: { code: 0, reasons: [] },
    },
    {
      name: 'a kubernetes.io resource is enforced even when listed in ignoredResources',
      pod: podWith({ cpu: '1m', memory: '1', [KUBE_EXT]: '1' }),
      existing: [],
      args: { ignoredResources: [KUBE_EXT] },
      want: { code: UU, reasons: [insufficientReason(KUBE_EXT)] },
    },
    {
      name: 'hugepages beyond what is left fail',
      pod: podWith({ cpu: '1m', memory: '1', [HUGEPAGE]: '3' }),
      existing: [podWith({ cpu: '0', memory: '0', [HUGEPAGE]: '3' })],
      want: { code: U, reasons: [insufficientReason(HUGEPAGE)] },
    },
    { name: 'a zero request of a resource the node lacks is skipped', pod: podWith({ cpu: '1m', memory: '1', [EXT_B]: '0' }), existing: [], want: { code: 0, reasons: [] } },
    {
      name: 'requests plus pod overhead that fit pass',
      pod: podWith({ cpu: '1m', memory: '1' }, { overhead: { cpu: '3m', memory: '13' } }),
      existing: [podWith({ cpu: '5m', memory: '5' })],
      want: { code: 0, reasons: [] },
    },
    {
      name: 'requests plus pod overhead that exceed memory fail',
      pod: podWith({ cpu: '1m', memory: '1' }, { overhead: { cpu: '1m', memory: '15' } }),
      existing: [podWith({ cpu: '5m', memory: '5' })],
      want: { code: U, reasons: [REASON_INSUFFICIENT_MEMORY] },
    },
    {
      name: 'ephemeral storage beyond what is left fails',
      pod: podWith({ 'ephemeral-storage': '10' }),
      existing: [podWith({ 'ephemeral-storage': '15' })],
      want: { code: U, reasons: [REASON_INSUFFICIENT_EPHEMERAL_STORAGE] },
    },
    { name: 'a node at its pod limit rejects even an empty pod', pod: makePod({ containers: [] }), existing: [makePod()], pods: '1', want: { code: U, reasons: [REASON_TOO_MANY_PODS] } },
    {
      name: 'too many pods is reported before the resources',
      pod: podWith({ cpu: '1m', memory: '1' }),
      existing: [podWith({ cpu: '10m', memory: '20' })],
      pods: '1',
      want: { code: U, reasons: [REASON_TOO_MANY_PODS, REASON_INSUFFICIENT_CPU, REASON_INSUFFICIENT_MEMORY] },
    },
    {
      name: 'a sidecar runs beside the app containers, so its requests add up',
      pod: makePod({ requests: { cpu: '5m' }, initContainers: [{ requests: { cpu: '5m' }, restartPolicy: 'Always' }] }),
      existing: [podWith({ cpu: '1m' })],
      want: { code: U, reasons: [REASON_INSUFFICIENT_CPU] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = newPlugin<FitPlugin>(NodeResourcesFit, c.args);
      const state = newState();
      const pre = p.preFilter(state, c.pod, []);
      assert.equal(pre.status, undefined);
      const ni = makeNodeInfo(fitNode(c.pods), c.existing);
      assert.deepEqual(statusOf(p.filter(state, c.pod, ni)), c.want);
    });
  }

  it('filter without its PreFilter state is an internal error, not a rejection', () => {
    const p = newPlugin<FitPlugin>(NodeResourcesFit);
    assert.equal(p.filter(newState(), makePod(), makeNodeInfo(fitNode()))?.code, Code.Error);
  });
});

// Upstream's least/most allocated tests use whole cores ("4000" cpus) and bytes of memory.
const node = (name: string, allocatable: ResourceList) => makeNode({ name, allocatable });
const podReqs = (...containers: ResourceList[]) => makePod({ containers: containers.map((requests) => ({ requests })) });
const onNode = (nodeName: string, requests?: ResourceList) => makePod({ nodeName, containers: requests ? [{ requests }] : [] });

function scores(args: Record<string, unknown> | undefined, pod: Pod, nodes: ReturnType<typeof makeNode>[], existing: Pod[] = []): number[] {
  const byNode: Record<string, Pod[]> = {};
  for (const e of existing) (byNode[e.spec!.nodeName!] ??= []).push(e);
  const infos = makeSnapshot(nodes, byNode);
  const p = newPlugin<FitPlugin>(NodeResourcesFit, args);
  const state = newState();
  assert.equal(p.preScore(state, pod, infos), undefined);
  return infos.map((ni) => {
    const s = p.score(state, pod, ni);
    assert.equal(typeof s, 'number', `score of ${ni.name}: ${JSON.stringify(s)}`);
    return s as number;
  });
}

const strategy = (type: string, resources?: Array<{ name: string; weight: number }>, shape?: Array<{ utilization: number; score: number }>) => ({
  scoringStrategy: { type, ...(resources ? { resources } : {}), ...(shape ? { requestedToCapacityRatio: { shape } } : {}) },
});

const EXT = 'abc.com/xyz';
const withExt = [
  { name: 'cpu', weight: 1 },
  { name: 'memory', weight: 1 },
  { name: EXT, weight: 1 },
];

describe('NodeResourcesFit Score with LeastAllocated (the default)', () => {
  const cases: Array<{ name: string; pod: Pod; nodes: ReturnType<typeof makeNode>[]; existing?: Pod[]; resources?: Array<{ name: string; weight: number }>; want: number[] }> = [
    { name: 'empty nodes score full for a pod without containers', pod: makePod({ containers: [] }), nodes: [node('node1', { cpu: '4000', memory: '10000' }), node('node2', { cpu: '4000', memory: '10000' })], want: [100, 100] },
    {
      name: 'differently sized empty nodes score by the room left after the pod',
      pod: podReqs({ cpu: '1000', memory: '2000' }, { cpu: '2000', memory: '3000' }),
      nodes: [node('node1', { cpu: '4000', memory: '10000' }), node('node2', { cpu: '6000', memory: '10000' })],
      want: [37, 50],
    },
    {
      name: 'pods without containers on the nodes take nothing',
      pod: makePod({ containers: [] }),
      nodes: [node('node1', { cpu: '4000', memory: '10000' }), node('node2', { cpu: '4000', memory: '10000' })],
      existing: [onNode('node1'), onNode('node1'), onNode('node2'), onNode('node2')],
      want: [100, 100],
    },
    {
      name: 'scheduled pods with requests lower the score',
      pod: makePod({ containers: [] }),
      nodes: [node('node1', { cpu: '10000', memory: '20000' }), node('node2', { cpu: '10000', memory: '20000' })],
      existing: [onNode('node1', { cpu: '3000', memory: '0' }), onNode('node1', { cpu: '3000', memory: '0' }), onNode('node2', { cpu: '3000', memory: '0' }), onNode('node2', { cpu: '3000', memory: '5000' })],
      want: [70, 57],
    },
    {
      name: 'the pod and the scheduled pods both count',
      pod: podReqs({ cpu: '1000', memory: '2000' }, { cpu: '2000', memory: '3000' }),
      nodes: [node('node1', { cpu: '10000', memory: '20000' }), node('node2', { cpu: '10000', memory: '50000' })],
      existing: [onNode('node1', { cpu: '3000', memory: '0' }), onNode('node2', { cpu: '3000', memory: '5000' })],
      want: [57, 60],
    },
    {
      name: 'a resource requested beyond capacity scores zero',
      pod: podReqs({ cpu: '3000', memory: '0' }),
      nodes: [node('node1', { cpu: '4000', memory: '10000' }), node('node2', { cpu: '4000', memory: '10000' })],
      existing: [onNode('node1', { cpu: '3000', memory: '0' }), onNode('node2', { cpu: '3000', memory: '5000' })],
      want: [50, 25],
    },
    {
      name: 'nodes without allocatable resources score zero',
      pod: makePod({ containers: [] }),
      nodes: [makeNode({ name: 'node1' }), makeNode({ name: 'node2' })],
      existing: [onNode('node1', { cpu: '3000', memory: '0' }), onNode('node2', { cpu: '3000', memory: '5000' })],
      want: [0, 0],
    },
    {
      name: 'weights favour the heavier resource',
      pod: podReqs({ cpu: '1000', memory: '2000' }, { cpu: '2000', memory: '3000' }),
      nodes: [node('node1', { cpu: '4000', memory: '10000' }), node('node2', { cpu: '6000', memory: '10000' })],
      resources: [
        { name: 'memory', weight: 2 },
        { name: 'cpu', weight: 1 },
      ],
      want: [41, 50],
    },
    {
      name: 'an extended resource the pod does not request is left out',
      pod: podReqs({ cpu: '1000', memory: '2000' }, { cpu: '2000', memory: '3000' }),
      nodes: [node('node1', { cpu: '6000', memory: '10000' }), node('node2', { cpu: '6000', memory: '10000', [EXT]: '4' })],
      resources: withExt,
      want: [50, 50],
    },
    {
      name: 'an extended resource the pod requests is scored',
      pod: podReqs({ cpu: '3000', memory: '5000', [EXT]: '2' }),
      nodes: [node('node1', { cpu: '6000', memory: '10000', [EXT]: '4' }), node('node2', { cpu: '6000', memory: '10000', [EXT]: '10' })],
      resources: withExt,
      want: [50, 60],
    },
    {
      name: 'a configured resource the node does not have is left out',
      pod: podReqs({ cpu: '3000', memory: '4000' }),
      nodes: [node('node1', { cpu: '6000', memory: '10000' }), node('node2', { cpu: '6000', memory: '10000', [EXT]: '4' })],
      resources: [
        { name: EXT, weight: 2 },
        { name: 'cpu', weight: 1 },
        { name: 'memory', weight: 1 },
      ],
      want: [55, 55],
    },
    {
      name: 'containers without cpu or memory requests count as the non-zero defaults',
      pod: makePod(),
      nodes: [node('node1', { cpu: '1', memory: `${400 * 1024 * 1024}` })],
      // cpu (1000-100)*100/1000 = 90, memory (400Mi-200Mi)*100/400Mi = 50
      want: [70],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(scores(c.resources ? strategy('LeastAllocated', c.resources) : undefined, c.pod, c.nodes, c.existing), c.want));

  it('scoring with no resources is an internal error', () => {
    const ni = makeNodeInfo(node('node1', { cpu: '4', memory: '10' }));
    const s = resourceAllocationScore(ni, [], [], false, () => 0);
    assert.equal(typeof s === 'number' ? undefined : s.code, Code.Error);
  });
});

describe('NodeResourcesFit Score with MostAllocated', () => {
  const cases: Array<{ name: string; pod: Pod; nodes: ReturnType<typeof makeNode>[]; existing?: Pod[]; resources?: Array<{ name: string; weight: number }>; want: number[] }> = [
    { name: 'empty nodes score zero for a pod without containers', pod: makePod({ containers: [] }), nodes: [node('node1', { cpu: '4000', memory: '10000' }), node('node2', { cpu: '4000', memory: '10000' })], want: [0, 0] },
    {
      name: 'the fuller node after placement scores higher',
      pod: podReqs({ cpu: '1000', memory: '2000' }, { cpu: '2000', memory: '3000' }),
      nodes: [node('node1', { cpu: '4000', memory: '10000' }), node('node2', { cpu: '6000', memory: '10000' })],
      // node1: cpu 75, memory 50 → 62; node2: cpu 50, memory 50 → 50
      want: [62, 50],
    },
    {
      name: 'scheduled pods with requests raise the score',
      pod: makePod({ containers: [] }),
      nodes: [node('node1', { cpu: '10000', memory: '20000' }), node('node2', { cpu: '10000', memory: '20000' })],
      existing: [onNode('node1', { cpu: '3000', memory: '0' }), onNode('node1', { cpu: '3000', memory: '0' }), onNode('node2', { cpu: '3000', memory: '0' }), onNode('node2', { cpu: '3000', memory: '5000' })],
      // node1: cpu 60, memory 0 → 30; node2: cpu 60, memory 25 → 42
      want: [30, 42],
    },
    {
      name: 'a resource requested beyond capacity counts as full',
      pod: podReqs({ cpu: '5000', memory: '9000' }),
      nodes: [node('node1', { cpu: '4000', memory: '10000' })],
      // cpu capped at 100, memory 90 → 95
      want: [95],
    },
    {
      name: 'weights favour the heavier resource',
      pod: podReqs({ cpu: '1000', memory: '2000' }, { cpu: '2000', memory: '3000' }),
      nodes: [node('node1', { cpu: '4000', memory: '10000' }), node('node2', { cpu: '6000', memory: '10000' })],
      resources: [
        { name: 'memory', weight: 2 },
        { name: 'cpu', weight: 1 },
      ],
      // node1: (75 + 50×2)/3 = 58; node2: (50 + 50×2)/3 = 50
      want: [58, 50],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(scores(strategy('MostAllocated', c.resources), c.pod, c.nodes, c.existing), c.want));
});

describe('NodeResourcesFit Score with RequestedToCapacityRatio', () => {
  const binPacking = [
    { utilization: 0, score: 0 },
    { utilization: 100, score: 10 },
  ];
  const spreading = [
    { utilization: 0, score: 10 },
    { utilization: 100, score: 0 },
  ];
  const cases: Array<{ name: string; shape: Array<{ utilization: number; score: number }>; pod: Pod; nodes: ReturnType<typeof makeNode>[]; existing?: Pod[]; resources?: Array<{ name: string; weight: number }>; want: number[] }> = [
    {
      name: 'a rising shape favours the fuller node',
      shape: binPacking,
      pod: podReqs({ cpu: '3000', memory: '5000' }),
      nodes: [node('node1', { cpu: '4000', memory: '10000' }), node('node2', { cpu: '6000', memory: '10000' })],
      // node1: cpu 75, memory 50 → round(62.5) = 63; node2: 50, 50 → 50
      want: [63, 50],
    },
    {
      name: 'a falling shape favours the emptier node',
      shape: spreading,
      pod: podReqs({ cpu: '3000', memory: '5000' }),
      nodes: [node('node1', { cpu: '4000', memory: '10000' }), node('node2', { cpu: '6000', memory: '10000' })],
      // node1: cpu 25, memory 50 → round(37.5) = 38; node2: 50
      want: [38, 50],
    },
    {
      name: 'resources scoring zero are left out of the mean',
      shape: binPacking,
      pod: podReqs({ cpu: '0', memory: '5000' }),
      nodes: [node('node1', { cpu: '4000', memory: '10000' })],
      want: [50],
    },
    {
      name: 'a request beyond capacity scores as full utilization',
      shape: spreading,
      pod: podReqs({ cpu: '5000', memory: '5000' }),
      nodes: [node('node1', { cpu: '4000', memory: '10000' })],
      // cpu → shape(100) = 0 (left out), memory 50
      want: [50],
    },
    {
      name: 'utilization between points is interpolated linearly',
      shape: [
        { utilization: 0, score: 0 },
        { utilization: 50, score: 10 },
        { utilization: 100, score: 0 },
      ],
      pod: podReqs({ cpu: '1000', memory: '7500' }),
      nodes: [node('node1', { cpu: '4000', memory: '10000' })],
      // cpu 25% → 50, memory 75% → 50
      want: [50],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(scores(strategy('RequestedToCapacityRatio', c.resources, c.shape), c.pod, c.nodes, c.existing), c.want));

  it('the shape function is flat outside its points and linear between them', () => {
    const f = brokenLinearFunction([
      { utilization: 10, score: 1 },
      { utilization: 90, score: 9 },
    ]);
    assert.deepEqual([0, 10, 50, 90, 100].map(f), [1, 1, 5, 9, 9]);
  });
});

describe('NodeResourcesFit args', () => {
  it('defaults to LeastAllocated over cpu and memory with weight 1', () => {
    assert.deepEqual(NodeResourcesFit.defaultArgs?.(), { scoringStrategy: { type: 'LeastAllocated', resources: [{ name: 'cpu', weight: 1 }, { name: 'memory', weight: 1 }] } });
  });

  const bad: Array<[string, Record<string, unknown>, string, string]> = [
    ['a negative resource weight is refused', strategy('LeastAllocated', [{ name: 'memory', weight: -1 }, { name: 'cpu', weight: 1 }]), 'scoringStrategy.resources[0].weight', 'Invalid value: -1: resource weight of memory not in valid range (0, 100]'],
    ['a resource weight above 100 is refused', strategy('LeastAllocated', [{ name: 'memory', weight: 1 }, { name: 'cpu', weight: 101 }]), 'scoringStrategy.resources[1].weight', 'Invalid value: 101: resource weight of cpu not in valid range (0, 100]'],
    ['an unknown strategy type is refused', strategy('Random'), 'scoringStrategy.type', 'Unsupported value: "Random": supported values: "LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"'],
    ['RequestedToCapacityRatio without shape points is refused', strategy('RequestedToCapacityRatio', undefined, []), 'scoringStrategy.shape', 'Required value: at least one point must be specified'],
    [
      'shape points out of utilization order are refused',
      strategy('RequestedToCapacityRatio', undefined, [{ utilization: 50, score: 1 }, { utilization: 10, score: 2 }]),
      'scoringStrategy.shape[1].utilization',
      'Invalid value: 10: utilization values must be sorted in increasing order',
    ],
    ['a shape score above 10 is refused', strategy('RequestedToCapacityRatio', undefined, [{ utilization: 10, score: 11 }]), 'scoringStrategy.shape[0].score', 'Invalid value: 11: not in valid range [0, 10]'],
    ['a utilization above 100 is refused', strategy('RequestedToCapacityRatio', undefined, [{ utilization: 101, score: 1 }]), 'scoringStrategy.shape[0].utilization', 'Invalid value: 101: not in valid range [0, 100]'],
    ['an ignored resource group with a slash is refused', { ignoredResourceGroups: ['example.com/aaa'] }, 'ignoredResourceGroups[0]', `Invalid value: "example.com/aaa": resource group name can't contain '/'`],
    ['an ignored resource that is not a qualified name is refused', { ignoredResources: ['-bad'] }, 'ignoredResources[0]', 'Invalid value: "-bad": name part must consist'],
    ['a resources list that is not a list is refused', { scoringStrategy: { type: 'LeastAllocated', resources: 'cpu' } }, 'scoringStrategy.resources', 'Invalid value: "cpu": must be a list'],
  ];
  for (const [name, args, field, message] of bad) {
    it(name, () => {
      assert.throws(
        () => NodeResourcesFit.create({ ...NodeResourcesFit.defaultArgs?.(), ...args }, undefined as never),
        (e: unknown) => e instanceof ConfigError && e.field === field && e.message.startsWith(`${field}: ${message}`),
      );
    });
  }

  it('a strategy without resources gets cpu and memory, and weight 0 becomes 1', () => {
    const p = newPlugin<FitPlugin>(NodeResourcesFit, strategy('MostAllocated', [{ name: 'cpu', weight: 0 }]));
    const infos = makeSnapshot([node('node1', { cpu: '4000', memory: '10000' })]);
    const state = newState();
    p.preScore(state, podReqs({ cpu: '3000', memory: '5000' }), infos);
    assert.equal(p.score(state, podReqs({ cpu: '3000', memory: '5000' }), infos[0]!), 75);
  });
});

describe('NodeResourcesFit events', () => {
  const p = newPlugin<FitPlugin>(NodeResourcesFit);
  const events = p.eventsToRegister();
  it('registers pod deletion and node add or allocatable change', () => {
    assert.deepEqual(
      events.map((e) => e.event),
      [
        { resource: 'Pod', actionType: ActionType.Delete },
        { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeAllocatable },
      ],
    );
  });
  const pod = podReqs({ cpu: '2', memory: '1Gi' });
  const podHint = events[0]!.hint!;
  const nodeHint = events[1]!.hint!;
  const cases: Array<[string, () => string, string]> = [
    ['deleting an unscheduled pod frees nothing', () => podHint(pod, makePod(), undefined), 'QueueSkip'],
    ['deleting a scheduled pod may free room', () => podHint(pod, makePod({ nodeName: 'n1' }), undefined), 'Queue'],
    ['deleting a nominated pod may free room', () => podHint(pod, makePod({ nominatedNodeName: 'n1' }), undefined), 'Queue'],
    ['a new node too small for the pod does not help', () => nodeHint(pod, undefined, node('n1', { cpu: '1', memory: '4Gi' })), 'QueueSkip'],
    ['a new node the pod fits helps', () => nodeHint(pod, undefined, node('n1', { cpu: '4', memory: '4Gi' })), 'Queue'],
    ['a node that grew cpu the pod asks for helps', () => nodeHint(pod, node('n1', { cpu: '2', memory: '4Gi' }), node('n1', { cpu: '4', memory: '4Gi' })), 'Queue'],
    ['a node update that grew nothing the pod asks for does not help', () => nodeHint(pod, node('n1', { cpu: '4', memory: '4Gi' }), node('n1', { cpu: '4', memory: '4Gi', [EXT]: '1' })), 'QueueSkip'],
  ];
  for (const [name, run, want] of cases) it(name, () => assert.equal(run(), want));
});
