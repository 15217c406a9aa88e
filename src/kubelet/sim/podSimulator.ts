// Drives the pods bound to simulated nodes through the stages (stage.ts), as a controller: one
// informer of all bound pods (one watch however many nodes; pods of other nodes are cached as bare
// keys), a workqueue of pod keys, and `sync(key)` that picks the matching stage, waits its delay
// (addAfter) and applies its next step. Level-triggered: a restart re-derives everything from the API.
import { createHash } from 'node:crypto';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { isConflict, isNotFound } from '../../client/apiError.js';
import { realClock, type Clock } from '../../client/clock.js';
import { EventRecorder } from '../../client/events.js';
import { SharedInformer } from '../../client/informer.js';
import { rfc3339 } from '../../client/microTime.js';
import type { ResourceClient } from '../../client/resourceClient.js';
import type { RestClient } from '../../client/restClient.js';
import { RateLimitingQueue } from '../../client/workqueue.js';
import { logger } from '../../util/log.js';
import { matchingStages, pickStage, planStageActions, stageDelayMs, type Stage, type StageAction } from './stage.js';
import type { TemplateContext } from './template.js';

const log = logger('simulated-pods');

/** What the pod simulator needs to know about the nodes it plays. */
export interface SimulatedNodeDirectory {
  has(nodeName: string): boolean;
  nodeIP(nodeName: string): string;
  /** A free pod IP of the node for the pod `uid` (the same one on every call until released). */
  allocatePodIP(nodeName: string, uid: string): string;
  /** Records a pod IP found in the API (after a restart). */
  occupyPodIP(nodeName: string, uid: string, ip: string): void;
  releasePodIP(nodeName: string, uid: string): void;
}

export interface PodSimulatorOptions {
  client: RestClient;
  stages: readonly Stage[];
  nodes: SimulatedNodeDirectory;
  /** Parallel syncs (each at most a couple of API writes). Default 32. */
  workers?: number;
  clock?: Clock;
  /** In [0, 1): draws weighted stages and jitter. */
  random?: () => number;
}

export interface PodSimulatorStats {
  /** Pods on simulated nodes in the cache. */
  pods: number;
  /** Stage applications, by stage name. */
  applied: Record<string, number>;
  errors: number;
}

interface Plan {
  uid: string;
  stage: Stage;
  dueAt: number;
}

const ANNOTATION_PREFIX = 'simulated.k8ts.io/';

/**
 * What the simulator keeps of a pod (informer transform): the fields the default stages and their
 * templates read. Custom stages see only these: metadata (name, namespace, uid, resourceVersion,
 * creation/deletionTimestamp, labels, `simulated.k8ts.io/` annotations, ownerReferences kind/name,
 * finalizers), spec (nodeName, hostNetwork, restartPolicy, readinessGates, containers and
 * initContainers name/image/restartPolicy) and status (phase, podIP, startTime, condition types and
 * statuses). Pods of other nodes keep only their identity.
 */
export function simulationView(pod: Pod, mine: (nodeName: string) => boolean): Pod {
  const m = pod.metadata ?? {};
  const nodeName = pod.spec?.nodeName ?? '';
  const identity = { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion };
  if (!mine(nodeName)) return { metadata: identity, spec: { nodeName, containers: [] } };
  const annotations = Object.entries(m.annotations ?? {}).filter(([k]) => k.startsWith(ANNOTATION_PREFIX));
  const s = pod.spec!;
  const view: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...identity,
      ...(m.creationTimestamp ? { creationTimestamp: m.creationTimestamp } : {}),
      ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
      ...(m.labels ? { labels: m.labels } : {}),
      ...(annotations.length ? { annotations: Object.fromEntries(annotations) } : {}),
      ...(m.ownerReferences ? { ownerReferences: m.ownerReferences.map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.name, uid: o.uid })) } : {}),
      ...(m.finalizers ? { finalizers: m.finalizers } : {}),
    },
    spec: {
      nodeName,
      ...(s.hostNetwork ? { hostNetwork: true } : {}),
      ...(s.restartPolicy ? { restartPolicy: s.restartPolicy } : {}),
      ...(s.readinessGates ? { readinessGates: s.readinessGates } : {}),
      containers: s.containers.map((c) => ({ name: c.name, image: c.image })),
      ...(s.initContainers ? { initContainers: s.initContainers.map((c) => ({ name: c.name, image: c.image, ...(c.restartPolicy ? { restartPolicy: c.restartPolicy } : {}) })) } : {}),
    },
    status: {
      ...(pod.status?.phase ? { phase: pod.status.phase } : {}),
      ...(pod.status?.podIP ? { podIP: pod.status.podIP } : {}),
      ...(pod.status?.startTime ? { startTime: pod.status.startTime } : {}),
      ...(pod.status?.conditions ? { conditions: pod.status.conditions.map((c) => ({ type: c.type, status: c.status })) } : {}),
    },
  };
  return view;
}

/** A container's ID in the simulated runtime: stable per pod UID and container name. */
export function simulatedContainerID(podUid: string, containerName: string): string {
  return `k8ts-simulated://${createHash('sha256').update(`${podUid}/${containerName}`).digest('hex')}`;
}

/** The variables stage templates may use for a pod on a simulated node. */
export function podTemplateContext(pod: Readonly<Pod>, nodes: SimulatedNodeDirectory, nowMs: number): TemplateContext {
  const nodeName = pod.spec?.nodeName ?? '';
  const uid = pod.metadata?.uid ?? '';
  return {
    vars: {
      now: () => rfc3339(nowMs),
      nodeName: () => nodeName,
      nodeIP: () => nodes.nodeIP(nodeName),
      // Host-network pods share the node's address, as upstream reports them.
      podIP: () => (pod.spec?.hostNetwork ? nodes.nodeIP(nodeName) : nodes.allocatePodIP(nodeName, uid)),
      containerID: (scope) => simulatedContainerID(uid, String((scope as { name?: unknown })?.name ?? '')),
    },
  };
}

export class PodSimulator {
  readonly informer: SharedInformer<Pod>;
  private readonly queue: RateLimitingQueue<string>;
  private readonly pods: ResourceClient<Pod>;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly plans = new Map<string, Plan>();
  /** The resourceVersion we last acted on, per key: until the pod changes, there is nothing new to do. */
  private readonly actedOn = new Map<string, { uid: string; rv: string }>();
  private readonly mineByKey = new Set<string>();
  private readonly abort = new AbortController();
  private workers: Promise<void>[] = [];
  /** One recorder per node (source.host = node name, as a kubelet's), made when a stage first records an event. */
  private readonly recorders = new Map<string, EventRecorder>();
  readonly stats: PodSimulatorStats = { pods: 0, applied: {}, errors: 0 };

  constructor(private readonly o: PodSimulatorOptions) {
    this.clock = o.clock ?? realClock;
    this.random = o.random ?? Math.random;
    this.pods = o.client.resource<Pod>('', 'v1', 'pods');
    this.queue = new RateLimitingQueue<string>({ clock: this.clock, name: 'simulated-pods' });
    const mine = (n: string) => n !== '' && o.nodes.has(n);
    this.informer = new SharedInformer<Pod>(this.pods, {
      fieldSelector: 'spec.nodeName!=',
      transform: (p) => simulationView(p, mine),
      name: 'simulated-pods',
      clock: this.clock,
    });
    this.informer.addEventHandler({
      onAdd: (p) => this.observe(p),
      onUpdate: (_old, p) => this.observe(p),
      onDelete: (p) => this.forgetPod(p),
    });
  }

  /** Starts the informer and workers; resolves once the cache has synced. */
  async start(): Promise<void> {
    this.informer.start(this.abort.signal);
    const n = this.o.workers ?? 32;
    for (let i = 0; i < n; i++) this.workers.push(this.worker());
    await this.informer.waitForSync(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort.abort(new Error('pod simulator stopped'));
    this.informer.stop();
    await this.queue.shutDownWithDrain();
    await Promise.all(this.workers);
    await Promise.all([...this.recorders.values()].map((r) => r.flush()));
    for (const r of this.recorders.values()) r.shutdown();
  }

  /** Pod keys ready for a worker now. */
  get queueLength(): number {
    return this.queue.len();
  }

  private recorderFor(nodeName: string): EventRecorder {
    let r = this.recorders.get(nodeName);
    if (!r) {
      r = new EventRecorder({ client: this.o.client, component: 'kubelet', host: nodeName, clock: this.clock });
      this.recorders.set(nodeName, r);
    }
    return r;
  }

  private observe(p: Readonly<Pod>): void {
    const nodeName = p.spec?.nodeName ?? '';
    if (!this.o.nodes.has(nodeName)) return;
    const key = `${p.metadata!.namespace}/${p.metadata!.name}`;
    if (!this.mineByKey.has(key)) {
      this.mineByKey.add(key);
      this.stats.pods++;
    }
    const ip = p.status?.podIP;
    if (ip && !p.spec?.hostNetwork) this.o.nodes.occupyPodIP(nodeName, p.metadata!.uid!, ip);
    this.queue.add(key);
  }

  private forgetPod(p: Readonly<Pod>): void {
    const nodeName = p.spec?.nodeName ?? '';
    if (!this.o.nodes.has(nodeName)) return;
    const key = `${p.metadata!.namespace}/${p.metadata!.name}`;
    if (this.mineByKey.delete(key)) this.stats.pods--;
    this.o.nodes.releasePodIP(nodeName, p.metadata!.uid!);
    this.plans.delete(key);
    this.actedOn.delete(key);
  }

  private async worker(): Promise<void> {
    for (;;) {
      // No signal here: stop() shuts the queue down, which wakes every idle worker.
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.sync(key);
        this.queue.forget(key);
      } catch (err) {
        this.stats.errors++;
        if (!this.abort.signal.aborted) {
          log.warn({ pod: key, err: err instanceof Error ? err.message : String(err) }, 'simulated pod sync failed; retrying');
          this.queue.addRateLimited(key);
        }
      } finally {
        this.queue.done(key);
      }
    }
  }

  /** Moves one pod along: plan the matching stage, wait for its delay, then apply its next step. */
  async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/') as [string, string];
    const pod = this.informer.get(ns, name);
    if (!pod || !this.o.nodes.has(pod.spec?.nodeName ?? '')) {
      this.plans.delete(key);
      return;
    }
    const uid = pod.metadata!.uid!;
    const rv = pod.metadata!.resourceVersion ?? '';
    const acted = this.actedOn.get(key);
    if (acted && acted.uid === uid && acted.rv === rv) return;
    const now = this.clock.now();
    const matched = matchingStages(this.o.stages, 'Pod', pod);
    let plan = this.plans.get(key);
    if (plan && (plan.uid !== uid || !matched.includes(plan.stage))) plan = undefined;
    if (!plan) {
      const stage = pickStage(matched, this.random());
      if (!stage) {
        this.plans.delete(key);
        return;
      }
      plan = { uid, stage, dueAt: now + stageDelayMs(stage, pod, now, this.random()) };
      this.plans.set(key, plan);
    }
    if (plan.dueAt > now) {
      this.queue.addAfter(key, plan.dueAt - now);
      return;
    }
    const actions = planStageActions(plan.stage, pod, podTemplateContext(pod, this.o.nodes, now));
    for (const a of actions) await this.apply(pod, a);
    this.plans.delete(key);
    this.actedOn.set(key, { uid, rv });
    this.stats.applied[plan.stage.name] = (this.stats.applied[plan.stage.name] ?? 0) + 1;
  }

  private async apply(pod: Readonly<Pod>, a: StageAction): Promise<void> {
    const ns = pod.metadata!.namespace;
    const name = pod.metadata!.name!;
    if (a.kind === 'event') {
      this.recorderFor(pod.spec!.nodeName!).event(pod, a.type, a.reason, a.message);
      return;
    }
    try {
      if (a.kind === 'patchStatus') {
        await this.pods.patch(ns, name, { metadata: { uid: pod.metadata!.uid }, status: a.status }, { type: 'strategic', subresource: 'status' });
      } else if (a.kind === 'finalizers') {
        await this.pods.patch(ns, name, { metadata: { finalizers: a.finalizers, resourceVersion: pod.metadata!.resourceVersion } }, { type: 'merge' });
      } else {
        await this.pods.delete(ns, name, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata!.uid! } });
      }
    } catch (err) {
      // Gone, or replaced by a new pod of the same name: the informer will tell us what to do next.
      if (isNotFound(err)) return;
      if (isConflict(err) && a.kind === 'delete') return;
      throw err;
    }
  }
}
