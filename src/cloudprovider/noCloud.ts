// The provider k8ts runs with when there is no cloud (as k3s's built-in one): the Node objects the
// kubelets register are the only truth about machines, load balancing is ServiceLB's (or none),
// and pod routes come from k8ts's host-gw route syncer on each node, not from a cloud.

import type { Node } from 'kubernetes-types/core/v1.js';
import type { CloudProvider, InstanceMetadata, Instances, LoadBalancer } from './cloud.js';

export const NO_CLOUD_PROVIDER_NAME = 'k8ts';

/** `k8ts://<node name>`, as k3s writes `k3s://<node name>`. */
export function noCloudProviderID(nodeName: string): string {
  return `${NO_CLOUD_PROVIDER_NAME}://${nodeName}`;
}

/**
 * Instances without a cloud: every registered node exists and runs (nothing outside the cluster
 * could say otherwise), and its addresses are those its kubelet reported.
 */
export class NoCloudInstances implements Instances {
  async instanceExists(_node: Readonly<Node>): Promise<boolean> {
    return true;
  }

  async instanceShutdown(_node: Readonly<Node>): Promise<boolean> {
    return false;
  }

  async instanceMetadata(node: Readonly<Node>): Promise<InstanceMetadata> {
    const name = node.metadata?.name ?? '';
    return {
      providerID: node.spec?.providerID || noCloudProviderID(name),
      nodeAddresses: (node.status?.addresses ?? []).map((a) => ({ type: a.type, address: a.address })),
      instanceType: NO_CLOUD_PROVIDER_NAME,
      zone: node.metadata?.labels?.['topology.kubernetes.io/zone'] ?? '',
      region: node.metadata?.labels?.['topology.kubernetes.io/region'] ?? '',
    };
  }
}

/**
 * The no-cloud provider. `loadBalancer` is ServiceLB when it runs (absent with
 * `--disable servicelb`, so Services of type LoadBalancer stay `<pending>` for an external
 * implementation). It has no routes: node pod CIDRs are routed by each node's host-gw syncer.
 */
export function noCloudProvider(loadBalancer?: LoadBalancer): CloudProvider {
  const instances = new NoCloudInstances();
  return {
    providerName: () => NO_CLOUD_PROVIDER_NAME,
    instances: () => instances,
    loadBalancer: () => loadBalancer,
    routes: () => undefined,
  };
}
