// Wires the scheduler to a cluster: shared informers feed the cache and the queue, writes go through
// the one REST client, events through the events.k8s.io recorder; optionally behind leader
// election on the `kube-system/kube-scheduler` Lease. Used by `k8ts scheduler` and `k8ts server`.

import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, PodCondition, ReplicationController, Service } from 'kubernetes-types/core/v1.js';
import type { ReplicaSet, StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { CSINode, StorageClass } from 'kubernetes-types/storage/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import { isNotFound } from '../client/apiError.js';
import { EventsRecorder } from '../client/events.js';
import type { SharedInformer } from '../client/informer.js';
import { SharedInformerFactory } from '../client/informerFactory.js';
import { stripManagedFields } from '../client/informer.js';
import { LeaderElector } from '../client/leaderElection.js';
import type { RestClient } from '../client/restClient.js';
import type { KubeObject } from '../client/resourceClient.js';
import { logger } from '../util/log.js';
import type { SchedulerAPI } from './api.js';
import { SchedulerCache } from './cache.js';
import type { SchedulerConfig } from './config.js';
import { Framework } from './framework/runtime.js';
import type { EventResource, FrameworkHandle } from './framework/types.js';
import { SchedulerMetrics } from './metrics.js';
import { Nominator } from './nominator.js';
import { pluginRegistry } from './plugins/registry.js';
import { Scheduler } from './scheduler.js';

const log = logger('scheduler');

export interface RunningScheduler {
  scheduler: Scheduler | undefined;
  metrics: SchedulerMetrics;
  /** Resolves once informers synced and the loop runs (or never, while waiting for leadership). */
  ready(): boolean;
  stop(): Promise<void>;
}

/** The writes the scheduler makes, through the REST client. */
export function clientSchedulerAPI(client: RestClient, recorder: EventsRecorder): SchedulerAPI {
  const pods = client.resource<Pod>('', 'v1', 'pods');
  const pvcs = client.resource<PersistentVolumeClaim>('', 'v1', 'persistentvolumeclaims');
  const pvs = client.resource<PersistentVolume>('', 'v1', 'persistentvolumes');
  const withKind = (p: Readonly<Pod>): Pod => ({ ...p, apiVersion: 'v1', kind: 'Pod' });
  return {
    async bind(pod, nodeName, signal) {
      await pods.createSubresource(pod.metadata?.namespace, pod.metadata!.name!, 'binding', {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: pod.metadata!.name!, namespace: pod.metadata?.namespace, uid: pod.metadata?.uid },
        target: { apiVersion: 'v1', kind: 'Node', name: nodeName },
      }, { ...(signal ? { signal } : {}) });
    },
    async patchPodStatus(pod, condition, nominatedNodeName) {
      const status: Record<string, unknown> = {};
      if (condition) {
        const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
        const existing = pod.status?.conditions?.find((c) => c.type === condition.type);
        const c: PodCondition = { ...condition, lastProbeTime: null as unknown as string, lastTransitionTime: existing && existing.status === condition.status ? existing.lastTransitionTime! : now };
        status['conditions'] = [c];
      }
      if (nominatedNodeName !== undefined) status['nominatedNodeName'] = nominatedNodeName;
      try {
        await pods.patch(pod.metadata?.namespace, pod.metadata!.name!, { metadata: { uid: pod.metadata?.uid }, status }, { type: 'strategic', subresource: 'status' });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
    async deletePod(pod, signal) {
      try {
        await pods.delete(pod.metadata?.namespace, pod.metadata!.name!, { preconditions: { uid: pod.metadata?.uid }, ...(signal ? { signal } : {}) });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
    async bindVolume(pvName, namespace, claimName) {
      const claim = await pvcs.get(namespace, claimName);
      await pvs.patch(undefined, pvName, { spec: { claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name: claimName, uid: claim.metadata?.uid } } }, { type: 'strategic' });
    },
    async annotateClaim(namespace, name, annotations) {
      await pvcs.patch(namespace, name, { metadata: { annotations } }, { type: 'merge' });
    },
    event(regarding, related, type, reason, action, note) {
      recorder.eventf(withKind(regarding), related ? withKind(related) : undefined, type, reason, action, note);
    },
  };
}

export interface StartSchedulerOptions {
  client: RestClient;
  config: SchedulerConfig;
  /** Overrides config.leaderElection.leaderElect (the CLI flag). */
  leaderElect?: boolean;
  identity?: string;
}

/** Starts the scheduler; it runs until stop(). Throws ConfigError for a bad configuration. */
export async function startScheduler(opts: StartSchedulerOptions): Promise<RunningScheduler> {
  const { client, config } = opts;
  const ac = new AbortController();
  // Every informer and the elector listen on this one signal.
  setMaxListeners(0, ac.signal);
  const metrics = new SchedulerMetrics();
  const identity = opts.identity ?? `${hostname()}_${randomUUID()}`;
  const recorder = new EventsRecorder({ client, reportingController: config.profiles[0]!.schedulerName, reportingInstance: `${config.profiles[0]!.schedulerName}-${hostname()}` });
  const api = clientSchedulerAPI(client, recorder);
  const cache = new SchedulerCache();
  const nominator = new Nominator();
  const factory = new SharedInformerFactory(client, { transform: stripManagedFields });
  const inf = <T extends KubeObject>(group: string, version: string, plural: string, fieldSelector?: string) =>
    factory.informerFor<T>(group, version, plural, fieldSelector ? { fieldSelector } : {});
  const pods = inf<Pod>('', 'v1', 'pods', 'status.phase!=Succeeded,status.phase!=Failed');
  const nodes = inf<Node>('', 'v1', 'nodes');
  const namespaces = inf<Namespace>('', 'v1', 'namespaces');
  const services = inf<Service>('', 'v1', 'services');
  const pvcs = inf<PersistentVolumeClaim>('', 'v1', 'persistentvolumeclaims');
  const pvs = inf<PersistentVolume>('', 'v1', 'persistentvolumes');
  const storageClasses = inf<StorageClass & KubeObject>('storage.k8s.io', 'v1', 'storageclasses');
  const csiNodes = inf<CSINode & KubeObject>('storage.k8s.io', 'v1', 'csinodes');
  const handle: FrameworkHandle = {
    snapshot: () => cache,
    namespaces,
    services,
    replicationControllers: inf<ReplicationController>('', 'v1', 'replicationcontrollers'),
    replicaSets: inf<ReplicaSet>('apps', 'v1', 'replicasets'),
    statefulSets: inf<StatefulSet>('apps', 'v1', 'statefulsets'),
    persistentVolumeClaims: pvcs,
    persistentVolumes: pvs,
    storageClasses,
    csiNodes,
    podDisruptionBudgets: inf<PodDisruptionBudget>('policy', 'v1', 'poddisruptionbudgets'),
  };
  const frameworks: Framework[] = [];
  const registry = pluginRegistry({ api, nominator, framework: (name) => frameworks.find((f) => f.schedulerName === name)! });
  config.profiles.forEach((p, i) => frameworks.push(new Framework(p, registry(p.schedulerName), handle, `profiles[${i}]`)));
  const scheduler = new Scheduler({
    profiles: frameworks,
    api,
    log,
    cache,
    nominator,
    metrics,
    percentageOfNodesToScore: config.percentageOfNodesToScore,
    podInitialBackoffMs: config.podInitialBackoffSeconds * 1000,
    podMaxBackoffMs: config.podMaxBackoffSeconds * 1000,
    currentPod: (ns, name) => pods.get(ns, name),
  });
  nodes.addEventHandler({
    onAdd: (n) => scheduler.onNodeAdd(n),
    onUpdate: (o, n) => scheduler.onNodeUpdate(o, n),
    onDelete: (n) => scheduler.onNodeDelete(n),
  });
  pods.addEventHandler({
    onAdd: (p) => scheduler.onPodAdd(p),
    onUpdate: (o, p) => scheduler.onPodUpdate(o, p),
    onDelete: (p) => scheduler.onPodDelete(p),
  });
  const moveOn = <T extends KubeObject>(i: SharedInformer<T>, resource: EventResource) =>
    i.addEventHandler({
      onAdd: (o, initial) => {
        if (!initial) scheduler.onOtherEvent(resource, 'add', undefined, o);
      },
      onUpdate: (o, n) => {
        if (o !== n) scheduler.onOtherEvent(resource, 'update', o, n);
      },
      onDelete: (o) => scheduler.onOtherEvent(resource, 'delete', o, undefined),
    });
  moveOn(pvcs, 'PersistentVolumeClaim');
  moveOn(pvs, 'PersistentVolume');
  moveOn(storageClasses, 'StorageClass');
  moveOn(csiNodes, 'CSINode');
  moveOn(namespaces, 'Namespace');
  moveOn(services, 'Service');
  let ready = false;
  let loop: Promise<void> | undefined;
  const lead = async (signal: AbortSignal) => {
    factory.start(signal);
    await factory.waitForCacheSync(signal);
    if (signal.aborted) return;
    ready = true;
    log.info({ profiles: frameworks.map((f) => f.schedulerName), nodes: cache.nodeCount }, 'scheduler started');
    loop = scheduler.run(signal);
    await loop;
  };
  const le = config.leaderElection;
  const elect = opts.leaderElect ?? le.leaderElect;
  let elector: LeaderElector | undefined;
  let electing: Promise<void> | undefined;
  if (elect) {
    elector = new LeaderElector({
      client,
      namespace: le.resourceNamespace,
      name: le.resourceName,
      identity,
      leaseDurationMs: le.leaseDurationMs,
      renewDeadlineMs: le.renewDeadlineMs,
      retryPeriodMs: le.retryPeriodMs,
      releaseOnCancel: true,
      callbacks: {
        onStartedLeading: (signal) => lead(signal),
        onStoppedLeading: () => {
          log.warn('leader election lost');
          ready = false;
        },
        onNewLeader: (id) => log.info({ leader: id }, 'new leader elected'),
      },
    });
    electing = elector.run(ac.signal).catch((err: unknown) => log.error({ err }, 'leader election failed'));
  } else {
    loop = lead(ac.signal);
    loop.catch((err: unknown) => log.error({ err }, 'scheduler stopped'));
  }
  return {
    scheduler,
    metrics,
    ready: () => ready,
    async stop() {
      ac.abort();
      await loop?.catch(() => undefined);
      // Let the elector give the lease up, so another candidate takes over at once.
      await electing;
      factory.shutdown();
      // Pending events get a moment to be written, not a say in how long shutdown takes.
      await Promise.race([recorder.flush(), new Promise((r) => setTimeout(r, 2000).unref())]);
      recorder.shutdown();
    },
  };
}
