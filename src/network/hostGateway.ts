// Routes between nodes' pod networks, like flannel's host-gw backend: for every other node on a
// directly connected subnet, its podCIDR is routed via its InternalIP, so pods on different nodes
// reach each other by pod IP. Nodes not on a connected subnet are skipped (an overlay is needed
// there; k8ts has none yet). It also tells the node's pod masquerade (podMasquerade.ts) its own and
// the other nodes' pod networks, so traffic between pod networks keeps the source pod's address.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Node } from 'kubernetes-types/core/v1.js';
import { SharedInformer } from '../client/informer.js';
import type { RestClient } from '../client/restClient.js';
import { logger } from '../util/log.js';
import type { PodMasquerade } from './podMasquerade.js';

const run = promisify(execFile);
const log = logger('host-gw');

export interface RouteWant {
  cidr: string;
  via: string;
}

/** The routes this node wants: other nodes' podCIDRs via their InternalIPs. Pure. */
export function desiredRoutes(nodes: readonly Readonly<Node>[], self: string): RouteWant[] {
  const out: RouteWant[] = [];
  for (const n of nodes) {
    if (n.metadata?.name === self) continue;
    const ip = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    const cidrs = n.spec?.podCIDRs?.length ? n.spec.podCIDRs : n.spec?.podCIDR ? [n.spec.podCIDR] : [];
    if (!ip || ip.includes(':')) continue;
    for (const cidr of cidrs) if (!cidr.includes(':')) out.push({ cidr, via: ip });
  }
  return out.sort((a, b) => a.cidr.localeCompare(b.cidr));
}

/** A node's podCIDRs (spec.podCIDRs, else spec.podCIDR). Pure. */
export function nodePodCIDRs(n: Readonly<Node> | undefined): string[] {
  return n?.spec?.podCIDRs?.length ? [...n.spec.podCIDRs] : n?.spec?.podCIDR ? [n.spec.podCIDR] : [];
}

/**
 * Other nodes' podCIDRs, both families: traffic from this node's pods to them keeps its source
 * (flannel RETURNs its whole cluster CIDR the same way), whether a host-gw route or an outside
 * router carries it, so NetworkPolicy on the peer can tell pods apart. Pure.
 */
export function peerPodCIDRs(nodes: readonly Readonly<Node>[], self: string): string[] {
  const out = new Set<string>();
  for (const n of nodes) if (n.metadata?.name !== self) for (const c of nodePodCIDRs(n)) out.add(c);
  return [...out].sort();
}

export class HostGatewayRoutes {
  private readonly informer: SharedInformer<Node>;
  private readonly installed = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: RestClient,
    private readonly nodeName: string,
    /** The node's pod masquerade, told about pod networks as nodes come and go. */
    private readonly masquerade?: PodMasquerade,
  ) {
    this.informer = new SharedInformer<Node>(client.resource<Node>('', 'v1', 'nodes'), { name: 'host-gw-nodes' });
    const kick = () => void this.sync();
    this.informer.addEventHandler({ onAdd: kick, onUpdate: kick, onDelete: kick });
  }

  start(signal: AbortSignal): void {
    this.informer.start(signal);
    this.timer = setInterval(() => void this.sync(), 30_000);
    this.timer.unref();
    signal.addEventListener('abort', () => clearInterval(this.timer), { once: true });
  }

  private syncing = false;
  /** A change arrived during a sync: run once more after it, so a node added meanwhile is not left for the timer. */
  private again = false;

  async sync(): Promise<void> {
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = true;
    try {
      const want = desiredRoutes(this.informer.list() as Node[], this.nodeName);
      const wanted = new Set(want.map((r) => r.cidr));
      for (const r of want) {
        if (this.installed.get(r.cidr) === r.via) continue;
        try {
          // `onlink` is not used: the gateway must be on a connected subnet, or the route is refused.
          await run('ip', ['route', 'replace', r.cidr, 'via', r.via]);
          this.installed.set(r.cidr, r.via);
          log.info({ cidr: r.cidr, via: r.via }, 'routed a node pod network');
        } catch (err) {
          log.debug({ cidr: r.cidr, via: r.via, err: (err as Error).message }, 'cannot route to this node directly');
        }
      }
      for (const [cidr, via] of this.installed) {
        if (wanted.has(cidr)) continue;
        await run('ip', ['route', 'del', cidr, 'via', via]).catch(() => undefined);
        this.installed.delete(cidr);
      }
      await this.syncMasquerade();
    } finally {
      this.syncing = false;
    }
    if (this.again) {
      this.again = false;
      await this.sync();
    }
  }

  private async syncMasquerade(): Promise<void> {
    if (!this.masquerade) return;
    const nodes = this.informer.list() as Node[];
    const own = nodePodCIDRs(nodes.find((n) => n.metadata?.name === this.nodeName));
    try {
      await this.masquerade.update({ own, peers: peerPodCIDRs(nodes, this.nodeName) });
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'cannot update the pod masquerade rules');
    }
  }

  /** Removes the routes this node installed (the masquerade rules stay: pods outlive the agent). */
  async close(): Promise<void> {
    for (const [cidr, via] of this.installed) await run('ip', ['route', 'del', cidr, 'via', via]).catch(() => undefined);
    this.installed.clear();
  }
}
