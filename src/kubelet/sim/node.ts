// What a simulated node looks like in the API: the Node a kubelet 1.32 registers (labels, capacity,
// nodeInfo, addresses, the four conditions with upstream's reasons and messages) and its Lease in
// kube-node-lease. Pure builders; the heartbeat and registration I/O live in simulatedNodes.ts.
import { readFileSync } from 'node:fs';
import type { Node, NodeCondition, Taint } from 'kubernetes-types/core/v1.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import { microTime, rfc3339 } from '../../client/microTime.js';
import { formatCIDR, formatIP, parseCIDR } from '../../controllers/nodeipam/cidrSet.js';

/** Every simulated node carries this label (as kwok's `type=kwok`), so tools can tell them apart. */
export const LABEL_SIMULATED = 'node.k8ts.io/simulated';
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
export const SIMULATED_KUBELET_VERSION = 'v1.32.0+k8ts';

function k8tsVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** `k8ts-simulated://<k8ts version>`, what `kubectl get nodes -o wide` shows as CONTAINER-RUNTIME. */
export const SIMULATED_RUNTIME_VERSION = `k8ts-simulated://${k8tsVersion()}`;

export interface SimulatedNodeSpec {
  name: string;
  labels: Readonly<Record<string, string>>;
  annotations?: Readonly<Record<string, string>>;
  taints: readonly Taint[];
  capacity: Readonly<Record<string, string>>;
  allocatable: Readonly<Record<string, string>>;
  nodeIP: string;
  /** Written to spec.podCIDR(s) at registration when given; else the node IPAM controller may assign one. */
  podCIDR?: string;
  /** The kubelet port the node claims in status.daemonEndpoints (nothing listens there). */
  kubeletPort: number;
}

export const DEFAULT_CAPACITY: Readonly<Record<string, string>> = { cpu: '32', memory: '256Gi', pods: '110', 'ephemeral-storage': '100Gi' };

/** Upstream's four node conditions of a healthy kubelet (pkg/kubelet/nodestatus/setters.go). */
export function healthyNodeConditions(nowMs: number, transitionMs: number): NodeCondition[] {
  const hb = rfc3339(nowMs);
  const tr = rfc3339(transitionMs);
  const c = (type: string, status: string, reason: string, message: string): NodeCondition => ({ type, status, reason, message, lastHeartbeatTime: hb, lastTransitionTime: tr });
  return [
    c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    c('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
  ];
}

/** The Node object registered for a simulated node. */
export function simulatedNodeObject(spec: SimulatedNodeSpec, nowMs: number): Node {
  const node: Node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: spec.name,
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': spec.name,
        'kubernetes.io/os': 'linux',
        [LABEL_SIMULATED]: 'true',
        ...spec.labels,
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', ...spec.annotations },
    },
    spec: {
      ...(spec.podCIDR ? { podCIDR: spec.podCIDR, podCIDRs: [spec.podCIDR] } : {}),
      ...(spec.taints.length ? { taints: spec.taints.map((t) => ({ ...t })) } : {}),
    },
    status: simulatedNodeStatus(spec, nowMs, nowMs),
  };
  return node;
}

/** The status a simulated node reports (heartbeat at `nowMs`, conditions unchanged since `transitionMs`). */
export function simulatedNodeStatus(spec: SimulatedNodeSpec, nowMs: number, transitionMs: number): NonNullable<Node['status']> {
  return {
    capacity: { ...spec.capacity },
    allocatable: { ...spec.allocatable },
    conditions: healthyNodeConditions(nowMs, transitionMs),
    addresses: [
      { type: 'InternalIP', address: spec.nodeIP },
      { type: 'Hostname', address: spec.name },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: spec.kubeletPort } },
    nodeInfo: {
      machineID: '',
      systemUUID: '',
      bootID: '',
      kernelVersion: 'k8ts-simulated',
      osImage: 'k8ts simulated node',
      containerRuntimeVersion: SIMULATED_RUNTIME_VERSION,
      kubeletVersion: SIMULATED_KUBELET_VERSION,
      kubeProxyVersion: SIMULATED_KUBELET_VERSION,
      operatingSystem: 'linux',
      architecture: 'amd64',
    },
  };
}

/** The Lease a kubelet keeps in kube-node-lease (pkg/kubelet/nodelease): owned by its Node, holder = node name. */
export function nodeLeaseObject(nodeName: string, nodeUid: string | undefined, leaseDurationSeconds: number, nowMs: number): Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: nodeName,
      namespace: NODE_LEASE_NAMESPACE,
      ...(nodeUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUid }] } : {}),
    },
    spec: { holderIdentity: nodeName, leaseDurationSeconds, renewTime: microTime(nowMs) },
  };
}

/** The i-th address of `cidr` counting from 1 (the default node IPs: 10.250.0.1, 10.250.0.2, …). */
export function nthAddress(cidr: string, i: number): string {
  const c = parseCIDR(cidr);
  const n = BigInt(i + 1);
  if (n >= 1n << BigInt(c.bits - c.prefix)) throw new RangeError(`${cidr} has no address number ${i + 1}`);
  return formatIP(c.ip + n, c.bits);
}

/** The i-th `/mask` subnet of `cidr` (the fallback pod CIDRs when neither options nor node IPAM give one). */
export function nthSubnet(cidr: string, mask: number, i: number): string {
  const c = parseCIDR(cidr);
  if (mask < c.prefix || mask > c.bits) throw new RangeError(`cannot cut /${mask} subnets from ${cidr}`);
  if (BigInt(i) >= 1n << BigInt(mask - c.prefix)) throw new RangeError(`${cidr} has no subnet number ${i} of size /${mask}`);
  return formatCIDR({ ip: c.ip + (BigInt(i) << BigInt(c.bits - mask)), prefix: mask, bits: c.bits });
}
