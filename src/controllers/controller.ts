// What every controller is (architecture rule 2): informers whose handlers only enqueue keys, a
// rate-limited queue of `namespace/name` keys, and one `sync(key, signal)` that reads listers,
// writes through the client, and throws to be retried with back-off.

import type { EventRecorder } from '../client/events.js';
import type { SharedInformerFactory } from '../client/informerFactory.js';
import type { RestClient } from '../client/restClient.js';
import { RateLimitingQueue } from '../client/workqueue.js';
import type { Logger } from '../util/log.js';
import type { CertificateAuthority } from '../pki/ca.js';

/** What the controller manager hands every controller. */
export interface ControllerContext {
  client: RestClient;
  informers: SharedInformerFactory;
  /** A core/v1 event recorder for `component` (e.g. `replicaset-controller`). */
  recorder(component: string): EventRecorder;
  log: Logger;
  options: ControllerManagerOptions;
}

export interface ControllerManagerOptions {
  /** The node this controller manager shares a host with (local-path volumes of it are deleted here). */
  localNodeName?: string;
  /** Default directory of local-path volumes on nodes that do not name their own. */
  localPathStorageRoot?: string;
  concurrentDeploymentSyncs: number;
  concurrentReplicaSetSyncs: number;
  concurrentJobSyncs: number;
  concurrentEndpointSyncs: number;
  concurrentServiceEndpointSyncs: number;
  concurrentGCSyncs: number;
  concurrentNamespaceSyncs: number;
  concurrentStatefulSetSyncs: number;
  concurrentDaemonSetSyncs: number;
  concurrentCronJobSyncs: number;
  nodeMonitorGracePeriodMs: number;
  nodeMonitorPeriodMs: number;
  /** How long a new node may take to post its first status (upstream --node-startup-grace-period). */
  nodeStartupGracePeriodMs: number;
  /** Endpoints per EndpointSlice (upstream --max-endpoints-per-slice). */
  maxEndpointsPerSlice: number;
  /** Eviction of pods from unreachable nodes per second (upstream --node-eviction-rate). */
  nodeEvictionRate: number;
  secondaryNodeEvictionRate: number;
  largeClusterSizeThreshold: number;
  unhealthyZoneThreshold: number;
  clusterCIDR: string;
  nodeCIDRMaskSize: number;
  allocateNodeCIDRs: boolean;
  terminatedPodGCThreshold: number;
  /** The cluster's root CA (PEM), published as kube-root-ca.crt in every namespace. */
  rootCAPem?: string | undefined;
  /** The CA csrsigning signs with (upstream --cluster-signing-cert-file/--cluster-signing-key-file); absent = no signing. */
  signingCA?: CertificateAuthority | undefined;
  /** Longest certificate csrsigning issues, ms (upstream --cluster-signing-duration, default 1 year). */
  clusterSigningDurationMs: number;
  /**
   * ServiceLB's address pool (`--servicelb-pool`: IPs, CIDRs, FIRST-LAST ranges); absent or empty =
   * the addresses of the nodes, as k3s's ServiceLB.
   */
  serviceLBPool?: readonly string[] | undefined;
}

export const DEFAULT_OPTIONS: ControllerManagerOptions = {
  concurrentDeploymentSyncs: 5,
  concurrentReplicaSetSyncs: 5,
  concurrentJobSyncs: 5,
  concurrentEndpointSyncs: 5,
  concurrentServiceEndpointSyncs: 5,
  concurrentGCSyncs: 20,
  concurrentNamespaceSyncs: 10,
  concurrentStatefulSetSyncs: 5,
  concurrentDaemonSetSyncs: 2,
  concurrentCronJobSyncs: 5,
  nodeMonitorGracePeriodMs: 40_000,
  nodeMonitorPeriodMs: 5_000,
  nodeStartupGracePeriodMs: 60_000,
  maxEndpointsPerSlice: 100,
  nodeEvictionRate: 0.1,
  secondaryNodeEvictionRate: 0.01,
  largeClusterSizeThreshold: 50,
  unhealthyZoneThreshold: 0.55,
  clusterCIDR: '10.244.0.0/16',
  nodeCIDRMaskSize: 24,
  allocateNodeCIDRs: true,
  terminatedPodGCThreshold: 12500,
  clusterSigningDurationMs: 365 * 24 * 3600 * 1000,
};

/** A running controller: its name (as in `--controllers`) and its loop. */
export interface Controller {
  readonly name: string;
  /** Waits for its informers, then runs `workers` sync loops until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
}

export interface QueueWorkerOptions {
  name: string;
  queue: RateLimitingQueue<string>;
  sync(key: string, signal: AbortSignal): Promise<void>;
  workers: number;
  /** Informer sync checks to wait for before the first sync. */
  synced: ReadonlyArray<() => boolean>;
  log: Logger;
  /** After this many failed syncs of one key it is dropped (logged) until its next event; 0 = never. */
  maxRetries?: number;
}

/** The standard loop: wait for caches, then `workers` loops of get → sync → done/forget/requeue. */
export async function runQueueWorkers(o: QueueWorkerOptions, signal: AbortSignal): Promise<void> {
  while (!o.synced.every((s) => s())) {
    if (signal.aborted) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  const onAbort = () => o.queue.shutDown();
  signal.addEventListener('abort', onAbort, { once: true });
  const worker = async () => {
    for (;;) {
      const key = await o.queue.get();
      if (key === undefined) return;
      try {
        await o.sync(key, signal);
        o.queue.forget(key);
      } catch (err) {
        if (signal.aborted) {
          o.queue.done(key);
          continue;
        }
        const retries = o.queue.numRequeues(key);
        if (o.maxRetries && retries >= o.maxRetries) {
          o.log.warn({ err, key, retries }, 'dropping key out of the queue after repeated failures');
          o.queue.forget(key);
        } else {
          o.log.info({ err: errorText(err), key }, 'sync failed; retrying with back-off');
          o.queue.addRateLimited(key);
        }
      } finally {
        o.queue.done(key);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, o.workers) }, worker));
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `namespace/name` (or `name`) of an object: the only thing handlers put in queues. */
export function keyOf(obj: { metadata?: { namespace?: string | undefined; name?: string | undefined } | undefined }): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name ?? ''}` : (obj.metadata?.name ?? '');
}

export function splitKey(key: string): [namespace: string | undefined, name: string] {
  const i = key.indexOf('/');
  return i < 0 ? [undefined, key] : [key.slice(0, i), key.slice(i + 1)];
}

export function newQueue(name: string): RateLimitingQueue<string> {
  return new RateLimitingQueue<string>({ name });
}
