import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Affinity, NodeSelectorRequirement, NodeSelectorTerm, PreferredSchedulingTerm } from 'kubernetes-types/core/v1.js';
import { NodeAffinity, REASON_CONFLICT, REASON_ENFORCED, REASON_POD } from '../../../../src/scheduler/plugins/nodeAffinity.js';
import { nodeSelectorTermsMatch } from '../../../../src/api/nodeSelector.js';
import {
  ActionType,
  Code,
  ConfigError,
  type EnqueueExtensions,
  type FilterPlugin,
  type NodeScore,
  type PreFilterPlugin,
  type PreScorePlugin,
  type ScorePlugin,
} from '../../../../src/scheduler/framework/types.js';
import { makeNode, makeNodeInfo, makePod, newPlugin, newState, statusOf } from './builders.js';

type Plugin = PreFilterPlugin & FilterPlugin & PreScorePlugin & ScorePlugin & EnqueueExtensions;

const expr = (key: string, operator: string, ...values: string[]): NodeSelectorRequirement => ({ key, operator, ...(values.length ? { values } : {}) });
const nameIn = (...values: string[]): NodeSelectorRequirement => ({ key: 'metadata.name', operator: 'In', values });
const required = (...terms: NodeSelectorTerm[]): Affinity => ({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } });
const preferred = (...terms: PreferredSchedulingTerm[]): Affinity => ({ nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: terms } });

describe('node selector term matching', () => {
  const node = makeNode({ name: 'node-1', labels: { foo: 'bar', 'kernel-version': '0206', 'mem-type': 'DDR3', GPU: 'NVIDIA-GRID-K1' } });
  const cases: Array<[string, NodeSelectorTerm[], boolean]> = [
    ['In matches a listed value', [{ matchExpressions: [expr('foo', 'In', 'bar', 'value2')] }], true],
    ['In does not match an unlisted value', [{ matchExpressions: [expr('foo', 'In', 'value1', 'value2')] }], false],
    ['NotIn matches an unlisted value', [{ matchExpressions: [expr('mem-type', 'NotIn', 'DDR', 'DDR2')] }], true],
    ['NotIn matches a missing label', [{ matchExpressions: [expr('absent', 'NotIn', 'x')] }], true],
    ['Exists matches a present label', [{ matchExpressions: [expr('GPU', 'Exists')] }], true],
    ['DoesNotExist fails on a present label', [{ matchExpressions: [expr('GPU', 'DoesNotExist')] }], false],
    ['Gt compares labels as integers', [{ matchExpressions: [expr('kernel-version', 'Gt', '0204')] }], true],
    ['Lt compares labels as integers', [{ matchExpressions: [expr('kernel-version', 'Lt', '0204')] }], false],
    ['Gt fails on a non-integer label', [{ matchExpressions: [expr('foo', 'Gt', '1')] }], false],
    ['Gt with a non-integer bound is invalid and matches nothing', [{ matchExpressions: [expr('kernel-version', 'Gt', 'abc')] }], false],
    ['requirements within a term are ANDed', [{ matchExpressions: [expr('GPU', 'Exists'), expr('GPU', 'NotIn', 'NVIDIA-GRID-K1')] }], false],
    ['terms are ORed', [{ matchExpressions: [expr('foo', 'In', 'nope')] }, { matchExpressions: [expr('foo', 'In', 'bar')] }], true],
    ['an empty term matches nothing', [{}], false],
    ['a term with empty lists matches nothing', [{ matchExpressions: [], matchFields: [] }], false],
    ['no terms match nothing', [], false],
    ['matchFields on metadata.name matches the node', [{ matchFields: [nameIn('node-1')] }], true],
    ['matchFields on metadata.name fails for another node', [{ matchFields: [nameIn('node-2')] }], false],
    ['matchFields NotIn excludes the node', [{ matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['node-1'] }] }], false],
    ['matchFields In with two values is invalid and matches nothing', [{ matchFields: [nameIn('node-1', 'node-2')] }], false],
    ['labels and fields in one term are ANDed', [{ matchExpressions: [expr('foo', 'In', 'bar')], matchFields: [nameIn('node-2')] }], false],
    ['an invalid label value makes the term match nothing', [{ matchExpressions: [expr('foo', 'NotIn', 'invalid value: ___@#$%^')] }], false],
    ['an unknown operator makes the term match nothing', [{ matchExpressions: [expr('foo', 'Equals', 'bar')] }], false],
  ];
  for (const [name, terms, want] of cases) it(name, () => assert.equal(nodeSelectorTermsMatch(terms, node), want));
});

describe('NodeAffinity Filter', () => {
  const UU = Code.UnschedulableAndUnresolvable;
  const OK = { code: 0, reasons: [] };
  const NO = { code: UU, reasons: [REASON_POD] };
  const cases: Array<[string, { nodeSelector?: Record<string, string>; affinity?: Affinity }, Record<string, string> | undefined, { code: number; reasons: string[] }]> = [
    ['a node missing the selected label does not match', { nodeSelector: { foo: 'bar' } }, undefined, NO],
    ['a node with the same labels matches', { nodeSelector: { foo: 'bar' } }, { foo: 'bar' }, OK],
    ['a node with more labels matches', { nodeSelector: { foo: 'bar' } }, { foo: 'bar', baz: 'blah' }, OK],
    ['a node with fewer labels does not match', { nodeSelector: { foo: 'bar', baz: 'blah' } }, { foo: 'bar' }, NO],
    ['a pod without affinity or selector matches any node', {}, { foo: 'bar' }, OK],
    ['an empty node affinity matches any node', { affinity: { nodeAffinity: {} } }, { foo: 'bar' }, OK],
    ['required In that matches the node passes', { affinity: required({ matchExpressions: [expr('foo', 'In', 'bar', 'value2')] }) }, { foo: 'bar' }, OK],
    ['required In that does not match fails', { affinity: required({ matchExpressions: [expr('foo', 'In', 'value1', 'value2')] }) }, { foo: 'bar' }, NO],
    ['an empty list of required terms matches no node', { affinity: required() }, { foo: 'bar' }, NO],
    ['a required term with no expressions matches no node', { affinity: required({ matchExpressions: [] }) }, { foo: 'bar' }, NO],
    ['selector and affinity must both match', { nodeSelector: { foo: 'bar' }, affinity: required({ matchExpressions: [expr('foo', 'Exists')] }) }, { foo: 'bar' }, OK],
    ['a selector mismatch fails even when affinity matches', { nodeSelector: { foo: 'baz' }, affinity: required({ matchExpressions: [expr('foo', 'Exists')] }) }, { foo: 'bar' }, NO],
    ['an invalid label value in a term fails quietly', { affinity: required({ matchExpressions: [expr('foo', 'NotIn', 'invalid value: ___@#$%^')] }) }, { foo: 'bar' }, NO],
    ['matchFields naming the node passes', { affinity: required({ matchFields: [nameIn('node-1')] }) }, undefined, OK],
    ['matchFields naming another node fails', { affinity: required({ matchFields: [nameIn('node-2')] }) }, undefined, NO],
  ];
  for (const [name, spec, labels, want] of cases) {
    it(name, () => {
      const p = newPlugin<Plugin>(NodeAffinity);
      const pod = makePod(spec);
      const state = newState();
      const pre = p.preFilter(state, pod, []);
      if (pre.status?.code === Code.Skip) assert.deepEqual(want, OK);
      assert.deepEqual(statusOf(p.filter(state, pod, makeNodeInfo(makeNode({ name: 'node-1', ...(labels ? { labels } : {}) })))), want);
    });
  }

  it('added affinity the node does not match rejects it with the enforced reason', () => {
    const p = newPlugin<Plugin>(NodeAffinity, { addedAffinity: required({ matchExpressions: [expr('zone', 'In', 'foo')] }).nodeAffinity! });
    const pod = makePod();
    assert.deepEqual(statusOf(p.filter(newState(), pod, makeNodeInfo(makeNode({ labels: { zone: 'bar' } })))), { code: UU, reasons: [REASON_ENFORCED] });
    assert.deepEqual(statusOf(p.filter(newState(), pod, makeNodeInfo(makeNode({ labels: { zone: 'foo' } })))), OK);
  });

  it('added affinity is checked before the pod’s own', () => {
    const p = newPlugin<Plugin>(NodeAffinity, { addedAffinity: required({ matchExpressions: [expr('zone', 'In', 'foo')] }).nodeAffinity! });
    assert.deepEqual(statusOf(p.filter(newState(), makePod({ nodeSelector: { x: 'y' } }), makeNodeInfo(makeNode()))), { code: UU, reasons: [REASON_ENFORCED] });
  });
});

describe('NodeAffinity PreFilter', () => {
  const p = newPlugin<Plugin>(NodeAffinity);
  const cases: Array<[string, { nodeSelector?: Record<string, string>; affinity?: Affinity }, { nodeNames?: string[]; code?: number; reasons?: string[] }]> = [
    ['a pod without selector or required affinity is skipped', {}, { code: Code.Skip, reasons: [] }],
    ['a pod with only a node selector is filtered over all nodes', { nodeSelector: { a: 'b' } }, {}],
    ['a term naming a node narrows to it', { affinity: required({ matchFields: [nameIn('node-1')] }) }, { nodeNames: ['node-1'] }],
    ['names of several terms are united', { affinity: required({ matchFields: [nameIn('node-1')] }, { matchFields: [nameIn('node-2')] }) }, { nodeNames: ['node-1', 'node-2'] }],
    ['names within a term are intersected', { affinity: required({ matchFields: [nameIn('node-1', 'node-2'), nameIn('node-2', 'node-3')] }) }, { nodeNames: ['node-2'] }],
    ['a term without names lets all nodes through', { affinity: required({ matchFields: [nameIn('node-1')] }, { matchExpressions: [expr('a', 'Exists')] }) }, {}],
    ['terms whose names cannot all hold conflict', { affinity: required({ matchFields: [nameIn('node-1'), nameIn('node-2')] }) }, { code: Code.UnschedulableAndUnresolvable, reasons: [REASON_CONFLICT] }],
  ];
  for (const [name, spec, want] of cases) {
    it(name, () => {
      const got = p.preFilter(newState(), makePod(spec), []);
      if (want.code !== undefined) assert.deepEqual(statusOf(got.status), { code: want.code, reasons: want.reasons });
      else assert.equal(got.status, undefined);
      assert.deepEqual(got.result?.nodeNames ? [...got.result.nodeNames].sort() : undefined, want.nodeNames);
    });
  }
});

describe('NodeAffinity Score', () => {
  const term = (weight: number, ...exprs: NodeSelectorRequirement[]): PreferredSchedulingTerm => ({ weight, preference: { matchExpressions: exprs } });
  const labels: Array<Record<string, string>> = [{ foo: 'bar' }, { key: 'value' }, { az: 'az1' }, { foo: 'bar', key: 'value', az: 'az1' }];
  const run = (affinity: Affinity | undefined, args?: Record<string, unknown>) => {
    const p = newPlugin<Plugin>(NodeAffinity, args);
    const pod = makePod(affinity ? { affinity } : {});
    const infos = labels.map((l, i) => makeNodeInfo(makeNode({ name: `m${i}`, labels: l })));
    const state = newState();
    const pre = p.preScore(state, pod, infos);
    if (pre?.code === Code.Skip) return 'skip';
    const scores: NodeScore[] = infos.map((ni) => ({ name: ni.name, score: p.score(state, pod, ni) as number }));
    p.normalizeScore!(state, pod, scores);
    return scores.map((s) => s.score);
  };
  it('a pod without preferred terms skips scoring', () => assert.equal(run(undefined), 'skip'));
  it('only the node matching the single preferred term scores', () => assert.deepEqual(run(preferred(term(2, expr('foo', 'In', 'bar')))), [100, 0, 0, 100]));
  it('weights of matching terms add up and normalize to the best node', () => {
    // m0: 2, m1: 4, m2: 0, m3: 2 + 4 + 5 = 11
    assert.deepEqual(run(preferred(term(2, expr('foo', 'In', 'bar')), term(4, expr('key', 'In', 'value')), term(5, expr('foo', 'In', 'bar'), expr('key', 'In', 'value'), expr('az', 'In', 'az1')))), [18, 36, 0, 100]);
  });
  it('terms with weight 0 or no requirements count for nothing', () => assert.deepEqual(run(preferred(term(0, expr('foo', 'In', 'bar')), { weight: 5, preference: {} })), [0, 0, 0, 0]));
  it('added preferred terms score even for pods without their own', () => {
    assert.deepEqual(run(undefined, { addedAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [term(5, expr('az', 'In', 'az1'))] } }), [0, 0, 100, 100]);
  });
  it('added and pod preferred terms add up', () => {
    assert.deepEqual(run(preferred(term(3, expr('foo', 'In', 'bar'))), { addedAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [term(1, expr('key', 'In', 'value'))] } }), [75, 25, 0, 100]);
  });
  it('an invalid preferred term is an internal error', () => {
    const p = newPlugin<Plugin>(NodeAffinity);
    assert.equal(p.preScore(newState(), makePod({ affinity: preferred(term(1, expr('foo', 'Bogus', 'x'))) }), [])?.code, Code.Error);
  });
});

describe('NodeAffinity args and events', () => {
  it('an added selector with an unsupported operator is refused with its field path', () => {
    assert.throws(
      () => NodeAffinity.create({ addedAffinity: required({ matchExpressions: [expr('foo', 'Bogus', 'x')] }).nodeAffinity! }, undefined as never),
      (e: unknown) => e instanceof ConfigError && e.field === 'addedAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator',
    );
  });
  it('an added preferred term with a bad matchFields value count is refused', () => {
    assert.throws(
      () => NodeAffinity.create({ addedAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, preference: { matchFields: [nameIn('a', 'b')] } }] } }, undefined as never),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.field === 'addedAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].matchFields[0].values' &&
        e.message.endsWith('must have one element'),
    );
  });
  it('a Gt requirement needs exactly one integer', () => {
    assert.throws(
      () => NodeAffinity.create({ addedAffinity: required({ matchExpressions: [expr('foo', 'Gt', '1', '2')] }).nodeAffinity! }, undefined as never),
      (e: unknown) => e instanceof ConfigError && e.message.includes("for 'Gt', 'Lt' operators, exactly one value is required"),
    );
  });

  const p = newPlugin<Plugin>(NodeAffinity);
  const [e] = p.eventsToRegister();
  const pod = makePod({ nodeSelector: { foo: 'bar' } });
  it('registers node add and label change', () => assert.deepEqual(e!.event, { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel }));
  const cases: Array<[string, unknown, unknown, string]> = [
    ['a new matching node helps', undefined, makeNode({ labels: { foo: 'bar' } }), 'Queue'],
    ['a new node that does not match does not', undefined, makeNode(), 'QueueSkip'],
    ['a node that gained the label helps', makeNode(), makeNode({ labels: { foo: 'bar' } }), 'Queue'],
    ['a node that already matched does not', makeNode({ labels: { foo: 'bar' } }), makeNode({ labels: { foo: 'bar', x: 'y' } }), 'QueueSkip'],
  ];
  for (const [name, oldObj, newObj, want] of cases) it(name, () => assert.equal(e!.hint!(pod, oldObj, newObj), want));
});
