import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { NodeResourcesBalancedAllocation, balancedResourceScorer } from '../../../../src/scheduler/plugins/nodeResourcesBalancedAllocation.js';
import { ConfigError, type PreScorePlugin, type ScorePlugin } from '../../../../src/scheduler/framework/types.js';
import { makeNode, makePod, makeSnapshot, newPlugin, newState, type ResourceList } from './builders.js';

type Plugin = PreScorePlugin & ScorePlugin;

const node = (name: string, allocatable: ResourceList) => makeNode({ name, allocatable });
const podReqs = (...containers: ResourceList[]) => makePod({ containers: containers.map((requests) => ({ requests })) });
const onNode = (nodeName: string, requests?: ResourceList) => makePod({ nodeName, containers: requests ? [{ requests }] : [] });

function scores(pod: Pod, nodes: ReturnType<typeof makeNode>[], existing: Pod[] = [], args?: Record<string, unknown>): number[] {
  const byNode: Record<string, Pod[]> = {};
  for (const e of existing) (byNode[e.spec!.nodeName!] ??= []).push(e);
  const infos = makeSnapshot(nodes, byNode);
  const p = newPlugin<Plugin>(NodeResourcesBalancedAllocation, args);
  const state = newState();
  p.preScore(state, pod, infos);
  return infos.map((ni) => p.score(state, pod, ni) as number);
}

describe('NodeResourcesBalancedAllocation Score', () => {
  const cases: Array<{ name: string; pod: Pod; nodes: ReturnType<typeof makeNode>[]; existing?: Pod[]; args?: Record<string, unknown>; want: number[] }> = [
    { name: 'nothing requested anywhere is perfectly balanced', pod: makePod({ containers: [] }), nodes: [node('n1', { cpu: '4000', memory: '10000' }), node('n2', { cpu: '4000', memory: '10000' })], want: [100, 100] },
    {
      name: 'differently sized nodes score by how evenly the pod fills them',
      pod: podReqs({ cpu: '1000', memory: '2000' }, { cpu: '2000', memory: '3000' }),
      nodes: [node('n1', { cpu: '4000', memory: '10000' }), node('n2', { cpu: '6000', memory: '10000' })],
      // n1: |0.75 − 0.5| / 2 = 0.125 → 87; n2: 0.5 and 0.5 → 100
      want: [87, 100],
    },
    {
      name: 'scheduled pods count with their real requests',
      pod: makePod({ containers: [] }),
      nodes: [node('n1', { cpu: '10000', memory: '20000' }), node('n2', { cpu: '10000', memory: '20000' })],
      existing: [onNode('n1', { cpu: '3000', memory: '0' }), onNode('n1', { cpu: '3000', memory: '0' }), onNode('n2', { cpu: '3000', memory: '0' }), onNode('n2', { cpu: '3000', memory: '5000' })],
      // n1: 0.6 and 0 → 70; n2: 0.6 and 0.25 → 82
      want: [70, 82],
    },
    {
      name: 'containers without requests count as nothing, not as the non-zero defaults',
      pod: makePod(),
      nodes: [node('n1', { cpu: '1', memory: '1Gi' })],
      existing: [onNode('n1', { cpu: '500m', memory: '512Mi' })],
      want: [100],
    },
    {
      name: 'a fraction above 1 counts as 1',
      pod: podReqs({ cpu: '6000', memory: '0' }),
      nodes: [node('n1', { cpu: '4000', memory: '10000' })],
      want: [50],
    },
    {
      name: 'three resources use the population standard deviation',
      pod: podReqs({ cpu: '2000', memory: '5000', 'example.com/gpu': '1' }),
      nodes: [node('n1', { cpu: '4000', memory: '10000', 'example.com/gpu': '4' })],
      args: { resources: [{ name: 'cpu', weight: 1 }, { name: 'memory', weight: 1 }, { name: 'example.com/gpu', weight: 1 }] },
      // fractions 0.5, 0.5, 0.25: mean 0.4167, std 0.1179 → 88
      want: [88],
    },
    {
      name: 'an extended resource the pod does not request is left out',
      pod: podReqs({ cpu: '2000', memory: '5000' }),
      nodes: [node('n1', { cpu: '4000', memory: '10000', 'example.com/gpu': '4' })],
      args: { resources: [{ name: 'cpu', weight: 1 }, { name: 'memory', weight: 1 }, { name: 'example.com/gpu', weight: 1 }] },
      want: [100],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(scores(c.pod, c.nodes, c.existing, c.args), c.want));

  it('one resource alone is always balanced', () => assert.equal(balancedResourceScorer([3], [4]), 100));
});

describe('NodeResourcesBalancedAllocation args', () => {
  it('defaults to cpu and memory', () => assert.deepEqual(NodeResourcesBalancedAllocation.defaultArgs?.(), { resources: [{ name: 'cpu', weight: 1 }, { name: 'memory', weight: 1 }] }));
  const bad: Array<[string, unknown, string, string]> = [
    ['a weight other than 1 is refused', [{ name: 'cpu', weight: 2 }], 'resources[0].weight', 'resources[0].weight: Invalid value: 2: must be 1'],
    ['a duplicate resource is refused', [{ name: 'cpu', weight: 1 }, { name: 'cpu', weight: 1 }], 'resources[1].name', 'resources[1].name: Duplicate value: "cpu"'],
  ];
  for (const [name, resources, field, message] of bad) {
    it(name, () => assert.throws(() => NodeResourcesBalancedAllocation.create({ resources }, undefined as never), (e: unknown) => e instanceof ConfigError && e.field === field && e.message === message));
  }
  it('weight 0 defaults to 1', () => assert.doesNotThrow(() => NodeResourcesBalancedAllocation.create({ resources: [{ name: 'cpu', weight: 0 }] }, undefined as never)));
});
