// The kubelet's probe manager (upstream pkg/kubelet/prober/prober_manager.go and worker.go): one worker per
// (pod, container, probe type) probing on its period, result caches for liveness, readiness and startup, and
// the rules that tie them together (startup gates the others; a liveness or startup failure holds the worker
// until a new container appears; readiness starts as not ready).
import type { Container, ContainerStatus, Pod, PodStatus, Probe } from 'kubernetes-types/core/v1.js';
import { Counter, Histogram, type Registry } from 'prom-client';
import { realClock, type Clock, type TimerHandle } from '../../client/clock.js';
import { logger } from '../../util/log.js';
import type { ContainerRuntime } from '../runtime/types.js';
import { probeContainer, probeTiming, runtimeContainerId, type ProbeType, type EventSink, type ProbeWorkerResult } from './prober.js';

export type { ProbeType, ProbeWorkerResult } from './prober.js';

/** What the kubelet needs to restart a container whose liveness or startup probe failed. */
export interface ProbeFailure {
  /** For the `Killing` event: `Container web failed liveness probe, will be restarted` (no suffix when it will not restart). */
  message: string;
  /** The probe's terminationGracePeriodSeconds, else the pod's (default 30). */
  gracePeriodSeconds: number;
}

export interface ProbeManagerOptions {
  /** Runs exec probes (ExecSync with the probe's timeout). */
  runtime: Pick<ContainerRuntime, 'execSync'>;
  /** Events (`Unhealthy`, `ProbeWarning`): the kubelet's EventRecorder. */
  recorder?: EventSink;
  /**
   * The kubelet's current status of the pod: containerStatuses with containerID, state.running.startedAt and
   * `started` (compute it with `updatePodStatus`), podIP. undefined while the pod has none.
   */
  podStatus(podUid: string): PodStatus | undefined;
  onLivenessFailure?(pod: Pod, containerName: string, containerId: string, failure: ProbeFailure): void;
  onStartupFailure?(pod: Pod, containerName: string, containerId: string, failure: ProbeFailure): void;
  /** A readiness or startup result changed: the kubelet recomputes the pod's status. */
  onResultChange?(podUid: string): void;
  clock?: Clock;
  /** Random in [0,1) for the start-up jitter (tests make it deterministic). */
  random?: () => number;
  /** Registers `prober_probe_total` and `prober_probe_duration_seconds` here when given. */
  registry?: Registry;
}

const log = logger('prober');

const INITIAL: Record<ProbeType, ProbeWorkerResult> = { Readiness: 'Failure', Liveness: 'Success', Startup: 'Unknown' };

function probeSpec(container: Container, type: ProbeType): Probe | undefined {
  return type === 'Liveness' ? container.livenessProbe : type === 'Readiness' ? container.readinessProbe : container.startupProbe;
}

function findStatus(status: PodStatus, name: string): ContainerStatus | undefined {
  const c = status.containerStatuses?.find((s) => s.name === name);
  if (c?.containerID) return c;
  const i = status.initContainerStatuses?.find((s) => s.name === name);
  return i?.containerID ? i : c;
}

/** Whether the kubelet restarts `container` of `pod` after it ends (sidecars always; others by restartPolicy). */
function willRestart(pod: Pod, container: Container, exitCode?: number): boolean {
  if (container.restartPolicy === 'Always') return true;
  const policy = pod.spec?.restartPolicy ?? 'Always';
  if (policy === 'Never') return false;
  if (policy === 'OnFailure') return exitCode === undefined || exitCode !== 0;
  return true;
}

class ProbeWorker {
  readonly key: string;
  readonly spec: Probe;
  private containerId = '';
  private onHold = false;
  private lastResult: ProbeWorkerResult | undefined;
  private resultRun = 0;
  private stopped = false;
  private wake: (() => void) | undefined;
  private triggered = false;
  done: Promise<void> = Promise.resolve();

  constructor(
    private readonly m: ProbeManager,
    public pod: Pod,
    readonly container: Container,
    readonly type: ProbeType,
  ) {
    this.key = workerKey(pod.metadata?.uid ?? '', container.name, type);
    this.spec = probeSpec(container, type)!;
  }

  start(): void {
    this.done = this.run().catch((err) => log.error({ err: String(err), worker: this.key }, 'probe worker crashed'));
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  /** Runs the next probe now (upstream manualTriggerCh; non-blocking, coalesced). */
  trigger(): void {
    this.triggered = true;
    this.wake?.();
  }

  private wait(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.triggered) {
      this.triggered = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let timer: TimerHandle | undefined;
      const finish = () => {
        timer?.cancel();
        this.wake = undefined;
        this.triggered = false;
        resolve();
      };
      this.wake = finish;
      timer = this.m.clock.setTimer(finish, ms);
    });
  }

  private async run(): Promise<void> {
    const period = probeTiming(this.spec).periodSeconds * 1000;
    // After a kubelet restart every worker starts at once: spread the first probes over one period.
    if (period > this.m.clock.now() - this.m.startedAt) await this.wait(Math.floor(this.m.random() * period));
    const base = this.m.clock.now();
    try {
      while (!this.stopped && (await this.doProbe())) {
        if (this.stopped) break;
        const elapsed = this.m.clock.now() - base;
        await this.wait(period - (elapsed % period));
      }
    } finally {
      // A replacement worker (the pod was re-added) owns the result now.
      if (!this.m.hasWorker(this.pod.metadata?.uid ?? '', this.container.name, this.type) || this.m.isCurrent(this)) this.clearResult();
      this.m.removeWorker(this);
    }
  }

  /** Drops this worker's cached result. */
  clearResult(): void {
    if (this.containerId) this.m.removeResult(this.type, this.containerId);
  }

  /** One step of upstream's worker.doProbe; false ends the worker. */
  private async doProbe(): Promise<boolean> {
    const uid = this.pod.metadata?.uid ?? '';
    const status = this.m.options.podStatus(uid);
    if (!status) return true;
    if (status.phase === 'Failed' || status.phase === 'Succeeded') return false;
    const c = findStatus(status, this.container.name);
    if (!c?.containerID) return true;

    const id = runtimeContainerId(c.containerID);
    if (id !== this.containerId) {
      if (this.containerId) this.m.removeResult(this.type, this.containerId);
      this.containerId = id;
      this.m.setResult(this, id, INITIAL[this.type], false);
      this.onHold = false;
    }
    if (this.onHold) return true;

    if (!c.state?.running) {
      this.m.setResult(this, id, 'Failure', false);
      // A container that ended under restartPolicy Never needs no more probing (sidecars always restart).
      return c.state?.terminated === undefined || (this.pod.spec?.restartPolicy ?? 'Always') !== 'Never' || this.container.restartPolicy === 'Always';
    }

    if (this.pod.metadata?.deletionTimestamp && (this.type === 'Liveness' || this.type === 'Startup')) {
      // The pod is shutting down: report success so nothing restarts the container, and stop.
      this.m.setResult(this, id, 'Success', false);
      return false;
    }

    const timing = probeTiming(this.spec);
    const startedAt = Date.parse(c.state.running.startedAt ?? '');
    if (!Number.isNaN(startedAt) && Math.floor((this.m.clock.now() - startedAt) / 1000) < timing.initialDelaySeconds) return true;

    // The kubelet's `started` comes from updatePodStatus; derive it the same way in case it was not applied yet.
    if (c.started || this.m.isStarted(uid, c)) {
      // A started container needs no startup probe; the worker stays for the next container.
      if (this.type === 'Startup') return true;
    } else if (this.type !== 'Startup') {
      // Startup gates the other probes.
      return true;
    }

    const t0 = this.m.clock.now();
    const run = await probeContainer(this.m.options, this.type, this.spec, this.pod, status, this.container, id);
    if (this.stopped) return false;
    if (run.error !== undefined) {
      this.m.metrics?.observe(this.type, 'unknown', this.pod, this.container.name, (this.m.clock.now() - t0) / 1000);
      return true;
    }
    this.m.metrics?.observe(this.type, run.result === 'Success' ? 'successful' : 'failed', this.pod, this.container.name, (this.m.clock.now() - t0) / 1000);

    if (this.lastResult === run.result) this.resultRun++;
    else {
      this.lastResult = run.result;
      this.resultRun = 1;
    }
    if ((run.result === 'Failure' && this.resultRun < timing.failureThreshold) || (run.result === 'Success' && this.resultRun < timing.successThreshold)) {
      return true;
    }

    this.m.setResult(this, id, run.result, true);
    if ((this.type === 'Liveness' || this.type === 'Startup') && run.result === 'Failure') {
      // The container will be restarted: probe again only when a new one appears.
      this.onHold = true;
      this.resultRun = 0;
    }
    return true;
  }
}

function workerKey(uid: string, container: string, type: ProbeType): string {
  return `${uid}/${container}/${type}`;
}

class ProberMetrics {
  private readonly total: Counter<'probe_type' | 'result' | 'container' | 'pod' | 'namespace' | 'pod_uid'>;
  private readonly duration: Histogram<'probe_type' | 'container' | 'pod' | 'namespace'>;
  constructor(registry: Registry) {
    this.total = new Counter({
      name: 'prober_probe_total',
      help: 'Cumulative number of a liveness, readiness or startup probe for a container by result.',
      labelNames: ['probe_type', 'result', 'container', 'pod', 'namespace', 'pod_uid'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'prober_probe_duration_seconds',
      help: 'Duration in seconds for a probe response.',
      labelNames: ['probe_type', 'container', 'pod', 'namespace'],
      registers: [registry],
    });
  }
  observe(type: ProbeType, result: 'successful' | 'failed' | 'unknown', pod: Pod, container: string, seconds: number): void {
    const base = { probe_type: type, container, pod: pod.metadata?.name ?? '', namespace: pod.metadata?.namespace ?? '' };
    this.total.inc({ ...base, result, pod_uid: pod.metadata?.uid ?? '' });
    if (result === 'successful') this.duration.observe(base, seconds);
  }
}

/**
 * Probes the containers of the pods it is given. The kubelet calls `addPod` when it starts a pod,
 * `updatePod` when the pod object changes (deletion), `removePod` when the pod is gone, and
 * `updatePodStatus` when it computes a status (to fill `started` and `ready`).
 */
export class ProbeManager {
  readonly clock: Clock;
  readonly random: () => number;
  readonly startedAt: number;
  readonly metrics: ProberMetrics | undefined;
  private readonly workers = new Map<string, ProbeWorker>();
  private readonly results: Record<ProbeType, Map<string, ProbeWorkerResult>> = { Liveness: new Map(), Readiness: new Map(), Startup: new Map() };
  private stopped = false;

  constructor(readonly options: ProbeManagerOptions) {
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? Math.random;
    this.startedAt = this.clock.now();
    this.metrics = options.registry ? new ProberMetrics(options.registry) : undefined;
  }

  /** Starts workers for every probe of the pod's containers and sidecars (init containers with restartPolicy Always). */
  addPod(pod: Pod): void {
    if (this.stopped) return;
    const uid = pod.metadata?.uid ?? '';
    const containers = [...(pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always'), ...(pod.spec?.containers ?? [])];
    for (const c of containers) {
      for (const type of ['Startup', 'Readiness', 'Liveness'] as const) {
        if (!probeSpec(c, type)) continue;
        const key = workerKey(uid, c.name, type);
        if (this.workers.has(key)) {
          log.debug({ key }, 'probe worker already exists');
          continue;
        }
        const w = new ProbeWorker(this, pod, c, type);
        this.workers.set(key, w);
        w.start();
      }
    }
  }

  /** Gives the workers the newest pod object (they read its deletionTimestamp). */
  updatePod(pod: Pod): void {
    for (const w of this.workersOf(pod.metadata?.uid ?? '')) w.pod = pod;
  }

  /** Stops every worker of the pod; their cached results go with them. */
  removePod(pod: Pod | string): void {
    const uid = typeof pod === 'string' ? pod : (pod.metadata?.uid ?? '');
    for (const w of this.workersOf(uid)) this.stopWorker(w);
  }

  /** Upstream StopLivenessAndStartup: a terminating pod keeps only readiness probing. */
  stopLivenessAndStartup(pod: Pod): void {
    for (const w of this.workersOf(pod.metadata?.uid ?? '')) if (w.type !== 'Readiness') this.stopWorker(w);
  }

  /** Stops the workers of pods not in `desired` (upstream CleanupPods). */
  cleanupPods(desired: ReadonlySet<string>): void {
    for (const w of [...this.workers.values()]) if (!desired.has(w.pod.metadata?.uid ?? '')) this.stopWorker(w);
  }

  /** The readiness result of a container: true/false, or undefined when no readiness worker has seen it. */
  readiness(podUid: string, containerId: string): boolean | undefined {
    return this.boolResult('Readiness', podUid, containerId);
  }

  /** The startup result: true (started), false (failed), undefined (not known yet or no startup probe). */
  startup(podUid: string, containerId: string): boolean | undefined {
    return this.boolResult('Startup', podUid, containerId);
  }

  /** The liveness result: false after a liveness failure, until the container is replaced. */
  liveness(podUid: string, containerId: string): boolean | undefined {
    return this.boolResult('Liveness', podUid, containerId);
  }

  /** Whether the pod has a worker of this kind for the container. */
  hasWorker(podUid: string, containerName: string, type: ProbeType): boolean {
    return this.workers.has(workerKey(podUid, containerName, type));
  }

  /**
   * Upstream UpdatePodStatus: sets `started` and `ready` of each container status (and of sidecar init
   * containers). A container with a readiness probe that has not answered yet is not ready, and its probe is
   * run at once.
   */
  updatePodStatus(pod: Pod, status: PodStatus): void {
    const uid = pod.metadata?.uid ?? '';
    for (const cs of status.containerStatuses ?? []) {
      const started = this.isStarted(uid, cs);
      cs.started = started;
      cs.ready = started && this.isReady(uid, cs);
    }
    const sidecars = new Set((pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name));
    for (const cs of status.initContainerStatuses ?? []) {
      const started = this.isStarted(uid, cs);
      cs.started = started;
      if (!sidecars.has(cs.name)) {
        // A regular init container is ready once it completed successfully.
        if (cs.state?.terminated?.exitCode === 0) cs.ready = true;
        continue;
      }
      cs.ready = started && this.isReady(uid, cs);
    }
  }

  /** Stops every worker and waits for them to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.workers.values()];
    for (const w of all) w.stop();
    await Promise.all(all.map((w) => w.done));
  }

  // --- used by the workers -------------------------------------------------------------------

  isCurrent(w: ProbeWorker): boolean {
    return this.workers.get(w.key) === w;
  }

  removeWorker(w: ProbeWorker): void {
    if (this.workers.get(w.key) === w) this.workers.delete(w.key);
  }

  removeResult(type: ProbeType, containerId: string): void {
    this.results[type].delete(containerId);
  }

  /**
   * Stores a worker's result; on a change tells the kubelet. Failure callbacks fire only from a real probe
   * (`fromProbe`), never for a container that is already not running.
   */
  setResult(w: ProbeWorker, containerId: string, result: ProbeWorkerResult, fromProbe: boolean): void {
    const cache = this.results[w.type];
    if (cache.get(containerId) === result) return;
    cache.set(containerId, result);
    const uid = w.pod.metadata?.uid ?? '';
    if (w.type !== 'Liveness') this.options.onResultChange?.(uid);
    if (!fromProbe || result !== 'Failure' || w.type === 'Readiness') return;
    const what = w.type === 'Liveness' ? 'liveness' : 'startup';
    const restart = willRestart(w.pod, w.container);
    const failure: ProbeFailure = {
      message: `Container ${w.container.name} failed ${what} probe${restart ? ', will be restarted' : ''}`,
      gracePeriodSeconds: w.spec.terminationGracePeriodSeconds ?? w.pod.spec?.terminationGracePeriodSeconds ?? 30,
    };
    if (w.type === 'Liveness') this.options.onLivenessFailure?.(w.pod, w.container.name, containerId, failure);
    else this.options.onStartupFailure?.(w.pod, w.container.name, containerId, failure);
  }

  // --- internals --------------------------------------------------------------------------------

  /** Stops a worker and forgets it at once, so a re-added pod gets fresh workers even while the old one winds down. */
  private stopWorker(w: ProbeWorker): void {
    w.stop();
    this.removeWorker(w);
    w.clearResult();
  }

  private workersOf(uid: string): ProbeWorker[] {
    return [...this.workers.values()].filter((w) => w.pod.metadata?.uid === uid);
  }

  private boolResult(type: ProbeType, _podUid: string, containerId: string): boolean | undefined {
    // Container ids are unique across pods, so the id alone finds the result.
    const r = this.results[type].get(runtimeContainerId(containerId));
    return r === undefined || r === 'Unknown' ? undefined : r === 'Success';
  }

  /** Upstream isContainerStarted: running, and the startup probe succeeded or there is none. */
  isStarted(uid: string, cs: ContainerStatus): boolean {
    if (!cs.state?.running) return false;
    const r = cs.containerID ? this.results.Startup.get(runtimeContainerId(cs.containerID)) : undefined;
    if (r === 'Success' || r === 'Failure') return r === 'Success';
    // A startup probe that has not answered yet: not started.
    return !this.hasWorker(uid, cs.name, 'Startup');
  }

  private isReady(uid: string, cs: ContainerStatus): boolean {
    if (!cs.state?.running) return false;
    const r = cs.containerID ? this.results.Readiness.get(runtimeContainerId(cs.containerID)) : undefined;
    if (r === 'Success') return true;
    const w = this.workers.get(workerKey(uid, cs.name, 'Readiness'));
    if (!w) return true; // no readiness probe: ready once started
    w.trigger();
    return false;
  }
}
