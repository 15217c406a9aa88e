// The Node object a kubelet registers and the status it keeps up to date (pkg/kubelet/nodestatus):
// capacity and allocatable, conditions with upstream's reasons and messages, nodeInfo, addresses,
// daemon endpoints and images. Pure functions of their inputs; the kubelet supplies the readings.
import type { Node, NodeCondition, NodeStatus } from 'kubernetes-types/core/v1.js';
import { milliValue, quantityValue } from '../api/quantity.js';
import type { Image } from './runtime/types.js';
import type { MachineInfo } from './machine.js';

export const KUBELET_VERSION = 'v1.32.0+k8ts';
export const LABEL_HOSTNAME = 'kubernetes.io/hostname';
export const LABEL_OS = 'kubernetes.io/os';
export const LABEL_ARCH = 'kubernetes.io/arch';
export const LABEL_CONTROL_PLANE = 'node-role.kubernetes.io/control-plane';
/** Upstream reports at most this many images in node status (--node-status-max-images). */
export const MAX_NODE_STATUS_IMAGES = 50;

export interface ResourceList {
  [name: string]: string;
}

export interface NodeStatusInputs {
  machine: MachineInfo;
  maxPods: number;
  /** --kube-reserved and --system-reserved, e.g. `{ cpu: '100m', memory: '256Mi' }`. */
  kubeReserved: ResourceList;
  systemReserved: ResourceList;
  /** Hard eviction thresholds that allocatable subtracts: memory.available as a quantity, nodefs.available as a quantity or percentage. */
  evictionHard: ResourceList;
  nodeIP: string;
  hostname: string;
  kubeletPort: number;
  /** `containerd://1.6.20`, `k8ts-process://v1.32.0`. */
  containerRuntimeVersion: string;
  /** Undefined when the runtime is ready; else why the node is not (upstream's KubeletNotReady message). */
  runtimeNotReady?: string | undefined;
  pressure: { memory: boolean; disk: boolean; pid: boolean };
  images: readonly Image[];
  /** Now, as an RFC 3339 timestamp with seconds. */
  now: string;
}

const KI = 1024;

function subtractAll(capacity: number, ...reserved: (string | undefined)[]): number {
  let v = capacity;
  for (const r of reserved) if (r) v -= quantityValue(r);
  return Math.max(0, v);
}

/** `100Mi` or `10%` of capacity, in bytes. */
export function thresholdBytes(threshold: string | undefined, capacity: number): number {
  if (!threshold) return 0;
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(threshold);
  return pct ? Math.round((capacity * Number(pct[1])) / 100) : quantityValue(threshold);
}

export function nodeCapacity(machine: MachineInfo, maxPods: number): ResourceList {
  return {
    cpu: String(machine.numCores),
    'ephemeral-storage': `${Math.floor(machine.rootfsCapacityBytes / KI)}Ki`,
    'hugepages-1Gi': '0',
    'hugepages-2Mi': '0',
    memory: `${Math.floor(machine.memoryCapacityBytes / KI)}Ki`,
    pods: String(maxPods),
  };
}

/** Capacity minus kube-reserved, system-reserved and the hard eviction threshold, as upstream's allocatable. */
export function nodeAllocatable(inputs: Pick<NodeStatusInputs, 'machine' | 'maxPods' | 'kubeReserved' | 'systemReserved' | 'evictionHard'>): ResourceList {
  const { machine, kubeReserved: kr, systemReserved: sr } = inputs;
  const cpuMilli = Math.max(0, machine.numCores * 1000 - milliValue(kr.cpu ?? '0') - milliValue(sr.cpu ?? '0'));
  const memory = subtractAll(machine.memoryCapacityBytes, kr.memory, sr.memory) - thresholdBytes(inputs.evictionHard['memory.available'], machine.memoryCapacityBytes);
  const storage =
    subtractAll(machine.rootfsCapacityBytes, kr['ephemeral-storage'], sr['ephemeral-storage']) - thresholdBytes(inputs.evictionHard['nodefs.available'], machine.rootfsCapacityBytes);
  return {
    cpu: cpuMilli % 1000 === 0 ? String(cpuMilli / 1000) : `${Math.round(cpuMilli)}m`,
    'ephemeral-storage': String(Math.max(0, Math.floor(storage))),
    'hugepages-1Gi': '0',
    'hugepages-2Mi': '0',
    memory: `${Math.max(0, Math.floor(memory / KI))}Ki`,
    pods: String(inputs.maxPods),
  };
}

interface ConditionFacts {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export function nodeConditionFacts(inputs: Pick<NodeStatusInputs, 'runtimeNotReady' | 'pressure'>): ConditionFacts[] {
  const { pressure } = inputs;
  return [
    pressure.memory
      ? { type: 'MemoryPressure', status: 'True', reason: 'KubeletHasInsufficientMemory', message: 'kubelet has insufficient memory available' }
      : { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
    pressure.disk
      ? { type: 'DiskPressure', status: 'True', reason: 'KubeletHasDiskPressure', message: 'kubelet has disk pressure' }
      : { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
    pressure.pid
      ? { type: 'PIDPressure', status: 'True', reason: 'KubeletHasInsufficientPID', message: 'kubelet has insufficient PID available' }
      : { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
    inputs.runtimeNotReady
      ? { type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: inputs.runtimeNotReady }
      : { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' },
  ];
}

/** Conditions with heartbeats now and transition times kept from `previous` unless the status flipped. */
export function mergeConditions(previous: readonly NodeCondition[] | undefined, facts: readonly ConditionFacts[], now: string): NodeCondition[] {
  const old = new Map((previous ?? []).map((c) => [c.type, c]));
  const mine = facts.map((f) => {
    const before = old.get(f.type);
    return { ...f, lastHeartbeatTime: now, lastTransitionTime: before && before.status === f.status && before.lastTransitionTime ? before.lastTransitionTime : now };
  });
  // Conditions set by others (e.g. NetworkUnavailable) stay as they are.
  const others = (previous ?? []).filter((c) => !facts.some((f) => f.type === c.type));
  return [...others, ...mine];
}

/** Images for node status, largest first, at most MAX_NODE_STATUS_IMAGES (the scheduler's ImageLocality reads them). */
export function nodeImages(images: readonly Image[]): NonNullable<NodeStatus['images']> {
  return [...images]
    .sort((a, b) => (b.size > a.size ? 1 : b.size < a.size ? -1 : 0))
    .slice(0, MAX_NODE_STATUS_IMAGES)
    .map((i) => ({ names: [...i.repoDigests, ...i.repoTags], sizeBytes: Number(i.size) }))
    .filter((i) => i.names.length > 0);
}

export function nodeStatus(previous: Readonly<NodeStatus> | undefined, inputs: NodeStatusInputs): NodeStatus {
  const m = inputs.machine;
  return {
    capacity: nodeCapacity(m, inputs.maxPods),
    allocatable: nodeAllocatable(inputs),
    conditions: mergeConditions(previous?.conditions, nodeConditionFacts(inputs), inputs.now),
    addresses: [
      { type: 'InternalIP', address: inputs.nodeIP },
      { type: 'Hostname', address: inputs.hostname },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: inputs.kubeletPort } },
    nodeInfo: {
      machineID: m.machineID,
      systemUUID: m.systemUUID,
      bootID: m.bootID,
      kernelVersion: m.kernelVersion,
      osImage: m.osImage,
      containerRuntimeVersion: inputs.containerRuntimeVersion,
      kubeletVersion: KUBELET_VERSION,
      kubeProxyVersion: '',
      operatingSystem: 'linux',
      architecture: m.architecture,
    },
    images: nodeImages(inputs.images),
  };
}

export interface InitialNodeOptions {
  nodeName: string;
  architecture: string;
  controlPlane: boolean;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  taints: NonNullable<NonNullable<Node['spec']>['taints']>;
}

/** The Node a kubelet registers (status is filled in by nodeStatus right after). */
export function initialNode(opts: InitialNodeOptions): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: opts.nodeName,
      labels: {
        'beta.kubernetes.io/arch': opts.architecture,
        'beta.kubernetes.io/os': 'linux',
        [LABEL_ARCH]: opts.architecture,
        [LABEL_HOSTNAME]: opts.nodeName,
        [LABEL_OS]: 'linux',
        ...(opts.controlPlane ? { [LABEL_CONTROL_PLANE]: '' } : {}),
        ...opts.labels,
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true', ...(opts.annotations ?? {}) },
    },
    spec: opts.taints.length ? { taints: opts.taints } : {},
  };
}

/** Whether two statuses differ in anything but heartbeat times (upstream posts at least every 5 min regardless). */
export function statusChanged(a: Readonly<NodeStatus> | undefined, b: Readonly<NodeStatus>): boolean {
  if (!a) return true;
  const strip = (s: Readonly<NodeStatus>) => JSON.stringify({ ...s, conditions: (s.conditions ?? []).map(({ lastHeartbeatTime: _h, ...c }) => c) });
  return strip(a) !== strip(b);
}
