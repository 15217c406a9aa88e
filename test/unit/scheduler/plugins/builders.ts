// Small builders for scheduler plugin tests: pods, nodes, NodeInfos and a framework handle over them.

import type { Affinity, Container, ContainerPort, Node, Pod, Taint, Toleration } from 'kubernetes-types/core/v1.js';
import { NodeInfo } from '../../../../src/scheduler/framework/nodeInfo.js';
import { CycleState } from '../../../../src/scheduler/framework/cycleState.js';
import type { FrameworkHandle, NodeInfoLister, Plugin, PluginFactory, Status } from '../../../../src/scheduler/framework/types.js';
import type { Lister } from '../../../../src/client/lister.js';

export type ResourceList = Record<string, string>;

export interface ContainerOpts {
  name?: string;
  requests?: ResourceList;
  image?: string;
  ports?: ContainerPort[];
  restartPolicy?: 'Always';
}

export interface PodOpts {
  name?: string;
  namespace?: string;
  uid?: string;
  /** Requests of one container (shorthand for `containers: [{requests}]`). */
  requests?: ResourceList;
  containers?: ContainerOpts[];
  initContainers?: ContainerOpts[];
  overhead?: ResourceList;
  nodeName?: string;
  nominatedNodeName?: string;
  priority?: number;
  tolerations?: Toleration[];
  nodeSelector?: Record<string, string>;
  affinity?: Affinity;
  schedulingGates?: string[];
  /** Host ports of one container, as `[hostPort, protocol?, hostIP?]`. */
  hostPorts?: Array<[number, string?, string?]>;
}

let podSeq = 0;

function container(c: ContainerOpts, i: number): Container {
  return {
    name: c.name ?? `c${i}`,
    image: c.image ?? 'busybox',
    ...(c.requests ? { resources: { requests: c.requests } } : {}),
    ...(c.ports ? { ports: c.ports } : {}),
    ...(c.restartPolicy ? { restartPolicy: c.restartPolicy } : {}),
  };
}

export function makePod(o: PodOpts = {}): Pod {
  const name = o.name ?? `pod-${++podSeq}`;
  const containers = (o.containers ?? [{ ...(o.requests ? { requests: o.requests } : {}) }]).map(container);
  if (o.hostPorts) {
    containers[0]!.ports = o.hostPorts.map(([hostPort, protocol, hostIP]) => ({
      containerPort: hostPort,
      hostPort,
      ...(protocol ? { protocol } : {}),
      ...(hostIP ? { hostIP } : {}),
    }));
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: o.namespace ?? 'default', uid: o.uid ?? `uid-${name}` },
    spec: {
      containers,
      ...(o.initContainers ? { initContainers: o.initContainers.map(container) } : {}),
      ...(o.overhead ? { overhead: o.overhead } : {}),
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      ...(o.priority !== undefined ? { priority: o.priority } : {}),
      ...(o.tolerations ? { tolerations: o.tolerations } : {}),
      ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
      ...(o.affinity ? { affinity: o.affinity } : {}),
      ...(o.schedulingGates ? { schedulingGates: o.schedulingGates.map((name) => ({ name })) } : {}),
    },
    ...(o.nominatedNodeName ? { status: { nominatedNodeName: o.nominatedNodeName } } : {}),
  };
}

export interface NodeOpts {
  name?: string;
  labels?: Record<string, string>;
  /** Defaults to 110 pods when `pods` is not given. */
  allocatable?: ResourceList;
  taints?: Taint[];
  unschedulable?: boolean;
  images?: Array<{ names: string[]; sizeBytes: number }>;
}

export function makeNode(o: NodeOpts = {}): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: o.name ?? 'node-1', ...(o.labels ? { labels: o.labels } : {}) },
    spec: {
      ...(o.taints ? { taints: o.taints } : {}),
      ...(o.unschedulable ? { unschedulable: true } : {}),
    },
    status: {
      allocatable: { pods: '110', ...(o.allocatable ?? {}) },
      ...(o.images ? { images: o.images } : {}),
    },
  };
}

/** A NodeInfo for `node` holding `pods` (no image states; see makeSnapshot). */
export function makeNodeInfo(node: Node, pods: Pod[] = []): NodeInfo {
  const ni = new NodeInfo(node);
  for (const p of pods) ni.addPod(p);
  return ni;
}

/** NodeInfos for `nodes` with imageStates as upstream's snapshot fills them (numNodes per image name). */
export function makeSnapshot(nodes: Node[], podsByNode: Record<string, Pod[]> = {}): NodeInfo[] {
  const infos = nodes.map((n) => makeNodeInfo(n, podsByNode[n.metadata?.name ?? ''] ?? []));
  const counts = new Map<string, number>();
  for (const n of nodes) for (const img of n.status?.images ?? []) for (const name of img.names ?? []) counts.set(name, (counts.get(name) ?? 0) + 1);
  infos.forEach((ni, i) => {
    for (const img of nodes[i]!.status?.images ?? []) {
      for (const name of img.names ?? []) ni.imageStates.set(name, { size: img.sizeBytes ?? 0, numNodes: counts.get(name) ?? 0 });
    }
  });
  return infos;
}

function emptyLister<T>(): Lister<T> {
  return { get: () => undefined, list: () => [] };
}

export function fakeHandle(nodeInfos: NodeInfo[] = []): FrameworkHandle {
  const lister: NodeInfoLister = {
    list: () => nodeInfos,
    get: (name) => nodeInfos.find((n) => n.name === name),
    havePodsWithAffinityList: () => nodeInfos.filter((n) => n.podsWithAffinity.length > 0),
    havePodsWithRequiredAntiAffinityList: () => nodeInfos.filter((n) => n.podsWithRequiredAntiAffinity.length > 0),
  };
  return {
    snapshot: () => lister,
    namespaces: emptyLister(),
    services: emptyLister(),
    replicationControllers: emptyLister(),
    replicaSets: emptyLister(),
    statefulSets: emptyLister(),
    persistentVolumeClaims: emptyLister(),
    persistentVolumes: emptyLister(),
    storageClasses: emptyLister(),
    csiNodes: emptyLister(),
    podDisruptionBudgets: emptyLister(),
  };
}

/** Builds a plugin with its default args merged under `args` (top-level keys). */
export function newPlugin<P extends Plugin>(factory: PluginFactory, args?: Record<string, unknown>, nodeInfos: NodeInfo[] = []): P {
  const merged = args === undefined ? factory.defaultArgs?.() : { ...(factory.defaultArgs?.() ?? {}), ...args };
  return factory.create(merged, fakeHandle(nodeInfos)) as P;
}

export function newState(): CycleState {
  return new CycleState();
}

/** A Status (or undefined = Success) as `{code, reasons}` for deepEqual. */
export function statusOf(s: Status | undefined): { code: number; reasons: readonly string[] } {
  return s === undefined ? { code: 0, reasons: [] } : { code: s.code, reasons: [...s.reasons] };
}

export const GiB = 1024 * 1024 * 1024;
export const MiB = 1024 * 1024;
