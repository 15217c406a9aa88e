// Routes between nodes' pod networks, like flannel's host-gw backend: for every other node on a
// directly connected subnet, its podCIDR is routed via its InternalIP, so pods on different nodes
// reach each other by pod IP. Nodes not on a connected subnet are skipped (an overlay is needed
// there; k8ts has none yet). Traffic between pod networks is exempt from the CNI bridge's
// masquerade (as flannel's RETURN rules), so the peer sees the source pod's own address.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Node } from 'kubernetes-types/core/v1.js';
import { SharedInformer } from '../client/informer.js';
import type { RestClient } from '../client/restClient.js';
import { logger } from '../util/log.js';

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

/**
 * iptables nat POSTROUTING rules (arguments after `-t nat -X POSTROUTING`) that keep traffic from this
 * node's pod network to other nodes' pod networks un-NATed. The CNI bridge plugin's ipMasq masquerades
 * everything leaving the node's own subnet; without these, a pod on another node would see this node's
 * address instead of the pod's, and NetworkPolicy peers could not be told apart. Pure.
 */
export function noMasqueradeRules(ownCIDRs: readonly string[], others: readonly RouteWant[]): string[][] {
  const out: string[][] = [];
  for (const own of ownCIDRs) {
    if (own.includes(':')) continue;
    for (const o of others) out.push(['-s', own, '-d', o.cidr, '-m', 'comment', '--comment', 'k8ts: pod to pod between nodes keeps its source', '-j', 'ACCEPT']);
  }
  return out;
}

export class HostGatewayRoutes {
  private readonly informer: SharedInformer<Node>;
  private readonly installed = new Map<string, string>();
  /** iptables rule specs installed (joined args → args). */
  private readonly nomasq = new Map<string, string[]>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: RestClient,
    private readonly nodeName: string,
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

  async sync(): Promise<void> {
    if (this.syncing) return;
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
      await this.syncNoMasquerade(want.filter((r) => this.installed.has(r.cidr)));
    } finally {
      this.syncing = false;
    }
  }

  private async syncNoMasquerade(routed: RouteWant[]): Promise<void> {
    const self = this.informer.get(undefined, this.nodeName);
    const own = self?.spec?.podCIDRs?.length ? self.spec.podCIDRs : self?.spec?.podCIDR ? [self.spec.podCIDR] : [];
    const want = new Map(noMasqueradeRules(own, routed).map((r) => [r.join(' '), r]));
    for (const [key, spec] of want) {
      if (this.nomasq.has(key)) continue;
      try {
        // Inserted first, ahead of the CNI plugin's per-pod masquerade chains.
        await run('iptables', ['-w', '5', '-t', 'nat', '-C', 'POSTROUTING', ...spec]).catch(() => run('iptables', ['-w', '5', '-t', 'nat', '-I', 'POSTROUTING', '1', ...spec]));
        this.nomasq.set(key, spec);
      } catch (err) {
        log.warn({ rule: key, err: (err as Error).message }, 'cannot exempt pod-to-pod traffic from masquerade');
      }
    }
    for (const [key, spec] of this.nomasq) {
      if (want.has(key)) continue;
      await run('iptables', ['-w', '5', '-t', 'nat', '-D', 'POSTROUTING', ...spec]).catch(() => undefined);
      this.nomasq.delete(key);
    }
  }

  /** Removes the routes and rules this node installed. */
  async close(): Promise<void> {
    for (const [cidr, via] of this.installed) await run('ip', ['route', 'del', cidr, 'via', via]).catch(() => undefined);
    this.installed.clear();
    for (const spec of this.nomasq.values()) await run('iptables', ['-w', '5', '-t', 'nat', '-D', 'POSTROUTING', ...spec]).catch(() => undefined);
    this.nomasq.clear();
  }
}
