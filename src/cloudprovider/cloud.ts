// The seams of a cloud controller (upstream k8s.io/cloud-provider's Interface), cut down to what
// k8ts uses: node facts from the provider, load balancers for `type: LoadBalancer` Services, and
// routes to node pod CIDRs. k8ts runs on no cloud: see noCloud.ts and servicelb/.

import type { LoadBalancerStatus, Node, NodeAddress, Service } from 'kubernetes-types/core/v1.js';

/** What a provider knows of one node (upstream InstanceMetadata). */
export interface InstanceMetadata {
  /** `<provider>://<id>`, written to the Node's spec.providerID. */
  providerID: string;
  /** The node's addresses as the provider sees them (InternalIP, ExternalIP, Hostname…). */
  nodeAddresses: NodeAddress[];
  /** The instance type (node.kubernetes.io/instance-type), '' if the provider has none. */
  instanceType: string;
  zone: string;
  region: string;
}

/** Node facts from the provider (upstream InstancesV2). */
export interface Instances {
  /** False only when the provider knows the node's machine is gone; the node is then deleted. */
  instanceExists(node: Readonly<Node>, signal?: AbortSignal): Promise<boolean>;
  /** True when the machine is known to be shut down (the node gets the shutdown taint). */
  instanceShutdown(node: Readonly<Node>, signal?: AbortSignal): Promise<boolean>;
  instanceMetadata(node: Readonly<Node>, signal?: AbortSignal): Promise<InstanceMetadata>;
}

/** A load balancer's existence and where it is reachable. */
export interface LoadBalancerState {
  exists: boolean;
  status: LoadBalancerStatus;
}

/**
 * Load balancers for Services (upstream cloudprovider.LoadBalancer). Calls for one Service never
 * overlap; the service controller retries failures with back-off. `nodes` are the nodes the
 * controller considers usable (Ready, not excluded from load balancers); an implementation may
 * narrow them further.
 */
export interface LoadBalancer {
  /** A stable name for the Service's load balancer (upstream's `a` + UID without dashes, 32 characters). */
  getLoadBalancerName(clusterName: string, service: Readonly<Service>): string;
  getLoadBalancer(clusterName: string, service: Readonly<Service>, signal?: AbortSignal): Promise<LoadBalancerState>;
  /**
   * Creates or updates the load balancer so that it serves `service` and returns its status
   * (written to the Service's status.loadBalancer). Throws when it cannot; a
   * LoadBalancerUnavailableError says why in words meant for the Service's events.
   */
  ensureLoadBalancer(clusterName: string, service: Readonly<Service>, nodes: readonly Readonly<Node>[], signal?: AbortSignal): Promise<LoadBalancerStatus>;
  /** Removes whatever serves `service`; succeeds when there was nothing. */
  ensureLoadBalancerDeleted(clusterName: string, service: Readonly<Service>, signal?: AbortSignal): Promise<void>;
}

/** A route sending a node's pod CIDR to that node (upstream cloudprovider.Route). */
export interface Route {
  name: string;
  targetNode: string;
  destinationCIDR: string;
}

/** Cloud routes to pod CIDRs (upstream cloudprovider.Routes). */
export interface Routes {
  listRoutes(clusterName: string, signal?: AbortSignal): Promise<Route[]>;
  createRoute(clusterName: string, nameHint: string, route: Route, signal?: AbortSignal): Promise<void>;
  deleteRoute(clusterName: string, route: Route, signal?: AbortSignal): Promise<void>;
}

/** One cloud. A part the provider does not offer is `undefined` (upstream's `(x, false)`). */
export interface CloudProvider {
  providerName(): string;
  instances(): Instances | undefined;
  loadBalancer(): LoadBalancer | undefined;
  routes(): Routes | undefined;
}

/** Why a LoadBalancer cannot serve a Service now; the controller keeps it `<pending>` and retries. */
export type LoadBalancerUnavailableReason =
  | 'NoEligibleNodes'
  | 'NoReadyLocalEndpoints'
  | 'NoAddressOfFamily'
  | 'LoadBalancerIPNotInPool'
  | 'PortsInUse'
  | 'PoolExhausted';

/** An expected outcome, not a bug: the Service cannot get an address now. `message` is for users. */
export class LoadBalancerUnavailableError extends Error {
  override readonly name = 'LoadBalancerUnavailableError';
  constructor(
    readonly code: LoadBalancerUnavailableReason,
    message: string,
  ) {
    super(message);
  }
}

/** Upstream's DefaultLoadBalancerName: `a` + the Service UID without dashes, cut to 32 characters. */
export function defaultLoadBalancerName(service: Readonly<Service>): string {
  return `a${(service.metadata?.uid ?? '').replace(/-/g, '')}`.slice(0, 32);
}
