import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { SchedulerCache } from '../../../src/scheduler/cache.js';
import { fitErrorMessage } from '../../../src/scheduler/fitError.js';
import { Framework } from '../../../src/scheduler/framework/runtime.js';
import { Code, unresolvable, unschedulable, type PluginFactory, type Status } from '../../../src/scheduler/framework/types.js';
import { Nominator } from '../../../src/scheduler/nominator.js';
import { numFeasibleNodesToFind, PodScheduler } from '../../../src/scheduler/schedulePod.js';
import { Scheduler } from '../../../src/scheduler/scheduler.js';
import { defaultPreemption, pickOneNodeForPreemption, splitByPDBViolation } from '../../../src/scheduler/plugins/defaultPreemption.js';
import { PodInfo } from '../../../src/scheduler/framework/nodeInfo.js';
import { logger } from '../../../src/util/log.js';
import { arrayLister, binderFor, Blocked, handleFor, node, pod, profile, RecordingAPI, Slots, Sort } from './fakes.js';

describe('FailedScheduling message', () => {
  const m = (reasons: string[][]) => new Map(reasons.map((r, i) => [`n${i}`, { code: Code.Unschedulable, reasons: r } as Status]));
  const cases: Array<[string, Parameters<typeof fitErrorMessage>, string]> = [
    ['reasons are counted over nodes and sorted as text', [5, { nodeToStatus: m([['Insufficient memory'], ['Insufficient memory'], ["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"], ["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"], ["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"]]) }], '0/5 nodes are available: 2 Insufficient memory, 3 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }.'],
    ['a preemption message follows with its own period, doubling it as upstream does', [1, { nodeToStatus: m([['Insufficient cpu']]), postFilterMsg: 'preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.' }], '0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling..'],
    ['a PreFilter rejection replaces the per-node histogram', [3, { nodeToStatus: m([['x'], ['x'], ['x']]), preFilterMsg: 'persistentvolumeclaim "data" not found' }], '0/3 nodes are available: persistentvolumeclaim "data" not found.'],
    ['several reasons of one node are each counted', [1, { nodeToStatus: m([['Insufficient cpu', 'Insufficient memory']]) }], '0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.'],
  ];
  for (const [name, args, want] of cases) it(name, () => assert.equal(fitErrorMessage(...args), want));
});

describe('numFeasibleNodesToFind', () => {
  const cases: Array<[string, number | undefined, number, number]> = [
    ['a cluster under 100 nodes is searched whole', undefined, 99, 99],
    ['at 100 nodes the adaptive 50% is below the floor of 100', undefined, 100, 100],
    ['at 1000 nodes the adaptive percentage is 42%', undefined, 1000, 420],
    ['at 5000 nodes the adaptive percentage is 10%', undefined, 5000, 500],
    ['at 6000 nodes the adaptive percentage bottoms out at 5%', undefined, 6000, 300],
    ['an explicit 100% searches every node', 100, 5000, 5000],
    ['an explicit percentage never goes below 100 nodes', 1, 5000, 100],
  ];
  for (const [name, pct, n, want] of cases) it(name, () => assert.equal(numFeasibleNodesToFind(pct, n), want));
});

function setup(nodes: ReturnType<typeof node>[], opts: { extraPlugins?: PluginFactory[] } = {}) {
  const cache = new SchedulerCache();
  for (const n of nodes) cache.addOrUpdateNode(n);
  const api = new RecordingAPI();
  const nominator = new Nominator();
  const registry = new Map<string, PluginFactory>([[Sort.name, Sort], [Slots.name, Slots], [Blocked.name, Blocked], [binderFor(api).name, binderFor(api)]]);
  let fwk: Framework | undefined;
  const pre = defaultPreemption({ api, nominator, framework: () => fwk!, random: () => 0 });
  registry.set(pre.name, pre);
  for (const f of opts.extraPlugins ?? []) registry.set(f.name, f);
  const pods = new Map<string, Pod>();
  fwk = new Framework(profile(['PrioritySort', 'Blocked', 'Slots', 'DefaultPreemption', 'DefaultBinder', ...(opts.extraPlugins ?? []).map((f) => f.name)]), registry, handleFor(cache));
  const sched = new Scheduler({ profiles: [fwk], api, log: logger('test'), cache, nominator, currentPod: (ns, name) => pods.get(`${ns}/${name}`) });
  const add = (p: Pod) => {
    pods.set(`${p.metadata!.namespace}/${p.metadata!.name}`, p);
    sched.onPodAdd(p);
  };
  const runOnce = async () => {
    const info = await sched.queue.pop();
    await sched.scheduleOne(info!);
    await new Promise((r) => setImmediate(r));
  };
  return { cache, api, sched, fwk, add, runOnce, pods };
}

describe('scheduling cycle', () => {
  it('binds a pod to the node with the best score and records a Scheduled event', async () => {
    const t = setup([node('a', 1), node('b', 5)]);
    t.add(pod('web-1'));
    await t.runOnce();
    assert.deepEqual(t.api.bound, [{ pod: 'web-1', node: 'b' }]);
    assert.deepEqual(t.api.events.map((e) => [e.reason, e.note]), [['Scheduled', 'Successfully assigned default/web-1 to b']]);
  });

  it('counts an assumed pod on its node before its binding is confirmed', async () => {
    const t = setup([node('a', 1)]);
    t.add(pod('p1'));
    t.add(pod('p2'));
    await t.runOnce();
    await t.runOnce();
    assert.deepEqual(t.api.bound.map((b) => b.pod), ['p1']);
    const failed = t.api.events.find((e) => e.reason === 'FailedScheduling');
    assert.ok(failed, 'p2 fails');
    assert.match(failed.note, /^0\/1 nodes are available: 1 Too many slots used\. preemption: 0\/1 nodes are available: 1 No preemption victims found for incoming pod\.\.$/);
  });

  it('marks an unschedulable pod PodScheduled=False/Unschedulable and retries it when a node is added', async () => {
    const t = setup([node('a', 0)]);
    t.add(pod('p'));
    await t.runOnce();
    const patch = t.api.statusPatches.find((s) => s.pod === 'p');
    assert.deepEqual(patch?.condition && { ...(patch.condition as object) }, {
      type: 'PodScheduled',
      status: 'False',
      reason: 'Unschedulable',
      message: '0/1 nodes are available: 1 Too many slots used. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod..',
    });
    assert.equal(t.sched.queue.has(pod('p')), 'unschedulable');
    t.sched.onNodeUpdate(node('a', 0), { ...node('a', 0), metadata: { name: 'a', labels: { slots: '0', x: 'y' } } });
    assert.equal(t.sched.queue.has(pod('p')), 'unschedulable', 'a label change is not an event Slots registered for');
    t.sched.onNodeAdd(node('b', 1));
    assert.equal(t.sched.queue.has(pod('p')), 'backoff', 'a node add moves it (to back-off: it just failed)');
  });

  it('leaves pods that name another scheduler alone', () => {
    const t = setup([node('a', 1)]);
    t.add(pod('other', { schedulerName: 'my-scheduler' }));
    assert.equal(t.sched.queue.has(pod('other')), undefined);
  });

  it('says preemption is not helpful when every node rejects the pod unresolvably', async () => {
    const t = setup([node('a', 5, { unresolvable: true }), node('b', 5, { unresolvable: true })]);
    t.add(pod('p', { priority: 1000 }));
    await t.runOnce();
    const failed = t.api.events.find((e) => e.reason === 'FailedScheduling');
    assert.equal(failed?.note, '0/2 nodes are available: 2 node(s) were blocked. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling..');
  });

  it('preempts the lowest-priority pod and nominates the node', async () => {
    const t = setup([node('a', 2), node('b', 2)]);
    const low = [pod('low-a', { priority: 1, nodeName: 'a' }), pod('mid-a', { priority: 50, nodeName: 'a' }), pod('mid-b1', { priority: 50, nodeName: 'b' }), pod('mid-b2', { priority: 60, nodeName: 'b' })];
    for (const p of low) t.add(p);
    t.add(pod('high', { priority: 100 }));
    await t.runOnce();
    assert.deepEqual(t.api.deleted, ['low-a']);
    const nominated = t.api.statusPatches.find((s) => s.pod === 'high' && s.nominated !== undefined);
    assert.equal(nominated?.nominated, 'a');
    assert.ok(t.api.events.some((e) => e.reason === 'Preempted' && e.regarding === 'low-a'));
  });

  it('does not preempt for a pod with preemptionPolicy Never', async () => {
    const t = setup([node('a', 1)]);
    t.add(pod('low', { priority: 1, nodeName: 'a' }));
    const p = pod('high', { priority: 100 });
    p.spec!.preemptionPolicy = 'Never';
    t.add(p);
    await t.runOnce();
    assert.deepEqual(t.api.deleted, []);
    assert.match(t.api.events.find((e) => e.reason === 'FailedScheduling')!.note, /preemption: not eligible due to preemptionPolicy=Never\.\.$/);
  });

  it('a failed binding forgets the assumed pod and retries with back-off', async () => {
    const t = setup([node('a', 1)]);
    t.api.failBind = true;
    t.add(pod('p'));
    await t.runOnce();
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(t.cache.stats().assumed, 0);
    assert.equal(t.sched.queue.has(pod('p')), 'backoff');
    assert.ok(t.api.events.some((e) => e.reason === 'FailedScheduling' && /binding refused/.test(e.note)));
  });
});

describe('preemption choices', () => {
  const pi = (name: string, priority: number, start = '2026-01-01T00:00:00Z') => new PodInfo({ metadata: { name, namespace: 'default', labels: { app: 'db' } }, spec: { containers: [], priority }, status: { startTime: start } });
  it('prefers the node with fewer PDB violations, then lower victim priority, then fewer victims', () => {
    const c = (node: string, victims: PodInfo[], v = 0) => ({ node, victims, numPDBViolations: v });
    assert.equal(pickOneNodeForPreemption([c('a', [pi('x', 1)], 1), c('b', [pi('y', 5)], 0)]).node, 'b');
    assert.equal(pickOneNodeForPreemption([c('a', [pi('x', 5)]), c('b', [pi('y', 1)])]).node, 'b');
    assert.equal(pickOneNodeForPreemption([c('a', [pi('x', 1), pi('z', 1)]), c('b', [pi('y', 1)])]).node, 'b');
    assert.equal(pickOneNodeForPreemption([c('a', [pi('x', 1, '2026-01-01T00:00:00Z')]), c('b', [pi('y', 1, '2026-01-02T00:00:00Z')])]).node, 'b', 'the most recently started victim loses least');
  });
  it('counts victims against a PodDisruptionBudget’s allowed disruptions', () => {
    const pdb = { metadata: { name: 'db', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'db' } } }, status: { disruptionsAllowed: 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2 } };
    const { violating, nonViolating } = splitByPDBViolation([pi('a', 1), pi('b', 1)], [pdb]);
    assert.deepEqual([violating.map((p) => p.pod.metadata!.name), nonViolating.map((p) => p.pod.metadata!.name)], [['b'], ['a']]);
  });
});

describe('framework configuration', () => {
  it('refuses an unknown plugin naming the field', () => {
    const registry = new Map<string, PluginFactory>([[Sort.name, Sort]]);
    assert.throws(() => new Framework(profile(['PrioritySort', 'Nope']), registry, handleFor(new SchedulerCache())), (e: Error & { field?: string }) => e.field === 'profiles[0].plugins.multiPoint.enabled[1]');
  });
  it('refuses a profile without a bind plugin', () => {
    const registry = new Map<string, PluginFactory>([[Sort.name, Sort]]);
    assert.throws(() => new Framework(profile(['PrioritySort']), registry, handleFor(new SchedulerCache())), /at least one bind plugin/);
  });
  it('a plugin disabled at one point still runs at the others', () => {
    const api = new RecordingAPI();
    const registry = new Map<string, PluginFactory>([[Sort.name, Sort], [Slots.name, Slots], ['DefaultBinder', binderFor(api)]]);
    const f = new Framework(profile(['PrioritySort', 'Slots', 'DefaultBinder'], { points: { score: { disabled: ['Slots'] } } }), registry, handleFor(new SchedulerCache()));
    assert.deepEqual([f.filterPlugins.map((p) => p.name), f.scorePlugins.length], [['Slots'], 0]);
  });
});

describe('PodScheduler', () => {
  it('starts each search where the last one stopped, so nodes share the load', () => {
    const cache = new SchedulerCache();
    for (let i = 0; i < 200; i++) cache.addOrUpdateNode(node(`n${String(i).padStart(3, '0')}`, 1));
    const api = new RecordingAPI();
    const registry = new Map<string, PluginFactory>([[Sort.name, Sort], [Slots.name, Slots], ['DefaultBinder', binderFor(api)]]);
    const f = new Framework(profile(['PrioritySort', 'Slots', 'DefaultBinder'], { points: { score: { disabled: ['*'] } } }), registry, handleFor(cache));
    const ps = new PodScheduler(cache, new Nominator(), 50);
    const first = ps.findNodesThatFitPod(f, f.newCycleState(), pod('x'), cache.list());
    const second = ps.findNodesThatFitPod(f, f.newCycleState(), pod('y'), cache.list());
    assert.equal(first.feasible.length, 100);
    assert.equal(second.feasible[0]!.name, 'n100');
  });
  it('rejects every node at once when PreFilter does, with its message', () => {
    const cache = new SchedulerCache();
    cache.addOrUpdateNode(node('a', 1));
    const pf: PluginFactory = { name: 'Claims', create: () => ({ name: 'Claims', preFilter: () => ({ status: unresolvable('persistentvolumeclaim "data" not found') }) }) };
    const api = new RecordingAPI();
    const registry = new Map<string, PluginFactory>([[Sort.name, Sort], [pf.name, pf], ['DefaultBinder', binderFor(api)]]);
    const f = new Framework(profile(['PrioritySort', 'Claims', 'DefaultBinder']), registry, handleFor(cache));
    const r = new PodScheduler(cache, new Nominator(), undefined).findNodesThatFitPod(f, f.newCycleState(), pod('x'), cache.list());
    assert.equal(r.diagnosis.preFilterMsg, 'persistentvolumeclaim "data" not found');
    assert.deepEqual([...r.diagnosis.unschedulablePlugins], ['Claims']);
    void unschedulable;
    void arrayLister;
  });
});
