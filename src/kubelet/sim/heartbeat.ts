// Heartbeats of many simulated nodes from one process: each node renews its Lease every
// renewInterval (upstream's NodeLeaseHeartbeat, 10 s) and posts its status when it changed or every
// nodeStatusReportFrequency (5 min). The nodes are spread over the interval on a timer wheel (one
// timer for all, a slot per tick), so 1,000 nodes mean a steady ~100 small writes per second
// instead of a burst, and a cached Lease is updated in place (no GET per renewal).
import type { Node } from 'kubernetes-types/core/v1.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import { isConflict, isNotFound, isAlreadyExists } from '../../client/apiError.js';
import type { Clock, TimerHandle } from '../../client/clock.js';
import { microTime } from '../../client/microTime.js';
import type { ResourceClient } from '../../client/resourceClient.js';
import type { RestClient } from '../../client/restClient.js';
import { logger } from '../../util/log.js';
import { NODE_LEASE_NAMESPACE, nodeLeaseObject, simulatedNodeStatus, type SimulatedNodeSpec } from './node.js';
import { TaskPool } from './taskPool.js';

const log = logger('simulated-node-heartbeat');

/** The live state of one simulated node. */
export interface SimulatedNodeRecord {
  spec: SimulatedNodeSpec;
  uid: string | undefined;
  /** The podCIDR the API assigned (node IPAM), else the spec's. */
  podCIDR: string | undefined;
  lease: Lease | undefined;
  /** Since when the conditions have had their current status. */
  transitionMs: number;
  lastStatusMs: number;
  /** Post the status at the next chance, not at the report frequency. */
  statusDirty: boolean;
  /** The Node was deleted: its heartbeat stops, as a kubelet's status updates would keep failing. */
  gone: boolean;
  busy: boolean;
  failures: number;
  retryAtMs: number;
}

export interface NodeHeartbeatOptions {
  client: RestClient;
  nodes: readonly SimulatedNodeRecord[];
  leaseDurationSeconds: number;
  renewIntervalMs: number;
  /** upstream nodeStatusReportFrequency: 5 minutes. */
  statusReportIntervalMs: number;
  /** Writes in flight at once. */
  concurrency: number;
  clock: Clock;
}

export interface HeartbeatStats {
  leaseRenewals: number;
  leaseFailures: number;
  statusUpdates: number;
  statusFailures: number;
}

/** Upstream's lease controller retries a failed renewal after 200 ms, doubling to 7 s. */
export function renewRetryDelayMs(failures: number): number {
  return Math.min(7000, 200 * 2 ** Math.max(0, failures - 1));
}

export class NodeHeartbeat {
  readonly stats: HeartbeatStats = { leaseRenewals: 0, leaseFailures: 0, statusUpdates: 0, statusFailures: 0 };
  private readonly pool: TaskPool;
  private readonly slots: number;
  private readonly tickMs: number;
  private tickCount = 0;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private readonly leases: ResourceClient<Lease>;
  private readonly nodeClient: ResourceClient<Node>;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly o: NodeHeartbeatOptions) {
    this.pool = new TaskPool(o.concurrency);
    // About one tick per 20 ms at most, never more slots than nodes.
    this.slots = Math.max(1, Math.min(o.nodes.length, Math.floor(o.renewIntervalMs / 20)));
    this.tickMs = o.renewIntervalMs / this.slots;
    this.leases = o.client.resource<Lease>('coordination.k8s.io', 'v1', 'leases');
    this.nodeClient = o.client.resource<Node>('', 'v1', 'nodes');
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.schedule();
  }

  /** Stops the wheel and waits for writes in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Asks for a status post of `node` at the next tick (its conditions changed, or the API's copy drifted). */
  markDirty(node: SimulatedNodeRecord): void {
    node.statusDirty = true;
    node.retryAtMs = Math.min(node.retryAtMs || Infinity, this.o.clock.now());
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimer(() => {
      this.tick();
      this.schedule();
    }, this.tickMs);
  }

  /** One tick: the nodes of this slot are due, plus any node waiting for a retry or a prompt status post. */
  tick(): void {
    const slot = this.tickCount++ % this.slots;
    const now = this.o.clock.now();
    const nodes = this.o.nodes;
    for (let i = slot; i < nodes.length; i += this.slots) this.beat(nodes[i]!, now);
    for (const n of nodes) if (n.retryAtMs > 0 && n.retryAtMs <= now) this.beat(n, now);
  }

  private beat(node: SimulatedNodeRecord, now: number): void {
    if (node.busy || node.gone || this.stopped) return;
    if (node.failures > 0 && node.retryAtMs > now) return;
    node.busy = true;
    node.retryAtMs = 0;
    const p = this.pool
      .run(() => this.heartbeat(node))
      .then(
        () => {
          node.failures = 0;
        },
        (err: unknown) => {
          node.failures++;
          node.retryAtMs = this.o.clock.now() + renewRetryDelayMs(node.failures);
          log.warn({ node: node.spec.name, err: errText(err), failures: node.failures }, 'node heartbeat failed; will retry');
        },
      )
      .finally(() => {
        node.busy = false;
        this.inFlight.delete(p);
      });
    this.inFlight.add(p);
  }

  /** Renews the node's lease and posts its status when due. Throws on failure (the caller backs off). */
  async heartbeat(node: SimulatedNodeRecord): Promise<void> {
    await this.renewLease(node);
    const now = this.o.clock.now();
    if (node.statusDirty || now - node.lastStatusMs >= this.o.statusReportIntervalMs) await this.postStatus(node);
  }

  async renewLease(node: SimulatedNodeRecord): Promise<void> {
    const name = node.spec.name;
    try {
      node.lease = await this.writeLease(node);
      this.stats.leaseRenewals++;
    } catch (err) {
      this.stats.leaseFailures++;
      // Someone else wrote it (or our copy is stale): read it and try once more, as upstream does.
      if (isConflict(err)) {
        node.lease = await this.leases.get(NODE_LEASE_NAMESPACE, name);
        node.lease = await this.writeLease(node);
        this.stats.leaseRenewals++;
        return;
      }
      if (isNotFound(err)) node.lease = undefined;
      throw err;
    }
  }

  private async writeLease(node: SimulatedNodeRecord): Promise<Lease> {
    const now = this.o.clock.now();
    const name = node.spec.name;
    if (!node.lease) {
      try {
        return await this.leases.create(nodeLeaseObject(name, node.uid, this.o.leaseDurationSeconds, now), { namespace: NODE_LEASE_NAMESPACE });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        node.lease = await this.leases.get(NODE_LEASE_NAMESPACE, name);
      }
    }
    const cur = node.lease!;
    const owned = cur.metadata?.ownerReferences?.length ? {} : node.uid ? { ownerReferences: nodeLeaseObject(name, node.uid, 0, now).metadata!.ownerReferences! } : {};
    const next: Lease = {
      ...cur,
      metadata: { ...cur.metadata, ...owned },
      spec: { ...cur.spec, holderIdentity: name, leaseDurationSeconds: this.o.leaseDurationSeconds, renewTime: microTime(now) },
    };
    return this.leases.update(next);
  }

  async postStatus(node: SimulatedNodeRecord): Promise<void> {
    const now = this.o.clock.now();
    try {
      await this.nodeClient.patch(undefined, node.spec.name, { status: simulatedNodeStatus(node.spec, now, node.transitionMs) }, { type: 'strategic', subresource: 'status' });
      this.stats.statusUpdates++;
      node.lastStatusMs = now;
      node.statusDirty = false;
    } catch (err) {
      this.stats.statusFailures++;
      if (isNotFound(err)) {
        node.gone = true;
        log.warn({ node: node.spec.name }, 'node was deleted from the API; its simulated kubelet stops heartbeating');
        return;
      }
      throw err;
    }
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
