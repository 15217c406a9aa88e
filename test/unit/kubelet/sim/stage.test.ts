import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  evaluatePath,
  matchingStages,
  parseGoDuration,
  pickStage,
  planStageActions,
  requirementMatches,
  selectorMatches,
  stageDelayMs,
  StageError,
  type Stage,
  type StageRequirement,
} from '../../../../src/kubelet/sim/stage.js';
import { parseStages } from '../../../../src/kubelet/sim/podStages.js';

const pod = {
  metadata: {
    name: 'p',
    labels: { app: 'web' },
    annotations: { 'simulated.k8ts.io/complete-after': '2s', 'a.b/c': 'x' },
    ownerReferences: [{ kind: 'ReplicaSet', name: 'rs' }, { kind: 'Job', name: 'j' }],
  },
  spec: { containers: [{ name: 'a' }, { name: 'b' }] },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
};

test('evaluatePath walks maps, flattens arrays, reads quoted keys and indexes', () => {
  const cases: Array<[string, unknown[]]> = [
    ['.status.phase', ['Running']],
    ['.metadata.deletionTimestamp', []],
    ['.metadata.ownerReferences.[].kind', ['ReplicaSet', 'Job']],
    ['.metadata.ownerReferences[].kind', ['ReplicaSet', 'Job']],
    ['.spec.containers[1].name', ['b']],
    ['.metadata.annotations["a.b/c"]', ['x']],
    ['.metadata.annotations.["simulated.k8ts.io/complete-after"]', ['2s']],
    ['.status.conditions[].missing', []],
    ['.', [pod]],
  ];
  for (const [path, want] of cases) assert.deepEqual(evaluatePath(pod, path), want, path);
});

test('a malformed path is a StageError with code InvalidPath', () => {
  assert.throws(() => evaluatePath(pod, '.metadata.annotations[a]'), (e: unknown) => e instanceof StageError && e.code === 'InvalidPath');
});

test('requirements: In matches any value, NotIn none, Exists and DoesNotExist on presence', () => {
  const cases: Array<[StageRequirement, boolean]> = [
    [{ key: '.status.phase', operator: 'In', values: ['Pending', 'Running'] }, true],
    [{ key: '.status.phase', operator: 'NotIn', values: ['Running'] }, false],
    [{ key: '.metadata.ownerReferences[].kind', operator: 'In', values: ['Job'] }, true],
    [{ key: '.metadata.ownerReferences[].kind', operator: 'NotIn', values: ['DaemonSet'] }, true],
    [{ key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' }, true],
    [{ key: '.metadata.deletionTimestamp', operator: 'Exists' }, false],
    [{ key: '.status.podIP', operator: 'NotIn', values: ['1.2.3.4'] }, true],
  ];
  for (const [r, want] of cases) assert.equal(requirementMatches(pod, r), want, JSON.stringify(r));
});

test('selectors AND labels, annotations and expressions; no selector matches all', () => {
  assert.equal(selectorMatches(pod, undefined), true);
  assert.equal(selectorMatches(pod, { matchLabels: { app: 'web' }, matchAnnotations: { 'a.b/c': 'x' } }), true);
  assert.equal(selectorMatches(pod, { matchLabels: { app: 'db' } }), false);
  assert.equal(selectorMatches(pod, { matchLabels: { app: 'web' }, matchExpressions: [{ key: '.status.phase', operator: 'In', values: ['Pending'] }] }), false);
});

const stage = (name: string, weight?: number, extra: Partial<Stage> = {}): Stage => ({ name, resourceRef: { kind: 'Pod' }, next: {}, ...(weight !== undefined ? { weight } : {}), ...extra });

test('matchingStages keeps declaration order and the kind', () => {
  const stages = [stage('a'), { ...stage('node'), resourceRef: { kind: 'Node' } }, stage('b', 0, { selector: { matchLabels: { app: 'db' } } }), stage('c')];
  assert.deepEqual(matchingStages(stages, 'Pod', pod).map((s) => s.name), ['a', 'c']);
});

test('pickStage draws by weight; all-zero weights pick the first', () => {
  const a = stage('a', 1);
  const b = stage('b', 3);
  assert.equal(pickStage([a, b], 0.0)?.name, 'a');
  assert.equal(pickStage([a, b], 0.24)?.name, 'a');
  assert.equal(pickStage([a, b], 0.26)?.name, 'b');
  assert.equal(pickStage([a, b], 0.99)?.name, 'b');
  assert.equal(pickStage([stage('x'), stage('y')], 0.9)?.name, 'x');
  assert.equal(pickStage([], 0.5), undefined);
});

test('parseGoDuration reads Go durations', () => {
  const cases: Array<[string, number]> = [['0', 0], ['250ms', 250], ['2s', 2000], ['1m30s', 90_000], ['1h', 3_600_000], ['1.5s', 1500], ['-1s', -1000], ['500us', 0.5]];
  for (const [s, ms] of cases) assert.equal(parseGoDuration(s), ms, s);
  for (const bad of ['', '5', 's', '1x', '1s2']) assert.throws(() => parseGoDuration(bad), (e: unknown) => e instanceof StageError && e.code === 'InvalidDuration', bad);
});

test('stageDelayMs: fixed, jittered, from the object, from a time, never negative', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const cases: Array<[string, Stage['delay'], number, number]> = [
    ['no delay', undefined, 0.5, 0],
    ['fixed', { durationMilliseconds: 1000 }, 0.9, 1000],
    ['jitter draws between duration and jitter', { durationMilliseconds: 1000, jitterDurationMilliseconds: 3000 }, 0.5, 2000],
    ['a jitter below the duration replaces it', { durationMilliseconds: 1000, jitterDurationMilliseconds: 400 }, 0.5, 400],
    ['from an annotation (Go duration)', { durationFrom: '.metadata.annotations["simulated.k8ts.io/complete-after"]' }, 0, 2000],
    ['a missing path falls back to the fixed value', { durationMilliseconds: 7, durationFrom: '.metadata.annotations["nope"]' }, 0, 7],
    ['from a time: until then', { durationFrom: '.metadata.annotations["at"]' }, 0, 5000],
    ['a time in the past: now', { durationFrom: '.metadata.annotations["past"]' }, 0, 0],
  ];
  const obj = { ...pod, metadata: { ...pod.metadata, annotations: { ...pod.metadata.annotations, at: '2026-01-01T00:00:05Z', past: '2025-01-01T00:00:00Z' } } };
  for (const [name, delay, r, want] of cases) assert.equal(stageDelayMs(stage('s', 0, delay ? { delay } : {}), obj, now, r), want, name);
});

test('planStageActions orders finalizers, status, delete and skips finalizer no-ops', () => {
  const obj = { metadata: { finalizers: ['a', 'b'] }, status: {} };
  const s = stage('s', 0, { next: { finalizers: { remove: ['a'], add: ['c'] }, statusTemplate: { phase: 'Running' }, delete: true } });
  assert.deepEqual(planStageActions(s, obj, { vars: {} }), [
    { kind: 'finalizers', finalizers: ['b', 'c'] },
    { kind: 'patchStatus', status: { phase: 'Running' } },
    { kind: 'delete' },
  ]);
  assert.deepEqual(planStageActions(stage('n', 0, { next: { finalizers: { remove: ['zzz'] } } }), obj, { vars: {} }), []);
  assert.deepEqual(planStageActions(stage('e', 0, { next: { finalizers: { empty: true } } }), obj, { vars: {} }), [{ kind: 'finalizers', finalizers: [] }]);
});

test('an event comes first, its message rendered from the object', () => {
  const s = stage('ev', 0, { next: { event: { type: 'Normal', reason: 'Started', message: 'Started container {{ .spec.containers[0].name }}' }, delete: true } });
  assert.deepEqual(planStageActions(s, pod, { vars: {} }), [{ kind: 'event', type: 'Normal', reason: 'Started', message: 'Started container a' }, { kind: 'delete' }]);
});

test('parseStages reads kwok-shaped and flat YAML documents and refuses bad ones', () => {
  const stages = parseStages(`
kind: Stage
metadata: {name: pod-slow-ready}
spec:
  resourceRef: {kind: Pod}
  selector:
    matchExpressions:
    - {key: .status.phase, operator: In, values: [Pending]}
  delay: {durationMilliseconds: 1000, jitterDurationMilliseconds: 5000}
  next:
    statusTemplate: {phase: Running}
---
name: pod-gone
resourceRef: {kind: Pod}
next: {delete: true}
`);
  assert.deepEqual(stages.map((s) => s.name), ['pod-slow-ready', 'pod-gone']);
  assert.equal(stages[0]!.delay?.jitterDurationMilliseconds, 5000);
  const bad: Array<[string, string]> = [
    ['no name', 'resourceRef: {kind: Pod}\nnext: {}'],
    ['bad operator', 'name: x\nresourceRef: {kind: Pod}\nnext: {}\nselector: {matchExpressions: [{key: .a, operator: Equals}]}'],
    ['In without values', 'name: x\nresourceRef: {kind: Pod}\nnext: {}\nselector: {matchExpressions: [{key: .a, operator: In}]}'],
    ['bad path', 'name: x\nresourceRef: {kind: Pod}\nnext: {}\nselector: {matchExpressions: [{key: ".a[b]", operator: Exists}]}'],
    ['bad YAML', 'name: [x'],
    ['bad event type', 'name: x\nresourceRef: {kind: Pod}\nnext: {event: {type: Info, reason: R, message: m}}'],
  ];
  for (const [name, text] of bad) assert.throws(() => parseStages(text), (e: unknown) => e instanceof StageError, name);
});
