// Heartbeats of many simulated nodes from one process: each node renews its Lease every
// renewInterval (upstream's NodeLeaseHeartbeat, 10 s) and posts its status when it changed or every
// nodeStatusReportFrequency (5 min). The nodes' renewals are spread evenly over the interval and
// driven by one timer for all of them (each tick starts the renewals that are due), so 1,000 nodes
// mean a steady ~100 small writes per second instead of a burst, and a cached Lease is updated in
// place (no GET per renewal).
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
  /** When the next renewal is due (0 = not scheduled yet: the wheel assigns its place on start). */
  nextRenewAtMs: number;
  /** After a failure: when to try again. */
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
  private readonly tickMs: number;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private readonly leases: ResourceClient<Lease>;
  private readonly nodeClient: ResourceClient<Node>;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly o: NodeHeartbeatOptions) {
    this.pool = new TaskPool(o.concurrency);
    // Fine enough to keep the spread even and retries close to their back-off, coarse enough to be free.
    this.tickMs = Math.min(50, Math.max(10, o.renewIntervalMs / Math.max(1, o.nodes.length)));
    this.leases = o.client.resource<Lease>('coordination.k8s.io', 'v1', 'leases');
    this.nodeClient = o.client.resource<Node>('', 'v1', 'nodes');
  }

  /** Places each node at its own offset in the interval and starts the timer. */
  start(): void {
    if (this.timer || this.stopped) return;
    const now = this.o.clock.now();
    const n = this.o.nodes.length;
    this.o.nodes.forEach((node, i) => {
      if (!node.nextRenewAtMs) node.nextRenewAtMs = now + Math.floor((i * this.o.renewIntervalMs) / n);
    });
    this.schedule();
  }

  /** Stops the timer and waits for writes in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Asks for a status post of `node` at the next tick (its conditions changed, or the API's copy drifted). */
  markDirty(node: SimulatedNodeRecord): void {
    node.statusDirty = true;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimer(() => {
      this.tick();
      this.schedule();
    }, this.tickMs);
  }

  /** One tick: starts the heartbeat of every node whose renewal, retry or prompt status post is due. */
  tick(): void {
    const now = this.o.clock.now();
    for (const node of this.o.nodes) {
      if (node.busy || node.gone || this.stopped) continue;
      const due = node.failures > 0 ? node.retryAtMs <= now : node.nextRenewAtMs <= now || node.statusDirty;
      if (due) this.beat(node, now);
    }
  }

  private beat(node: SimulatedNodeRecord, now: number): void {
    node.busy = true;
    if (node.nextRenewAtMs <= now) {
      node.nextRenewAtMs += this.o.renewIntervalMs;
      // Never catch up with a burst after a stall: the next renewal is a full interval away.
      if (node.nextRenewAtMs <= now) node.nextRenewAtMs = now + this.o.renewIntervalMs;
    }
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
