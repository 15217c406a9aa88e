// ProbeManager workers on a fake clock, with an ExecSync test double whose answers the test changes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import type { Container, Pod, PodStatus, Probe } from 'kubernetes-types/core/v1.js';
import type { ObjectReference } from 'kubernetes-types/core/v1.js';
import { FakeClock } from '../../../../src/client/clock.js';
import { ProbeManager, type ProbeFailure } from '../../../../src/kubelet/prober/manager.js';
import type { ExecSyncResult } from '../../../../src/kubelet/runtime/types.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function execProbe(extra: Partial<Probe> = {}, command = 'check'): Probe {
  return { exec: { command: [command] }, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3, ...extra };
}

function pod(containers: Container[], spec: Partial<NonNullable<Pod['spec']>> = {}): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'apps', uid: 'pod-1' }, spec: { containers, ...spec } };
}

/** A little world: the pod's status (as the kubelet would report it), the exec answers, and what the manager told us. */
function harness(p: Pod) {
  const clock = new FakeClock(T0);
  const exitCodes = new Map<string, number>(); // command → exit code
  const execs: string[] = [];
  const events: string[] = [];
  const liveness: Array<{ name: string; id: string; failure: ProbeFailure }> = [];
  const startup: Array<{ name: string; id: string; failure: ProbeFailure }> = [];
  let changes = 0;
  let status: PodStatus | undefined = {
    phase: 'Running',
    podIP: '127.0.0.1',
    containerStatuses: (p.spec?.containers ?? []).map((c) => ({
      name: c.name,
      containerID: `containerd://${c.name}-1`,
      image: 'img',
      imageID: '',
      ready: false,
      restartCount: 0,
      started: false,
      state: { running: { startedAt: new Date(T0).toISOString() } },
    })),
  };
  const m = new ProbeManager({
    runtime: {
      execSync: async (id: string, cmd: string[]): Promise<ExecSyncResult> => {
        execs.push(`${id} ${cmd.join(' ')}`);
        return { stdout: Buffer.from(`${cmd[0]} said ${exitCodes.get(cmd[0]!) ?? 0}`), stderr: Buffer.alloc(0), exitCode: exitCodes.get(cmd[0]!) ?? 0 };
      },
    },
    recorder: { event: (ref, type, reason, message) => events.push(`${(ref as ObjectReference).fieldPath} ${type} ${reason} ${message}`) },
    podStatus: () => status,
    onLivenessFailure: (_p, name, id, failure) => liveness.push({ name, id, failure }),
    onStartupFailure: (_p, name, id, failure) => startup.push({ name, id, failure }),
    onResultChange: () => changes++,
    clock,
    random: () => 0,
  });
  return {
    clock,
    m,
    exitCodes,
    execs,
    events,
    liveness,
    startup,
    get changes() {
      return changes;
    },
    get status() {
      return status;
    },
    setStatus(s: PodStatus | undefined) {
      status = s;
    },
    /** The kubelet's status step: fill started/ready from the probe results. */
    sync() {
      if (status) m.updatePodStatus(p, status);
    },
    /** Moves the clock and lets the async probes finish. */
    async advance(ms: number) {
      clock.step(ms);
      for (let i = 0; i < 20; i++) await tick();
    },
  };
}

describe('ProbeManager', () => {
  it('readiness: not ready until the probe succeeds, then ready; failures after failureThreshold make it unready', async () => {
    const p = pod([{ name: 'app', readinessProbe: execProbe({ failureThreshold: 2 }) }]);
    const h = harness(p);
    h.m.addPod(p);
    assert.equal(h.m.readiness('pod-1', 'containerd://app-1'), undefined, 'no result before the worker ran');
    await h.advance(0);
    assert.equal(h.m.readiness('pod-1', 'containerd://app-1'), true, 'first probe succeeded');
    assert.ok(h.changes >= 2, 'initial Failure and then Success were reported');
    h.sync();
    assert.equal(h.status!.containerStatuses![0]!.ready, true);
    assert.equal(h.status!.containerStatuses![0]!.started, true, 'no startup probe: started once running');

    h.exitCodes.set('check', 1);
    await h.advance(10_000);
    assert.equal(h.m.readiness('pod-1', 'app-1'), true, 'one failure is below the threshold of 2');
    await h.advance(10_000);
    assert.equal(h.m.readiness('pod-1', 'app-1'), false);
    assert.deepEqual(h.events.slice(-2), ['spec.containers{app} Warning Unhealthy Readiness probe failed: check said 1', 'spec.containers{app} Warning Unhealthy Readiness probe failed: check said 1']);
    assert.equal(h.execs.length, 3);
    await h.m.stop();
  });

  it('liveness: the failureThreshold-th failure calls onLivenessFailure once, then the worker holds until a new container', async () => {
    const p = pod([{ name: 'app', livenessProbe: execProbe({ terminationGracePeriodSeconds: 5 }) }], { terminationGracePeriodSeconds: 60 });
    const h = harness(p);
    h.sync();
    h.exitCodes.set('check', 1);
    h.m.addPod(p);
    await h.advance(0);
    await h.advance(10_000);
    assert.equal(h.liveness.length, 0, 'two failures are below the threshold of 3');
    await h.advance(10_000);
    assert.deepEqual(h.liveness, [{ name: 'app', id: 'app-1', failure: { message: 'Container app failed liveness probe, will be restarted', gracePeriodSeconds: 5 } }]);
    assert.equal(h.m.liveness('pod-1', 'app-1'), false);
    const probesSoFar = h.execs.length;
    await h.advance(30_000);
    assert.equal(h.execs.length, probesSoFar, 'on hold: no probes of the failed container');

    // The kubelet restarted the container.
    h.exitCodes.set('check', 0);
    h.status!.containerStatuses![0]!.containerID = 'containerd://app-2';
    await h.advance(10_000);
    assert.equal(h.execs.at(-1), 'app-2 check');
    assert.equal(h.m.liveness('pod-1', 'app-2'), true);
    assert.equal(h.m.liveness('pod-1', 'app-1'), undefined, 'the old container result is gone');
    assert.equal(h.liveness.length, 1);
    await h.m.stop();
  });

  it('startup gates liveness and readiness; success marks the container started', async () => {
    const p = pod([{ name: 'app', startupProbe: execProbe({ failureThreshold: 30 }, 'started'), livenessProbe: execProbe({}, 'alive'), readinessProbe: execProbe({}, 'ready') }]);
    const h = harness(p);
    h.exitCodes.set('started', 1);
    h.m.addPod(p);
    await h.advance(0);
    h.sync();
    assert.equal(h.status!.containerStatuses![0]!.started, false);
    assert.equal(h.status!.containerStatuses![0]!.ready, false);
    await h.advance(20_000);
    assert.deepEqual(new Set(h.execs.map((e) => e.split(' ')[1])), new Set(['started']), 'only the startup probe runs before start');

    h.exitCodes.set('started', 0);
    await h.advance(10_000);
    assert.equal(h.m.startup('pod-1', 'app-1'), true);
    h.sync();
    assert.equal(h.status!.containerStatuses![0]!.started, true);
    const before = h.execs.length;
    await h.advance(10_000);
    const after = h.execs.slice(before).map((e) => e.split(' ')[1]).sort();
    assert.deepEqual(after, ['alive', 'ready'], 'liveness and readiness run once started; startup stops probing');
    await h.m.stop();
  });

  it('startup failure calls onStartupFailure with the pod grace period', async () => {
    const p = pod([{ name: 'app', startupProbe: execProbe({ failureThreshold: 2 }) }], { terminationGracePeriodSeconds: 12, restartPolicy: 'Never' });
    const h = harness(p);
    h.exitCodes.set('check', 1);
    h.m.addPod(p);
    await h.advance(0);
    await h.advance(10_000);
    assert.deepEqual(h.startup, [{ name: 'app', id: 'app-1', failure: { message: 'Container app failed startup probe', gracePeriodSeconds: 12 } }]);
    assert.equal(h.m.startup('pod-1', 'app-1'), false);
    await h.m.stop();
  });

  it('waits initialDelaySeconds after the container started', async () => {
    const p = pod([{ name: 'app', livenessProbe: execProbe({ initialDelaySeconds: 25 }) }]);
    const h = harness(p);
    h.sync();
    h.m.addPod(p);
    await h.advance(0);
    await h.advance(20_000);
    assert.equal(h.execs.length, 0);
    await h.advance(10_000);
    assert.equal(h.execs.length, 1);
    await h.m.stop();
  });

  it('spreads the first probe over one period right after the kubelet started', async () => {
    const p = pod([{ name: 'app', readinessProbe: execProbe() }]);
    const clockStart = T0;
    const h = harness(p);
    const m = new ProbeManager({ ...h.m.options, clock: h.clock, random: () => 0.5 });
    assert.equal(h.clock.now(), clockStart);
    m.addPod(p);
    await h.advance(4_000);
    assert.equal(h.execs.length, 0);
    await h.advance(1_000);
    assert.equal(h.execs.length, 1);
    await m.stop();
  });

  it('a terminated pod ends its workers; a not-running container is not ready and is not probed', async () => {
    const p = pod([{ name: 'app', readinessProbe: execProbe() }], { restartPolicy: 'Never' });
    const h = harness(p);
    h.m.addPod(p);
    await h.advance(0);
    h.status!.containerStatuses![0]!.state = { terminated: { exitCode: 0, reason: 'Completed' } };
    const before = h.execs.length;
    await h.advance(10_000);
    assert.equal(h.execs.length, before);
    assert.equal(h.m.readiness('pod-1', 'app-1'), undefined, 'the worker ended (restartPolicy Never) and took its result');
    assert.equal(h.m.hasWorker('pod-1', 'app', 'Readiness'), false);

    const q = pod([{ name: 'app', readinessProbe: execProbe() }]);
    const h2 = harness(q);
    h2.m.addPod(q);
    await h2.advance(0);
    h2.setStatus({ ...h2.status!, phase: 'Succeeded' });
    await h2.advance(10_000);
    assert.equal(h2.m.hasWorker('pod-1', 'app', 'Readiness'), false);
  });

  it('a pod being deleted stops liveness with a success', async () => {
    const p = pod([{ name: 'app', livenessProbe: execProbe() }]);
    const h = harness(p);
    h.sync();
    h.exitCodes.set('check', 1);
    h.m.addPod(p);
    await h.advance(0);
    h.m.updatePod({ ...p, metadata: { ...p.metadata, deletionTimestamp: new Date(T0).toISOString() } });
    await h.advance(10_000);
    await h.advance(10_000);
    assert.equal(h.liveness.length, 0);
    assert.equal(h.m.hasWorker('pod-1', 'app', 'Liveness'), false);
  });

  it('removePod stops the workers and forgets results; sidecar init containers are probed too', async () => {
    const p = pod([{ name: 'app', readinessProbe: execProbe() }], { initContainers: [{ name: 'proxy', restartPolicy: 'Always', readinessProbe: execProbe({}, 'proxy') }, { name: 'setup', readinessProbe: execProbe() }] });
    const h = harness(p);
    h.status!.initContainerStatuses = [
      { name: 'proxy', containerID: 'containerd://proxy-1', image: 'i', imageID: '', ready: false, restartCount: 0, state: { running: { startedAt: new Date(T0).toISOString() } } },
      { name: 'setup', containerID: 'containerd://setup-1', image: 'i', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
    ];
    h.m.addPod(p);
    assert.equal(h.m.hasWorker('pod-1', 'proxy', 'Readiness'), true);
    assert.equal(h.m.hasWorker('pod-1', 'setup', 'Readiness'), false, 'regular init containers have no probe workers');
    await h.advance(0);
    h.sync();
    assert.equal(h.status!.initContainerStatuses![0]!.ready, true);
    assert.equal(h.status!.initContainerStatuses![1]!.ready, true, 'a completed init container is ready');
    h.m.removePod(p);
    await h.advance(0);
    assert.equal(h.m.hasWorker('pod-1', 'app', 'Readiness'), false);
    assert.equal(h.m.readiness('pod-1', 'app-1'), undefined);
  });

  it('updatePodStatus runs a pending readiness probe at once', async () => {
    const p = pod([{ name: 'app', readinessProbe: execProbe({ initialDelaySeconds: 5 }) }]);
    const h = harness(p);
    h.m.addPod(p);
    await h.advance(0);
    assert.equal(h.execs.length, 0, 'inside the initial delay');
    await h.advance(6_000);
    assert.equal(h.execs.length, 0, 'the next tick is at 10 s');
    h.sync();
    assert.equal(h.status!.containerStatuses![0]!.ready, false);
    await h.advance(0);
    assert.equal(h.execs.length, 1, 'the status update triggered a probe');
    assert.equal(h.m.readiness('pod-1', 'app-1'), true);
    await h.m.stop();
  });
});

describe('ProbeManager with real servers and the real clock', () => {
  it('an httpGet liveness probe answering 500 restarts the container; a tcpSocket readiness probe makes it ready', async () => {
    const { createServer } = await import('node:http');
    const server = createServer((_req, res) => {
      res.statusCode = 500;
      res.end();
    });
    const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
    const p = pod([
      {
        name: 'app',
        ports: [{ name: 'http', containerPort: port }],
        livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1, failureThreshold: 2, timeoutSeconds: 1 },
        readinessProbe: { tcpSocket: { port }, periodSeconds: 1 },
      },
    ]);
    const status: PodStatus = {
      phase: 'Running',
      podIP: '127.0.0.1',
      containerStatuses: [{ name: 'app', containerID: 'containerd://real-1', image: 'i', imageID: '', ready: false, restartCount: 0, started: true, state: { running: { startedAt: new Date().toISOString() } } }],
    };
    const events: string[] = [];
    let failure: ProbeFailure | undefined;
    const m = new ProbeManager({
      runtime: { execSync: async () => Promise.reject(new Error('unused')) },
      recorder: { event: (_ref, type, reason, message) => events.push(`${type} ${reason} ${message}`) },
      podStatus: () => status,
      onLivenessFailure: (_p, _name, _id, f) => (failure = f),
      random: () => 0,
    });
    try {
      m.addPod(p);
      const deadline = Date.now() + 5000;
      while (!failure && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(failure, { message: 'Container app failed liveness probe, will be restarted', gracePeriodSeconds: 30 });
      assert.deepEqual(events.slice(0, 2), ['Warning Unhealthy Liveness probe failed: HTTP probe failed with statuscode: 500', 'Warning Unhealthy Liveness probe failed: HTTP probe failed with statuscode: 500']);
      assert.equal(m.readiness('pod-1', 'containerd://real-1'), true);
      m.updatePodStatus(p, status);
      assert.equal(status.containerStatuses![0]!.ready, true);
    } finally {
      await m.stop();
      server.close();
    }
  });
});
