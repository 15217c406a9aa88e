import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, ContainerStatus, Pod } from 'kubernetes-types/core/v1.js';
import { FakeClock } from '../../../../src/client/clock.js';
import { Backoff } from '../../../../src/kubelet/backoff.js';
import { computePodActions, containerHash } from '../../../../src/kubelet/podActions.js';
import { generatePodStatus, podPhase, type RuntimeContainer, type RuntimePodStatus } from '../../../../src/kubelet/podStatus.js';
import { goDuration, podCgroupParent, containerResources } from '../../../../src/kubelet/kuberuntime.js';
import { mergePatchDiff } from '../../../../src/kubelet/statusManager.js';
import type { PodSandboxStatus } from '../../../../src/kubelet/runtime/types.js';

const container = (name: string, extra: Partial<Container> = {}): Container => ({ name, image: 'busybox', ...extra });

function podWith(containers: Container[], extra: { restartPolicy?: string; initContainers?: Container[] } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'u1' },
    spec: { containers, restartPolicy: extra.restartPolicy ?? 'Always', ...(extra.initContainers ? { initContainers: extra.initContainers } : {}) },
  };
}

const running = (name: string): ContainerStatus => ({ name, ready: true, restartCount: 0, image: 'x', imageID: '', state: { running: { startedAt: 't' } }, started: true });
const exited = (name: string, exitCode: number): ContainerStatus => ({ name, ready: false, restartCount: 0, image: 'x', imageID: '', state: { terminated: { exitCode } } });
const waiting = (name: string, reason = 'ContainerCreating', lastExit?: number): ContainerStatus => ({
  name,
  ready: false,
  restartCount: 0,
  image: 'x',
  imageID: '',
  state: { waiting: { reason } },
  ...(lastExit !== undefined ? { lastState: { terminated: { exitCode: lastExit } } } : {}),
});

describe('podPhase (upstream getPhase)', () => {
  const cases: { name: string; pod: Pod; statuses: ContainerStatus[]; terminal?: boolean; want: string }[] = [
    { name: 'a container still being created keeps the pod Pending', pod: podWith([container('a')]), statuses: [waiting('a')], want: 'Pending' },
    { name: 'all containers running make it Running', pod: podWith([container('a'), container('b')]), statuses: [running('a'), running('b')], want: 'Running' },
    { name: 'a crash-looping container under Always keeps it Running', pod: podWith([container('a')]), statuses: [waiting('a', 'CrashLoopBackOff', 3)], want: 'Running' },
    { name: 'all exited 0 under Never is Succeeded', pod: podWith([container('a')], { restartPolicy: 'Never' }), statuses: [exited('a', 0)], want: 'Succeeded' },
    { name: 'one failure under Never is Failed', pod: podWith([container('a'), container('b')], { restartPolicy: 'Never' }), statuses: [exited('a', 0), exited('b', 1)], want: 'Failed' },
    { name: 'a failure under OnFailure is Running (it restarts)', pod: podWith([container('a')], { restartPolicy: 'OnFailure' }), statuses: [exited('a', 1)], want: 'Running' },
    { name: 'an exited container under Always is Running (restarting)', pod: podWith([container('a')]), statuses: [exited('a', 0)], want: 'Running' },
    { name: 'a terminal pod with a failure is Failed whatever the policy', pod: podWith([container('a')]), statuses: [exited('a', 137)], terminal: true, want: 'Failed' },
    {
      name: 'a running init container keeps the pod Pending',
      pod: podWith([container('a')], { initContainers: [container('init')] }),
      statuses: [running('init'), waiting('a', 'PodInitializing')],
      want: 'Pending',
    },
    {
      name: 'a failed init container under Never fails the pod',
      pod: podWith([container('a')], { restartPolicy: 'Never', initContainers: [container('init')] }),
      statuses: [exited('init', 2), waiting('a', 'PodInitializing')],
      want: 'Failed',
    },
    { name: 'a missing status is Pending', pod: podWith([container('a')]), statuses: [], want: 'Pending' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(podPhase(c.pod, c.statuses, c.terminal ?? false), c.want));
});

const sandbox = (id: string, state: PodSandboxStatus['state'], attempt = 0, ip = '10.244.0.5'): PodSandboxStatus => ({
  id,
  metadata: { name: 'p', uid: 'u1', namespace: 'default', attempt },
  state,
  createdAt: BigInt(attempt + 1),
  network: { ip, additionalIps: [] },
  linux: { namespaces: { options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
  labels: {},
  annotations: {},
  runtimeHandler: '',
});

const rc = (name: string, state: RuntimeContainer['state'], extra: Partial<RuntimeContainer> = {}): RuntimeContainer => ({
  id: `${name}-${extra.restartCount ?? 0}`,
  name,
  state,
  createdAt: 1000 + (extra.restartCount ?? 0),
  startedAt: 1000,
  finishedAt: state === 'CONTAINER_EXITED' ? 2000 : 0,
  exitCode: 0,
  reason: '',
  message: '',
  image: 'busybox',
  imageRef: 'sha256:abc',
  restartCount: 0,
  hash: '',
  ...extra,
});

const rt = (sandboxes: PodSandboxStatus[], containers: RuntimeContainer[]): RuntimePodStatus => ({ uid: 'u1', sandboxes, ips: sandboxes[0]?.state === 'SANDBOX_READY' ? [sandboxes[0].network!.ip] : [], containers });
const none = { liveness: new Set<string>(), startup: new Set<string>() };

describe('computePodActions', () => {
  it('a new pod gets a sandbox and all its containers', () => {
    const a = computePodActions(podWith([container('a'), container('b')]), rt([], []), none);
    assert.equal(a.createSandbox, true);
    assert.deepEqual(a.containersToStart.map((c) => c.name), ['a', 'b']);
  });
  it('a pod with init containers starts only the first init container with its sandbox', () => {
    const a = computePodActions(podWith([container('a')], { initContainers: [container('i1'), container('i2')] }), rt([], []), none);
    assert.equal(a.nextInitContainer?.name, 'i1');
    assert.equal(a.containersToStart.length, 0);
  });
  it('after the first init container succeeded the second runs', () => {
    const a = computePodActions(
      podWith([container('a')], { initContainers: [container('i1'), container('i2')] }),
      rt([sandbox('s', 'SANDBOX_READY')], [rc('i1', 'CONTAINER_EXITED')]),
      none,
    );
    assert.equal(a.createSandbox, false);
    assert.equal(a.nextInitContainer?.name, 'i2');
  });
  it('an exited container under Always is restarted', () => {
    const a = computePodActions(podWith([container('a')]), rt([sandbox('s', 'SANDBOX_READY')], [rc('a', 'CONTAINER_EXITED', { exitCode: 1 })]), none);
    assert.deepEqual(a.containersToStart.map((c) => c.name), ['a']);
    assert.equal(a.killPod, false);
  });
  it('a container that exited 0 under OnFailure is not restarted and the pod is torn down', () => {
    const a = computePodActions(podWith([container('a')], { restartPolicy: 'OnFailure' }), rt([sandbox('s', 'SANDBOX_READY')], [rc('a', 'CONTAINER_EXITED')]), none);
    assert.equal(a.containersToStart.length, 0);
    assert.equal(a.killPod, true);
  });
  it('a failed liveness probe kills and restarts the container', () => {
    const c = container('a');
    const a = computePodActions(podWith([c]), rt([sandbox('s', 'SANDBOX_READY')], [rc('a', 'CONTAINER_RUNNING', { hash: containerHash(c) })]), { liveness: new Set(['a-0']), startup: new Set() });
    assert.deepEqual(a.containersToKill, [{ id: 'a-0', name: 'a', message: 'Container a failed liveness probe, will be restarted' }]);
    assert.deepEqual(a.containersToStart.map((x) => x.name), ['a']);
  });
  it('a changed container spec restarts the container', () => {
    const a = computePodActions(podWith([container('a')]), rt([sandbox('s', 'SANDBOX_READY')], [rc('a', 'CONTAINER_RUNNING', { hash: 'different' })]), none);
    assert.equal(a.containersToKill[0]?.message, 'Container a definition changed, will be restarted');
  });
  it('a dead sandbox is replaced with the next attempt', () => {
    const a = computePodActions(podWith([container('a')]), rt([sandbox('s', 'SANDBOX_NOTREADY', 2)], [rc('a', 'CONTAINER_EXITED')]), none);
    assert.equal(a.createSandbox, true);
    assert.equal(a.attempt, 3);
  });
  it('a finished pod under Never gets no new sandbox', () => {
    const a = computePodActions(podWith([container('a')], { restartPolicy: 'Never' }), rt([sandbox('s', 'SANDBOX_NOTREADY')], [rc('a', 'CONTAINER_EXITED')]), none);
    assert.equal(a.createSandbox, false);
  });
});

describe('generatePodStatus', () => {
  const base = {
    oldStatus: {},
    runtimeName: 'k8ts-process',
    readiness: () => undefined,
    startup: () => undefined,
    terminationMessage: () => undefined,
    podIsTerminal: false,
    hostIPs: ['192.0.2.2'],
    now: '2026-11-25T00:00:00Z',
  };
  it('a crash-looping container reads as upstream: waiting CrashLoopBackOff, last state terminated, restart count', () => {
    const pod = podWith([container('a')]);
    const s = generatePodStatus({
      ...base,
      pod,
      runtime: rt([sandbox('s', 'SANDBOX_READY')], [rc('a', 'CONTAINER_EXITED', { exitCode: 3, restartCount: 2, reason: 'Error' })]),
      waitingReason: () => ({ reason: 'CrashLoopBackOff', message: 'back-off 20s restarting failed container=a pod=p_default(u1)' }),
    });
    const cs = s.containerStatuses![0]!;
    assert.equal(s.phase, 'Running');
    assert.equal(cs.state?.waiting?.reason, 'CrashLoopBackOff');
    assert.equal(cs.lastState?.terminated?.exitCode, 3);
    assert.equal(cs.lastState?.terminated?.reason, 'Error');
    assert.equal(cs.restartCount, 2);
    assert.equal(cs.containerID, 'k8ts-process://a-2');
    assert.equal(s.podIP, '10.244.0.5');
    const ready = s.conditions!.find((c) => c.type === 'Ready')!;
    assert.equal(ready.status, 'False');
    assert.equal(ready.reason, 'ContainersNotReady');
    assert.equal(ready.message, 'containers with unready status: [a]');
  });
  it('a running container without a readiness probe is ready; the pod is Ready', () => {
    const s = generatePodStatus({ ...base, pod: podWith([container('a')]), runtime: rt([sandbox('s', 'SANDBOX_READY')], [rc('a', 'CONTAINER_RUNNING')]), waitingReason: () => undefined });
    assert.equal(s.containerStatuses![0]!.ready, true);
    assert.equal(s.conditions!.find((c) => c.type === 'Ready')!.status, 'True');
    assert.deepEqual(
      s.conditions!.map((c) => c.type),
      ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'],
    );
  });
  it('a running container with a readiness probe waits for its result', () => {
    const pod = podWith([container('a', { readinessProbe: { tcpSocket: { port: 80 } } })]);
    const s = generatePodStatus({ ...base, pod, runtime: rt([sandbox('s', 'SANDBOX_READY')], [rc('a', 'CONTAINER_RUNNING')]), waitingReason: () => undefined });
    assert.equal(s.containerStatuses![0]!.ready, false);
  });
  it("condition transition times come from the kubelet's last status, not from a pod copy that is one write behind", () => {
    const pod = podWith([container('a')]);
    const runtime = rt([sandbox('s', 'SANDBOX_READY')], [rc('a', 'CONTAINER_RUNNING')]);
    const first = generatePodStatus({ ...base, pod, runtime, waitingReason: () => undefined, now: '2026-11-25T00:00:01Z' });
    const stale = { ...pod, status: { conditions: first.conditions!.map((c) => ({ ...c, lastTransitionTime: '2026-11-25T00:00:00Z' })) } };
    const again = generatePodStatus({ ...base, pod: stale, runtime, oldStatus: first, waitingReason: () => undefined, now: '2026-11-25T00:00:09Z' });
    assert.deepEqual(again.conditions, first.conditions);
  });
  it('without a status of its own the kubelet keeps the API pod\'s transition times of unchanged conditions', () => {
    const pod = podWith([container('a')]);
    const runtime = rt([sandbox('s', 'SANDBOX_READY')], [rc('a', 'CONTAINER_RUNNING')]);
    const first = generatePodStatus({ ...base, pod, runtime, waitingReason: () => undefined, now: '2026-11-25T00:00:01Z' });
    const after = generatePodStatus({ ...base, pod: { ...pod, status: first }, runtime, waitingReason: () => undefined, now: '2026-11-25T00:00:09Z' });
    assert.deepEqual(after.conditions!.map((c) => c.lastTransitionTime), first.conditions!.map(() => '2026-11-25T00:00:01Z'));
  });
  it('a completed pod reports PodCompleted conditions', () => {
    const pod = podWith([container('a')], { restartPolicy: 'Never' });
    const s = generatePodStatus({ ...base, pod, runtime: rt([sandbox('s', 'SANDBOX_NOTREADY')], [rc('a', 'CONTAINER_EXITED')]), waitingReason: () => undefined });
    assert.equal(s.phase, 'Succeeded');
    assert.equal(s.containerStatuses![0]!.state?.terminated?.reason, 'Completed');
    assert.equal(s.conditions!.find((c) => c.type === 'Ready')!.reason, 'PodCompleted');
  });
});

describe('Backoff (flowcontrol)', () => {
  it('doubles from 10 s to at most 5 min and resets after 10 quiet minutes', () => {
    const clock = new FakeClock(0);
    const b = new Backoff(10_000, 300_000, clock);
    const seen: number[] = [];
    for (let i = 0; i < 7; i++) {
      b.next('k', clock.now());
      seen.push(b.get('k'));
    }
    assert.deepEqual(seen, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
    assert.equal(b.isInBackOffSince('k', clock.now()), true);
    clock.step(600_001);
    b.next('k', clock.now());
    assert.equal(b.get('k'), 10_000);
  });
});

describe('small kubelet helpers', () => {
  it('goDuration formats as Go does', () => assert.deepEqual([10_000, 80_000, 300_000].map(goDuration), ['10s', '1m20s', '5m0s']));
  it('pod cgroups follow the QoS tiers', () => {
    const best = podWith([container('a')]);
    const guaranteed = podWith([container('a', { resources: { limits: { cpu: '1', memory: '64Mi' }, requests: { cpu: '1', memory: '64Mi' } } })]);
    assert.equal(podCgroupParent(best), '/kubepods/besteffort/podu1');
    assert.equal(podCgroupParent(guaranteed), '/kubepods/podu1');
    const r = containerResources(guaranteed, guaranteed.spec!.containers[0]!, 8 << 30);
    assert.deepEqual([r.cpuShares, r.cpuQuota, r.cpuPeriod, r.memoryLimitInBytes], [1024, 100_000, 100_000, 64 << 20]);
  });
  it('mergePatchDiff nulls removed keys and keeps equal ones out', () =>
    assert.deepEqual(mergePatchDiff({ a: 1, b: { c: 2, d: 3 } }, { a: 1, b: { c: 5 } }), { b: { c: 5, d: null } }));
  it('mergePatchDiff counts null members as absent, as the server stores them (no patch for a re-sent status)', () => {
    const api = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: 't1' }] };
    const kubelet = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: 't1' }], nominatedNodeName: null };
    assert.equal(mergePatchDiff(api, kubelet), undefined);
    const changed = { ...kubelet, conditions: [{ type: 'Ready', status: 'False', lastProbeTime: null, lastTransitionTime: 't2' }] };
    assert.deepEqual(mergePatchDiff(api, changed), { conditions: changed.conditions });
    assert.deepEqual(mergePatchDiff({ a: null, b: 1 }, { b: 1 }), undefined);
  });
  it('mergePatchDiff finds no difference in arrays whose objects list the same keys in another order', () =>
    assert.equal(mergePatchDiff({ conditions: [{ type: 'Ready', status: 'True' }] }, { conditions: [{ status: 'True', type: 'Ready' }] }), undefined));
  it('mergePatchDiff replaces an array whose objects differ', () =>
    assert.deepEqual(mergePatchDiff({ c: [{ type: 'Ready', status: 'True' }] }, { c: [{ type: 'Ready', status: 'False' }] }), { c: [{ type: 'Ready', status: 'False' }] }));
  it('generated pod conditions carry no null lastProbeTime, which the API server would drop', () => {
    const s = generatePodStatus({ oldStatus: {}, runtimeName: 'k8ts-process', readiness: () => undefined, startup: () => undefined, terminationMessage: () => undefined, podIsTerminal: false, hostIPs: ['192.0.2.2'], now: '2026-11-25T00:00:00Z', pod: podWith([container('a')]), runtime: rt([sandbox('s', 'SANDBOX_READY')], [rc('a', 'CONTAINER_RUNNING')]), waitingReason: () => undefined });
    assert.ok(s.conditions!.every((c) => !('lastProbeTime' in c)));
  });
});
