// ServiceLB: k8ts's built-in load balancer, like k3s's, as a cloud LoadBalancer. It hands each
// LoadBalancer Service addresses — its nodes' by default, or from `--servicelb-pool` — and needs no
// svclb pods: every node's kube-proxy programs status.loadBalancer.ingress IPs (ipMode VIP) as a
// cloud load balancer's, so traffic to an ingress IP on a Service port reaches its endpoints.

import type { LoadBalancerStatus, Node, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { defaultLoadBalancerName, LoadBalancerUnavailableError, type LoadBalancer, type LoadBalancerState } from '../cloud.js';
import { holderOf, ingressFor, nodesForService, nodesWithReadyEndpoints, planFromNodes, planFromPool, statusIPs, wantsLoadBalancer, type Holder } from './plan.js';
import type { AddressPool } from './pool.js';

/** What ServiceLB reads: the caches of the controller that drives it. */
export interface ServiceLBSources {
  services(): readonly Readonly<Service>[];
  nodes(): readonly Readonly<Node>[];
  /** The EndpointSlices of one Service. */
  endpointSlices(namespace: string, service: string): readonly Readonly<EndpointSlice>[];
}

interface Decision {
  uid: string;
  /** The Service's resourceVersion the decision was made on. */
  resourceVersion: string;
  ips: readonly string[];
}

const keyOf = (svc: Readonly<Service>) => `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;

/** True when `a` is not newer than `b` (k8ts resourceVersions are revisions; other strings only compare equal). */
function notNewer(a: string | undefined, b: string): boolean {
  if (a === b) return true;
  return !!a && /^\d+$/.test(a) && /^\d+$/.test(b) && BigInt(a) <= BigInt(b);
}

export class ServiceLB implements LoadBalancer {
  /**
   * Decisions not yet visible in the cache: after ensureLoadBalancer, the Service's status is
   * written a moment later, and until the cache shows a newer version the decision is what the
   * Service holds. Without it, a Service synced in between could take the same address.
   */
  private readonly decisions = new Map<string, Decision>();

  constructor(
    private readonly sources: ServiceLBSources,
    /** Explicit addresses; absent = the nodes' addresses (k3s's behaviour). */
    readonly pool?: AddressPool,
  ) {}

  getLoadBalancerName(_clusterName: string, service: Readonly<Service>): string {
    return defaultLoadBalancerName(service);
  }

  async getLoadBalancer(_clusterName: string, service: Readonly<Service>): Promise<LoadBalancerState> {
    const ips = this.heldBy(service);
    return { exists: ips.length > 0, status: ingressFor(ips) };
  }

  async ensureLoadBalancer(_clusterName: string, service: Readonly<Service>, nodes: readonly Readonly<Node>[]): Promise<LoadBalancerStatus> {
    const self = holderOf(service, this.heldBy(service));
    const others = this.holders(keyOf(service));
    let ips: string[];
    try {
      ips = this.pool ? planFromPool({ service, self, others, pool: this.pool }) : planFromNodes({ service, self, others, ...this.servingNodes(service, nodes) });
    } catch (err) {
      // It holds nothing now; the controller clears its status.
      if (err instanceof LoadBalancerUnavailableError) this.decide(service, []);
      throw err;
    }
    this.decide(service, ips);
    return ingressFor(ips);
  }

  async ensureLoadBalancerDeleted(_clusterName: string, service: Readonly<Service>): Promise<void> {
    // Nothing outside the API to tear down: kube-proxy drops the rules with the status.
    this.decisions.delete(keyOf(service));
  }

  private decide(service: Readonly<Service>, ips: readonly string[]): void {
    this.decisions.set(keyOf(service), { uid: service.metadata?.uid ?? '', resourceVersion: service.metadata?.resourceVersion ?? '', ips });
  }

  /** What a Service holds: a decision the cache has not caught up with, else its status. */
  private heldBy(service: Readonly<Service>): string[] {
    const d = this.decisions.get(keyOf(service));
    if (d && d.uid === (service.metadata?.uid ?? '') && notNewer(service.metadata?.resourceVersion, d.resourceVersion)) return [...d.ips];
    return statusIPs(service.status?.loadBalancer);
  }

  /** Every Service of ServiceLB's that holds addresses, except `exceptKey`; Services being deleted hold none. */
  private holders(exceptKey: string): Holder[] {
    const out: Holder[] = [];
    for (const svc of this.sources.services()) {
      if (!wantsLoadBalancer(svc) || svc.metadata?.deletionTimestamp || keyOf(svc) === exceptKey) continue;
      const ips = this.heldBy(svc);
      if (ips.length) out.push(holderOf(svc, ips));
    }
    return out;
  }

  private servingNodes(service: Readonly<Service>, nodes: readonly Readonly<Node>[]): { nodes: Readonly<Node>[]; emptyBecause?: LoadBalancerUnavailableError } {
    const labelled = nodesForService(service, nodes, this.sources.nodes());
    if (labelled.length === 0) return { nodes: [] };
    if (service.spec?.externalTrafficPolicy !== 'Local') return { nodes: labelled };
    const ready = nodesWithReadyEndpoints(this.sources.endpointSlices(service.metadata?.namespace ?? '', service.metadata?.name ?? ''));
    return {
      nodes: labelled.filter((n) => ready.has(n.metadata?.name ?? '')),
      emptyBecause: new LoadBalancerUnavailableError('NoReadyLocalEndpoints', 'externalTrafficPolicy is Local and no available node runs a ready endpoint of the Service'),
    };
  }
}
