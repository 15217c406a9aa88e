// Simulated nodes (like kwok): one process registers N nodes, keeps their Leases and status fresh,
// and drives the pods bound to them through declarative stages, with no containers at all. Used by
// `k8ts agent --simulated --nodes N` and by scale tests and benchmarks.
import { setMaxListeners } from 'node:events';
import type { Node, Taint } from 'kubernetes-types/core/v1.js';
import { isAlreadyExists } from '../../client/apiError.js';
import { realClock, sleep, type Clock } from '../../client/clock.js';
import { SharedInformer } from '../../client/informer.js';
import type { RestClient } from '../../client/restClient.js';
import { logger } from '../../util/log.js';
import { NodeHeartbeat, type HeartbeatStats, type SimulatedNodeRecord } from './heartbeat.js';
import { DEFAULT_CAPACITY, LABEL_SIMULATED, nthAddress, nthSubnet, simulatedNodeObject, type SimulatedNodeSpec } from './node.js';
import { PodIPAllocator } from './podIPs.js';
import { PodSimulator, type PodSimulatorStats, type SimulatedNodeDirectory } from './podSimulator.js';
import { DEFAULT_POD_STAGES } from './podStages.js';
import type { Stage } from './stage.js';
import { TaskPool } from './taskPool.js';

const log = logger('simulated-nodes');

export interface SimulatedNodesOptions {
  client: RestClient;
  /** How many nodes (named `<namePrefix><i>`), or their names. */
  nodes: number | readonly string[];
  /** Default `k8ts-sim-`. */
  namePrefix?: string;
  /** Default 32 cpu, 256Gi memory, 110 pods, 100Gi ephemeral-storage. */
  capacity?: Readonly<Record<string, string>>;
  /** Default = capacity. */
  allocatable?: Readonly<Record<string, string>>;
  /** Added to the standard labels (hostname, os, arch, node.k8ts.io/simulated=true). */
  labels?: Readonly<Record<string, string>>;
  taints?: readonly Taint[];
  /** Pod stages; default DEFAULT_POD_STAGES (ready, complete on request, delete). */
  stages?: readonly Stage[];
  /** Default 40 s, as the kubelet's nodeLeaseDurationSeconds. */
  leaseDurationSeconds?: number;
  /** Default 10 s (upstream: a quarter of the lease duration). */
  renewIntervalMs?: number;
  /** Default 5 minutes (nodeStatusReportFrequency). */
  statusReportIntervalMs?: number;
  /**
   * The nodes' podCIDRs, by index, written to spec.podCIDR at registration. Without them a node uses
   * the podCIDR the node IPAM controller assigns, else the i-th /24 of `fallbackPodCIDR`.
   */
  podCIDRs?: readonly string[];
  /** Default 10.128.0.0/9 (room for 32,768 /24 node ranges). */
  fallbackPodCIDR?: string;
  /** InternalIPs are taken in order from this range (default 10.250.0.0/16: 10.250.0.1, …). */
  nodeIPRange?: string;
  /** The kubelet port the nodes advertise (default 10250; nothing listens). */
  kubeletPort?: number;
  /** Writes in flight at once for registration and heartbeats (default 16) and pod syncs (default 32). */
  heartbeatConcurrency?: number;
  podWorkers?: number;
  clock?: Clock;
  random?: () => number;
}

export interface SimulatedNodesStats extends HeartbeatStats {
  nodes: number;
  pods: PodSimulatorStats;
  /** The pod informer's lists and watches: more than one of each means its watch was cut and resumed. */
  podWatch: { lists: number; watches: number; relistsAfterGone: number };
  /** Pod keys waiting for a worker (not counting those waiting out a stage delay). */
  podQueue: number;
}

export interface SimulatedNodes {
  readonly nodeNames: readonly string[];
  stats(): SimulatedNodesStats;
  /** Stops heartbeats and pod syncs. The nodes stay registered; they go NotReady once their leases expire. */
  stop(): Promise<void>;
}

/** The specs of the nodes to simulate, from the options (pure). */
export function simulatedNodeSpecs(o: Omit<SimulatedNodesOptions, 'client'>): SimulatedNodeSpec[] {
  const names = typeof o.nodes === 'number' ? Array.from({ length: o.nodes }, (_, i) => `${o.namePrefix ?? 'k8ts-sim-'}${i}`) : [...o.nodes];
  if (new Set(names).size !== names.length) throw new RangeError('simulated node names must be unique');
  const capacity = o.capacity ?? DEFAULT_CAPACITY;
  return names.map((name, i) => {
    const podCIDR = o.podCIDRs?.[i];
    return {
      name,
      labels: o.labels ?? {},
      taints: o.taints ?? [],
      capacity,
      allocatable: o.allocatable ?? capacity,
      nodeIP: nthAddress(o.nodeIPRange ?? '10.250.0.0/16', i),
      ...(podCIDR ? { podCIDR } : {}),
      kubeletPort: o.kubeletPort ?? 10250,
    };
  });
}

/** Registers the nodes, starts their heartbeats and the pod simulator; resolves once all are running. */
export async function startSimulatedNodes(o: SimulatedNodesOptions, outerSignal?: AbortSignal): Promise<SimulatedNodes> {
  const clock = o.clock ?? realClock;
  // One signal for everything the simulator runs; many concurrent registrations listen on it.
  const lifetime = new AbortController();
  setMaxListeners(0, lifetime.signal);
  const onOuterAbort = () => lifetime.abort(outerSignal!.reason);
  if (outerSignal?.aborted) onOuterAbort();
  outerSignal?.addEventListener('abort', onOuterAbort, { once: true });
  const signal = lifetime.signal;
  const specs = simulatedNodeSpecs(o);
  const fallback = o.fallbackPodCIDR ?? '10.128.0.0/9';
  const records = new Map<string, SimulatedNodeRecord>();
  const allocators = new Map<string, PodIPAllocator>();
  const now = clock.now();
  specs.forEach((spec) => {
    records.set(spec.name, { spec, uid: undefined, podCIDR: spec.podCIDR, lease: undefined, transitionMs: now, lastStatusMs: now, statusDirty: false, gone: false, busy: false, failures: 0, nextRenewAtMs: 0, retryAtMs: 0 });
  });
  const indexOf = new Map(specs.map((s, i) => [s.name, i]));

  const allocatorFor = (nodeName: string): PodIPAllocator => {
    let a = allocators.get(nodeName);
    if (!a) {
      const rec = records.get(nodeName)!;
      a = new PodIPAllocator(rec.podCIDR ?? nthSubnet(fallback, 24, indexOf.get(nodeName)!));
      allocators.set(nodeName, a);
    }
    return a;
  };
  const directory: SimulatedNodeDirectory = {
    has: (n) => records.has(n),
    nodeIP: (n) => records.get(n)!.spec.nodeIP,
    allocatePodIP: (n, uid) => allocatorFor(n).allocate(uid),
    occupyPodIP: (n, uid, ip) => void allocatorFor(n).occupy(uid, ip),
    releasePodIP: (n, uid) => allocators.get(n)?.release(uid),
  };

  const heartbeat = new NodeHeartbeat({
    client: o.client,
    nodes: [...records.values()],
    leaseDurationSeconds: o.leaseDurationSeconds ?? 40,
    renewIntervalMs: o.renewIntervalMs ?? 10_000,
    statusReportIntervalMs: o.statusReportIntervalMs ?? 5 * 60_000,
    concurrency: o.heartbeatConcurrency ?? 16,
    clock,
  });

  // Our nodes as the API has them: their UIDs, the podCIDRs node IPAM assigns, and conditions
  // someone else changed (the node lifecycle controller marking them Unknown) to be corrected.
  const nodeInformer = new SharedInformer<Node>(o.client.resource<Node>('', 'v1', 'nodes'), {
    labelSelector: `${LABEL_SIMULATED}=true`,
    name: 'simulated-nodes',
    clock,
    transform: (n) => ({ metadata: { name: n.metadata?.name, uid: n.metadata?.uid, resourceVersion: n.metadata?.resourceVersion }, spec: { ...(n.spec?.podCIDR ? { podCIDR: n.spec.podCIDR } : {}) }, status: { conditions: (n.status?.conditions ?? []).map((c) => ({ type: c.type, status: c.status })) } }),
  });
  const observeNode = (n: Readonly<Node>) => {
    const rec = records.get(n.metadata?.name ?? '');
    if (!rec) return;
    rec.uid = n.metadata?.uid ?? rec.uid;
    if (n.spec?.podCIDR && !rec.podCIDR) rec.podCIDR = n.spec.podCIDR;
    const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
    if (rec.uid && ready && ready.status !== 'True') {
      rec.transitionMs = clock.now();
      heartbeat.markDirty(rec);
    }
  };
  nodeInformer.addEventHandler({ onAdd: observeNode, onUpdate: (_o, n) => observeNode(n) });

  const pods = new PodSimulator({ client: o.client, stages: o.stages ?? DEFAULT_POD_STAGES, nodes: directory, workers: o.podWorkers ?? 32, clock, ...(o.random ? { random: o.random } : {}) });

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      outerSignal?.removeEventListener('abort', onOuterAbort);
      lifetime.abort(new Error('simulated nodes stopped'));
      nodeInformer.stop();
      await heartbeat.stop();
      await pods.stop();
    })());

  try {
    const pool = new TaskPool(o.heartbeatConcurrency ?? 16);
    const started = clock.now();
    await Promise.all([...records.values()].map((rec) => pool.run(() => register(o.client, rec, heartbeat, clock, signal))));
    log.info({ nodes: records.size, ms: clock.now() - started }, 'simulated nodes registered');
    nodeInformer.start(signal);
    heartbeat.start();
    // Pod IPs come from the podCIDRs node IPAM assigned, so know them before the first pod.
    await nodeInformer.waitForSync(signal);
    await pods.start();
    signal.throwIfAborted();
  } catch (err) {
    await stop();
    throw err;
  }
  signal.addEventListener('abort', () => void stop(), { once: true });
  return {
    nodeNames: specs.map((s) => s.name),
    stats: () => ({ nodes: records.size, ...heartbeat.stats, pods: { ...pods.stats, applied: { ...pods.stats.applied } }, podWatch: { ...pods.informer.stats }, podQueue: pods.queueLength }),
    stop,
  };
}

/** Creates the Node (or takes over an existing one, as a restarted kubelet does) and its Lease; retries until it works. */
async function register(client: RestClient, rec: SimulatedNodeRecord, heartbeat: NodeHeartbeat, clock: Clock, signal?: AbortSignal): Promise<void> {
  const nodes = client.resource<Node>('', 'v1', 'nodes');
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    try {
      const now = clock.now();
      let node: Node;
      try {
        node = await nodes.create(simulatedNodeObject(rec.spec, now), signal ? { signal } : {});
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        const want = simulatedNodeObject(rec.spec, now);
        node = await nodes.patch(undefined, rec.spec.name, { metadata: { labels: want.metadata!.labels } }, { type: 'merge' });
        rec.statusDirty = true;
      }
      rec.uid = node.metadata?.uid;
      if (node.spec?.podCIDR && !rec.podCIDR) rec.podCIDR = node.spec.podCIDR;
      await heartbeat.heartbeat(rec);
      return;
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const delay = Math.min(7000, 100 * 2 ** attempt);
      log.warn({ node: rec.spec.name, err: err instanceof Error ? err.message : String(err), retryInMs: delay }, 'simulated node registration failed');
      await sleep(delay, signal, clock);
    }
  }
}
