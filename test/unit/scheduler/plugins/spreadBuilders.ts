// Builders for the spreading, affinity and volume plugin tests: pods, nodes, NodeInfo snapshots and
// a fake framework handle whose listers are plain arrays.

import type {
  Namespace,
  Node,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  PodAffinityTerm,
  ReplicationController,
  Service,
  Taint,
  Toleration,
  TopologySpreadConstraint,
  Volume,
  WeightedPodAffinityTerm,
} from 'kubernetes-types/core/v1.js';
import type { ReplicaSet, StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { CSINode, StorageClass } from 'kubernetes-types/storage/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import type { Lister } from '../../../../src/client/lister.js';
import { NodeInfo } from '../../../../src/scheduler/framework/nodeInfo.js';
import type { FrameworkHandle, NodeInfoLister } from '../../../../src/scheduler/framework/types.js';

type Labels = Record<string, string>;

export function makeNode(name: string, labels: Labels = {}, taints: Taint[] = []): Node {
  return { metadata: { name, labels: { ...labels } }, spec: taints.length ? { taints } : {}, status: { allocatable: { cpu: '4', memory: '8Gi', pods: '110' } } };
}

/** A fluent pod builder: `pod('p').ns('default').labels({app: 'web'}).on('node-a').build()`. */
export class PodBuilder {
  private readonly p: Pod;

  constructor(name: string) {
    this.p = { metadata: { name, namespace: 'default', uid: `uid-${name}` }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
  }

  ns(namespace: string): this {
    this.p.metadata!.namespace = namespace;
    return this;
  }

  uid(uid: string): this {
    this.p.metadata = { ...this.p.metadata, uid };
    return this;
  }

  labels(labels: Labels): this {
    this.p.metadata!.labels = { ...(this.p.metadata!.labels ?? {}), ...labels };
    return this;
  }

  on(nodeName: string): this {
    this.p.spec!.nodeName = nodeName;
    return this;
  }

  terminating(): this {
    this.p.metadata = { ...this.p.metadata, deletionTimestamp: '2024-01-01T00:00:00Z' };
    return this;
  }

  nodeSelector(sel: Labels): this {
    this.p.spec!.nodeSelector = sel;
    return this;
  }

  /** Required node affinity: one term with `key In values`. */
  nodeAffinityIn(key: string, values: string[]): this {
    this.affinity().nodeAffinity = { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key, operator: 'In', values }] }] } };
    return this;
  }

  tolerations(...t: Toleration[]): this {
    this.p.spec!.tolerations = t;
    return this;
  }

  spread(maxSkew: number, topologyKey: string, whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway', selector: LabelSelector | undefined, extra: Partial<TopologySpreadConstraint> = {}): this {
    const c: TopologySpreadConstraint = { maxSkew, topologyKey, whenUnsatisfiable, ...extra };
    if (selector) c.labelSelector = selector;
    (this.p.spec!.topologySpreadConstraints ??= []).push(c);
    return this;
  }

  podAffinity(...terms: PodAffinityTerm[]): this {
    const pa = (this.affinity().podAffinity ??= {});
    (pa.requiredDuringSchedulingIgnoredDuringExecution ??= []).push(...terms);
    return this;
  }

  podAntiAffinity(...terms: PodAffinityTerm[]): this {
    const pa = (this.affinity().podAntiAffinity ??= {});
    (pa.requiredDuringSchedulingIgnoredDuringExecution ??= []).push(...terms);
    return this;
  }

  preferredAffinity(...terms: WeightedPodAffinityTerm[]): this {
    const pa = (this.affinity().podAffinity ??= {});
    (pa.preferredDuringSchedulingIgnoredDuringExecution ??= []).push(...terms);
    return this;
  }

  preferredAntiAffinity(...terms: WeightedPodAffinityTerm[]): this {
    const pa = (this.affinity().podAntiAffinity ??= {});
    (pa.preferredDuringSchedulingIgnoredDuringExecution ??= []).push(...terms);
    return this;
  }

  ownedBy(kind: string, apiVersion: string, name: string): this {
    this.p.metadata!.ownerReferences = [{ apiVersion, kind, name, uid: `uid-${name}`, controller: true }];
    return this;
  }

  claim(claimName: string, volumeName = claimName): this {
    (this.p.spec!.volumes ??= []).push({ name: volumeName, persistentVolumeClaim: { claimName } });
    return this;
  }

  volume(v: Volume): this {
    (this.p.spec!.volumes ??= []).push(v);
    return this;
  }

  build(): Pod {
    return this.p;
  }

  private affinity() {
    return (this.p.spec!.affinity ??= {});
  }
}

export function pod(name: string): PodBuilder {
  return new PodBuilder(name);
}

/** `{matchLabels}` shorthand. */
export function sel(matchLabels: Labels): LabelSelector {
  return { matchLabels };
}

/** `key Exists` selector. */
export function exists(key: string): LabelSelector {
  return { matchExpressions: [{ key, operator: 'Exists' }] };
}

export function term(selector: LabelSelector | undefined, topologyKey: string, extra: Partial<PodAffinityTerm> = {}): PodAffinityTerm {
  const t: PodAffinityTerm = { topologyKey, ...extra };
  if (selector) t.labelSelector = selector;
  return t;
}

export function weighted(weight: number, t: PodAffinityTerm): WeightedPodAffinityTerm {
  return { weight, podAffinityTerm: t };
}

/** NodeInfos for `nodes`, each holding the `pods` whose spec.nodeName names it. */
export function nodeInfos(nodes: Node[], pods: Pod[] = []): NodeInfo[] {
  const byName = new Map(nodes.map((n) => [n.metadata!.name!, new NodeInfo(n)]));
  for (const p of pods) byName.get(p.spec?.nodeName ?? '')?.addPod(p);
  return [...byName.values()];
}

export class FakeSnapshot implements NodeInfoLister {
  constructor(readonly infos: NodeInfo[]) {}
  list(): readonly NodeInfo[] {
    return this.infos;
  }
  get(nodeName: string): NodeInfo | undefined {
    return this.infos.find((i) => i.name === nodeName);
  }
  havePodsWithAffinityList(): readonly NodeInfo[] {
    return this.infos.filter((i) => i.podsWithAffinity.length > 0);
  }
  havePodsWithRequiredAntiAffinityList(): readonly NodeInfo[] {
    return this.infos.filter((i) => i.podsWithRequiredAntiAffinity.length > 0);
  }
}

interface Named {
  metadata?: { name?: string; namespace?: string };
}

/** A Lister over an array; cluster-scoped objects have no namespace. */
export class ArrayLister<T extends Named> implements Lister<T> {
  constructor(readonly items: T[] = []) {}
  get(namespace: string | undefined, name: string): Readonly<T> | undefined {
    return this.items.find((o) => o.metadata?.name === name && (o.metadata?.namespace ?? '') === (namespace ?? ''));
  }
  list(namespace?: string): readonly Readonly<T>[] {
    return namespace === undefined ? this.items : this.items.filter((o) => (o.metadata?.namespace ?? '') === namespace);
  }
}

export interface FakeCluster {
  infos?: NodeInfo[];
  namespaces?: Namespace[];
  services?: Service[];
  replicationControllers?: ReplicationController[];
  replicaSets?: ReplicaSet[];
  statefulSets?: StatefulSet[];
  pvcs?: PersistentVolumeClaim[];
  pvs?: PersistentVolume[];
  storageClasses?: StorageClass[];
  csiNodes?: CSINode[];
}

export function fakeHandle(c: FakeCluster = {}): FrameworkHandle & { snap: FakeSnapshot } {
  const snap = new FakeSnapshot(c.infos ?? []);
  return {
    snap,
    snapshot: () => snap,
    namespaces: new ArrayLister<Namespace>(c.namespaces),
    services: new ArrayLister<Service>(c.services),
    replicationControllers: new ArrayLister<ReplicationController>(c.replicationControllers),
    replicaSets: new ArrayLister<ReplicaSet>(c.replicaSets),
    statefulSets: new ArrayLister<StatefulSet>(c.statefulSets),
    persistentVolumeClaims: new ArrayLister<PersistentVolumeClaim>(c.pvcs),
    persistentVolumes: new ArrayLister<PersistentVolume>(c.pvs),
    storageClasses: new ArrayLister<StorageClass>(c.storageClasses),
    csiNodes: new ArrayLister<CSINode>(c.csiNodes),
    podDisruptionBudgets: new ArrayLister<PodDisruptionBudget>([]),
  };
}

export function namespace(name: string, labels: Labels = {}): Namespace {
  return { metadata: { name, labels } };
}

export interface ClaimOptions {
  ns?: string;
  class?: string;
  volumeName?: string;
  /** Adds pv.kubernetes.io/bind-completed, as the PV controller does once bound. */
  bound?: boolean;
  accessModes?: string[];
  storage?: string;
  annotations?: Record<string, string>;
  phase?: string;
}

export function makeClaim(name: string, o: ClaimOptions = {}): PersistentVolumeClaim {
  const annotations = { ...(o.annotations ?? {}), ...(o.bound ? { 'pv.kubernetes.io/bind-completed': 'yes' } : {}) };
  return {
    metadata: { name, namespace: o.ns ?? 'default', uid: `uid-pvc-${name}`, annotations },
    spec: {
      accessModes: o.accessModes ?? ['ReadWriteOnce'],
      resources: { requests: { storage: o.storage ?? '1Gi' } },
      ...(o.class !== undefined ? { storageClassName: o.class } : {}),
      ...(o.volumeName ? { volumeName: o.volumeName } : {}),
    },
    status: { phase: o.phase ?? (o.bound ? 'Bound' : 'Pending') },
  };
}

export interface VolumeOptions {
  class?: string;
  capacity?: string;
  accessModes?: string[];
  labels?: Record<string, string>;
  /** Required node affinity: `key In values`. */
  nodeAffinity?: { key: string; values: string[] };
  claimRef?: { name: string; namespace?: string; uid?: string };
  phase?: string;
}

export function makeVolume(name: string, o: VolumeOptions = {}): PersistentVolume {
  return {
    metadata: { name, labels: o.labels ?? {} },
    spec: {
      capacity: { storage: o.capacity ?? '1Gi' },
      accessModes: o.accessModes ?? ['ReadWriteOnce'],
      ...(o.class !== undefined ? { storageClassName: o.class } : {}),
      ...(o.nodeAffinity ? { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: o.nodeAffinity.key, operator: 'In', values: o.nodeAffinity.values }] }] } } } : {}),
      ...(o.claimRef ? { claimRef: { namespace: 'default', ...o.claimRef } } : {}),
    },
    status: { phase: o.phase ?? (o.claimRef ? 'Bound' : 'Available') },
  };
}

export function makeStorageClass(name: string, mode: 'Immediate' | 'WaitForFirstConsumer' | undefined, provisioner = 'example.com/csi', allowedZones?: string[]): StorageClass {
  return {
    metadata: { name },
    provisioner,
    ...(mode ? { volumeBindingMode: mode } : {}),
    ...(allowedZones ? { allowedTopologies: [{ matchLabelExpressions: [{ key: 'topology.kubernetes.io/zone', values: allowedZones }] }] } : {}),
  };
}
