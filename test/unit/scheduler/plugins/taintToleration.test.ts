import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Taint, Toleration } from 'kubernetes-types/core/v1.js';
import { TaintToleration, tolerationsTolerateTaint, untoleratedTaintReason } from '../../../../src/scheduler/plugins/taintToleration.js';
import { ActionType, Code, type EnqueueExtensions, type FilterPlugin, type NodeScore, type PreScorePlugin, type ScorePlugin } from '../../../../src/scheduler/framework/types.js';
import { makeNode, makeNodeInfo, makePod, newPlugin, newState, statusOf } from './builders.js';

type Plugin = FilterPlugin & PreScorePlugin & ScorePlugin & EnqueueExtensions;

const taint = (key: string, value: string | undefined, effect: string): Taint => ({ key, ...(value !== undefined ? { value } : {}), effect });
const tol = (key: string, operator: string, value: string | undefined, effect?: string): Toleration => ({
  key,
  operator,
  ...(value !== undefined ? { value } : {}),
  ...(effect ? { effect } : {}),
});
const podWithTolerations = (...tolerations: Toleration[]) => makePod({ tolerations });
const nodeWithTaints = (name: string, ...taints: Taint[]) => makeNode({ name, taints });

describe('tolerationsTolerateTaint', () => {
  const t = taint('foo', 'bar', 'NoSchedule');
  const cases: Array<[string, Toleration[], Taint, boolean]> = [
    ['no tolerations tolerate nothing', [], t, false],
    ['Equal with the same key, value and effect tolerates', [tol('foo', 'Equal', 'bar', 'NoSchedule')], t, true],
    ['an empty operator means Equal', [{ key: 'foo', value: 'bar' }], t, true],
    ['Equal with another value does not tolerate', [tol('foo', 'Equal', 'baz', 'NoSchedule')], t, false],
    ['Exists ignores the value', [tol('foo', 'Exists', undefined, 'NoSchedule')], t, true],
    ['an empty effect matches every effect', [tol('foo', 'Exists', undefined)], taint('foo', 'bar', 'NoExecute'), true],
    ['another effect does not match', [tol('foo', 'Equal', 'bar', 'PreferNoSchedule')], t, false],
    ['an empty key with Exists tolerates every taint', [{ operator: 'Exists' }], taint('anything', 'at-all', 'NoExecute'), true],
    ['an empty key with Exists and an effect tolerates only that effect', [{ operator: 'Exists', effect: 'NoSchedule' }], taint('anything', undefined, 'NoExecute'), false],
    ['a taint without value matches Equal with an empty value', [tol('foo', 'Equal', '')], taint('foo', undefined, 'NoSchedule'), true],
    ['an unknown operator tolerates nothing', [tol('foo', 'Bogus', 'bar')], t, false],
    ['one matching toleration among several is enough', [tol('x', 'Exists', undefined), tol('foo', 'Exists', undefined)], t, true],
  ];
  for (const [name, tolerations, tnt, want] of cases) it(name, () => assert.equal(tolerationsTolerateTaint(tolerations, tnt), want));
});

describe('TaintToleration Filter', () => {
  const UU = Code.UnschedulableAndUnresolvable;
  const cases: Array<[string, Toleration[], Taint[], { code: number; reasons: string[] }]> = [
    ['a pod without tolerations cannot land on a node with a NoSchedule taint', [], [taint('dedicated', 'user1', 'NoSchedule')], { code: UU, reasons: ['node(s) had untolerated taint {dedicated: user1}'] }],
    ['a pod tolerating the dedicated taint lands there', [tol('dedicated', 'Equal', 'user1', 'NoSchedule')], [taint('dedicated', 'user1', 'NoSchedule')], { code: 0, reasons: [] }],
    ['a pod tolerating another value does not', [tol('dedicated', 'Equal', 'user2', 'NoSchedule')], [taint('dedicated', 'user1', 'NoSchedule')], { code: UU, reasons: ['node(s) had untolerated taint {dedicated: user1}'] }],
    ['an Exists toleration tolerates any value', [tol('foo', 'Exists', undefined, 'NoSchedule')], [taint('foo', 'bar', 'NoSchedule')], { code: 0, reasons: [] }],
    [
      'a pod tolerating every taint of the node lands there',
      [tol('dedicated', 'Equal', 'user2', 'NoSchedule'), tol('foo', 'Exists', undefined, 'NoSchedule')],
      [taint('dedicated', 'user2', 'NoSchedule'), taint('foo', 'bar', 'NoSchedule')],
      { code: 0, reasons: [] },
    ],
    ['a toleration for another effect does not help', [tol('foo', 'Equal', 'bar', 'PreferNoSchedule')], [taint('foo', 'bar', 'NoSchedule')], { code: UU, reasons: ['node(s) had untolerated taint {foo: bar}'] }],
    ['a toleration without effect tolerates NoSchedule', [tol('foo', 'Equal', 'bar')], [taint('foo', 'bar', 'NoSchedule')], { code: 0, reasons: [] }],
    ['a PreferNoSchedule taint never filters', [tol('dedicated', 'Equal', 'user2', 'NoSchedule')], [taint('dedicated', 'user1', 'PreferNoSchedule')], { code: 0, reasons: [] }],
    ['a pod without tolerations lands on a node with only PreferNoSchedule taints', [], [taint('dedicated', 'user1', 'PreferNoSchedule')], { code: 0, reasons: [] }],
    ['a NoExecute taint filters too', [], [taint('node.kubernetes.io/not-ready', undefined, 'NoExecute')], { code: UU, reasons: ['node(s) had untolerated taint {node.kubernetes.io/not-ready: }'] }],
    [
      'a taint without value prints an empty value',
      [],
      [taint('node-role.kubernetes.io/control-plane', undefined, 'NoSchedule')],
      { code: UU, reasons: ['node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }'] },
    ],
    [
      'only the first untolerated taint is reported',
      [tol('a', 'Exists', undefined)],
      [taint('a', '1', 'NoSchedule'), taint('b', '2', 'NoSchedule'), taint('c', '3', 'NoExecute')],
      { code: UU, reasons: ['node(s) had untolerated taint {b: 2}'] },
    ],
  ];
  for (const [name, tolerations, taints, want] of cases) {
    it(name, () => {
      const p = newPlugin<Plugin>(TaintToleration);
      assert.deepEqual(statusOf(p.filter(newState(), podWithTolerations(...tolerations), makeNodeInfo(nodeWithTaints('n', ...taints)))), want);
    });
  }

  it('the reason helper formats like upstream', () => assert.equal(untoleratedTaintReason({ key: 'k', value: 'v', effect: 'NoSchedule' }), 'node(s) had untolerated taint {k: v}'));
});

describe('TaintToleration Score', () => {
  const pns = (key: string, value: string) => taint(key, value, 'PreferNoSchedule');
  const cases: Array<[string, Toleration[], Taint[][], number[]]> = [
    ['a node whose taints the pod tolerates scores above one whose it does not', [tol('foo', 'Equal', 'bar', 'PreferNoSchedule')], [[pns('foo', 'bar')], [pns('foo', 'blah')]], [100, 0]],
    [
      'nodes whose taints are all tolerated score the same however many they have',
      [tol('cpu-type', 'Equal', 'arm64', 'PreferNoSchedule'), tol('disk-type', 'Equal', 'ssd', 'PreferNoSchedule')],
      [[], [pns('cpu-type', 'arm64')], [pns('cpu-type', 'arm64'), pns('disk-type', 'ssd')]],
      [100, 100, 100],
    ],
    ['the more intolerable taints a node has, the lower it scores', [tol('foo', 'Equal', 'bar', 'PreferNoSchedule')], [[], [pns('cpu-type', 'arm64')], [pns('cpu-type', 'arm64'), pns('disk-type', 'ssd')]], [100, 50, 0]],
    [
      'only PreferNoSchedule taints and tolerations count',
      [tol('cpu-type', 'Equal', 'arm64', 'NoSchedule'), tol('disk-type', 'Equal', 'ssd', 'NoSchedule')],
      [[], [taint('cpu-type', 'arm64', 'NoSchedule')], [pns('cpu-type', 'arm64'), pns('disk-type', 'ssd')]],
      [100, 100, 0],
    ],
    ['without tolerations the untainted node wins', [], [[], [pns('cpu-type', 'arm64')]], [100, 0]],
  ];
  for (const [name, tolerations, nodesTaints, want] of cases) {
    it(name, () => {
      const p = newPlugin<Plugin>(TaintToleration);
      const pod = podWithTolerations(...tolerations);
      const infos = nodesTaints.map((taints, i) => makeNodeInfo(nodeWithTaints(`n${i}`, ...taints)));
      const state = newState();
      assert.equal(p.preScore(state, pod, infos), undefined);
      const scores: NodeScore[] = infos.map((ni) => ({ name: ni.name, score: p.score(state, pod, ni) as number }));
      p.normalizeScore!(state, pod, scores);
      assert.deepEqual(
        scores.map((s) => s.score),
        want,
      );
    });
  }
});

describe('TaintToleration events', () => {
  const p = newPlugin<Plugin>(TaintToleration);
  const [nodeEvent, podEvent] = p.eventsToRegister();
  it('registers node add or taint change and the pod’s toleration updates', () => {
    assert.deepEqual(nodeEvent!.event, { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeTaint });
    assert.deepEqual(podEvent!.event, { resource: 'UnscheduledPod', actionType: ActionType.UpdatePodTolerations });
  });
  const pod = makePod({ name: 'p' });
  const tainted = nodeWithTaints('n', taint('a', 'b', 'NoSchedule'));
  const clean = nodeWithTaints('n');
  const cases: Array<[string, string, unknown, unknown]> = [
    ['a new node without blocking taints helps', 'Queue', undefined, clean],
    ['a new node with a blocking taint does not', 'QueueSkip', undefined, tainted],
    ['removing the blocking taint helps', 'Queue', tainted, clean],
    ['an update that keeps a node clean does not', 'QueueSkip', clean, clean],
  ];
  for (const [name, want, oldObj, newObj] of cases) it(name, () => assert.equal(nodeEvent!.hint!(pod, oldObj, newObj), want));
  it('the pod’s own toleration update helps, another pod’s does not', () => {
    assert.equal(podEvent!.hint!(pod, pod, pod), 'Queue');
    assert.equal(podEvent!.hint!(pod, makePod({ name: 'other' }), makePod({ name: 'other' })), 'QueueSkip');
  });
});
