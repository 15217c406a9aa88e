// What the scheduler knows about one node: the Node, the pods on it (assumed ones included), and
// sums derived from them once so that filters are cheap (requested resources, host ports, images,
// pods with affinity). Mirrors upstream's framework.NodeInfo.

import type { Affinity, Container, Node, Pod, PodAffinityTerm, WeightedPodAffinityTerm } from 'kubernetes-types/core/v1.js';
import { fromLabelSelector, matches, type Labels, type Requirement } from '../../api/labels.js';
import { milliValue, quantityValue } from '../../api/quantity.js';

/** Upstream's defaults for "non-zero" requests: what a container that requests nothing counts as when spreading. */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

/** Resource amounts: cpu in millicores, the rest in units (bytes, count). */
export class Resource {
  milliCPU = 0;
  memory = 0;
  ephemeralStorage = 0;
  allowedPodNumber = 0;
  /** Extended resources, hugepages and attachable volumes, by resource name. */
  readonly scalar = new Map<string, number>();

  /** Builds a Resource from a ResourceList (`{cpu: '500m', memory: '1Gi', 'example.com/gpu': '1'}`). */
  static fromList(list: Readonly<Record<string, string | number>> | undefined): Resource {
    const r = new Resource();
    r.addList(list);
    return r;
  }

  addList(list: Readonly<Record<string, string | number>> | undefined): void {
    if (!list) return;
    for (const [name, q] of Object.entries(list)) this.addOne(name, name === 'cpu' ? milliValue(q) : quantityValue(q));
  }

  /** Adds `amount` of `name` (cpu in millicores). */
  addOne(name: string, amount: number): void {
    switch (name) {
      case 'cpu':
        this.milliCPU += amount;
        break;
      case 'memory':
        this.memory += amount;
        break;
      case 'ephemeral-storage':
        this.ephemeralStorage += amount;
        break;
      case 'pods':
        this.allowedPodNumber += amount;
        break;
      default:
        if (isScalarResourceName(name)) this.scalar.set(name, (this.scalar.get(name) ?? 0) + amount);
    }
  }

  /** The amount of `name` (cpu in millicores). */
  get(name: string): number {
    switch (name) {
      case 'cpu':
        return this.milliCPU;
      case 'memory':
        return this.memory;
      case 'ephemeral-storage':
        return this.ephemeralStorage;
      case 'pods':
        return this.allowedPodNumber;
      default:
        return this.scalar.get(name) ?? 0;
    }
  }

  add(other: Resource, sign = 1): void {
    this.milliCPU += sign * other.milliCPU;
    this.memory += sign * other.memory;
    this.ephemeralStorage += sign * other.ephemeralStorage;
    this.allowedPodNumber += sign * other.allowedPodNumber;
    for (const [k, v] of other.scalar) this.scalar.set(k, (this.scalar.get(k) ?? 0) + sign * v);
  }

  /** Raises every amount to at least `other`'s. */
  setMax(other: Resource): void {
    this.milliCPU = Math.max(this.milliCPU, other.milliCPU);
    this.memory = Math.max(this.memory, other.memory);
    this.ephemeralStorage = Math.max(this.ephemeralStorage, other.ephemeralStorage);
    this.allowedPodNumber = Math.max(this.allowedPodNumber, other.allowedPodNumber);
    for (const [k, v] of other.scalar) this.scalar.set(k, Math.max(this.scalar.get(k) ?? 0, v));
  }

  clone(): Resource {
    const r = new Resource();
    r.add(this);
    return r;
  }
}

/**
 * Resources the scheduler accounts beyond cpu/memory/ephemeral-storage/pods: extended resources
 * (`example.com/gpu`: a domain outside kubernetes.io), prefixed native resources
 * (`kubernetes.io/…`), `hugepages-*` and `attachable-volumes-*` — upstream's IsScalarResourceName.
 */
export function isScalarResourceName(name: string): boolean {
  if (name.startsWith('hugepages-') || name.startsWith('attachable-volumes-')) return true;
  if (!name.includes('/')) return false;
  return name.includes('kubernetes.io/') || !name.startsWith('requests.');
}

/** An init container that keeps running beside the app containers (a sidecar). */
export function isRestartableInitContainer(c: Readonly<Container>): boolean {
  return c.restartPolicy === 'Always';
}

function containerRequests(c: Readonly<Container>, nonZero: boolean): Resource {
  const r = Resource.fromList(c.resources?.requests as Record<string, string> | undefined);
  if (nonZero) {
    const req = c.resources?.requests ?? {};
    if (!('cpu' in req)) r.milliCPU = DEFAULT_MILLI_CPU_REQUEST;
    if (!('memory' in req)) r.memory = DEFAULT_MEMORY_REQUEST;
  }
  return r;
}

/**
 * The resources a pod needs on a node, as upstream's resourcehelper.PodRequests: the sum of its
 * containers and sidecars, or the largest init container (plus the sidecars started before it) if
 * that is more, plus the pod overhead. `nonZero` counts a container without a cpu/memory request
 * as the defaults above (for spreading scores, never for fit).
 */
export function podRequests(pod: Readonly<Pod>, nonZero = false): Resource {
  const spec = pod.spec;
  const reqs = new Resource();
  for (const c of spec?.containers ?? []) reqs.add(containerRequests(c, nonZero));
  const sidecars = new Resource();
  let initMax = new Resource();
  for (const c of spec?.initContainers ?? []) {
    const r = containerRequests(c, nonZero);
    if (isRestartableInitContainer(c)) {
      reqs.add(r);
      sidecars.add(r);
      // A sidecar runs on beside every later init container.
      const withSidecars = sidecars.clone();
      withSidecars.setMax(initMax);
      initMax = withSidecars;
    } else {
      const tmp = r.clone();
      tmp.add(sidecars);
      initMax.setMax(tmp);
    }
  }
  reqs.setMax(initMax);
  if (spec?.overhead) reqs.addList(spec.overhead as Record<string, string>);
  return reqs;
}

/** A parsed (anti-)affinity term: which pods it selects, in which namespaces, over which topology. */
export interface AffinityTerm {
  /** Namespaces named by the term (or the pod's own when it names none and has no namespaceSelector). */
  readonly namespaces: ReadonlySet<string>;
  /** null: the term's labelSelector is absent, which selects no pod. */
  readonly selector: readonly Requirement[] | null;
  readonly topologyKey: string;
  /** null: no namespaceSelector; [] (an empty selector) selects every namespace. */
  readonly namespaceSelector: readonly Requirement[] | null;
}

export interface WeightedAffinityTerm extends AffinityTerm {
  readonly weight: number;
}

/** Whether `term` selects `pod` (whose namespace has labels `nsLabels`). */
export function affinityTermMatches(term: AffinityTerm, pod: Readonly<Pod>, nsLabels: Labels): boolean {
  const ns = pod.metadata?.namespace ?? '';
  if (!term.namespaces.has(ns) && !(term.namespaceSelector !== null && matches(term.namespaceSelector, nsLabels))) return false;
  return term.selector !== null && matches(term.selector, pod.metadata?.labels);
}

function parseTerm(pod: Readonly<Pod>, t: Readonly<PodAffinityTerm>): AffinityTerm {
  const namespaces = new Set(t.namespaces ?? []);
  if (namespaces.size === 0 && !t.namespaceSelector) namespaces.add(pod.metadata?.namespace ?? '');
  const selector = t.labelSelector ? withMatchLabelKeys(pod, fromLabelSelector(t.labelSelector), t) : null;
  return {
    namespaces,
    selector,
    topologyKey: t.topologyKey,
    namespaceSelector: t.namespaceSelector ? fromLabelSelector(t.namespaceSelector) : null,
  };
}

// matchLabelKeys/mismatchLabelKeys (beta in 1.31+) add requirements from the pod's own labels.
function withMatchLabelKeys(pod: Readonly<Pod>, reqs: Requirement[], t: Readonly<PodAffinityTerm>): Requirement[] {
  const labels = pod.metadata?.labels ?? {};
  const extra: Requirement[] = [];
  for (const k of t.matchLabelKeys ?? []) if (k in labels) extra.push({ key: k, op: 'In', values: [labels[k]!] });
  for (const k of t.mismatchLabelKeys ?? []) if (k in labels) extra.push({ key: k, op: 'NotIn', values: [labels[k]!] });
  return extra.length ? [...reqs, ...extra] : reqs;
}

function parseWeighted(pod: Readonly<Pod>, terms: readonly WeightedPodAffinityTerm[] | undefined): WeightedAffinityTerm[] {
  return (terms ?? []).map((w) => ({ ...parseTerm(pod, w.podAffinityTerm), weight: w.weight }));
}

/** A pod with its affinity terms parsed once (pods are read many times per cycle). */
export class PodInfo {
  readonly requiredAffinityTerms: readonly AffinityTerm[];
  readonly requiredAntiAffinityTerms: readonly AffinityTerm[];
  readonly preferredAffinityTerms: readonly WeightedAffinityTerm[];
  readonly preferredAntiAffinityTerms: readonly WeightedAffinityTerm[];

  constructor(readonly pod: Readonly<Pod>) {
    const a: Readonly<Affinity> | undefined = pod.spec?.affinity;
    this.requiredAffinityTerms = (a?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => parseTerm(pod, t));
    this.requiredAntiAffinityTerms = (a?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => parseTerm(pod, t));
    this.preferredAffinityTerms = parseWeighted(pod, a?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution);
    this.preferredAntiAffinityTerms = parseWeighted(pod, a?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution);
  }

  get hasAffinity(): boolean {
    return this.requiredAffinityTerms.length + this.requiredAntiAffinityTerms.length + this.preferredAffinityTerms.length + this.preferredAntiAffinityTerms.length > 0;
  }
}

/** `ip/protocol/port` triples in use on a node; `0.0.0.0` conflicts with every IP. */
export class HostPortInfo {
  private readonly byIP = new Map<string, Map<string, number>>();

  private static norm(ip: string | undefined, protocol: string | undefined, port: number): [string, string] {
    return [ip && ip !== '' ? ip : '0.0.0.0', `${protocol || 'TCP'}/${port}`];
  }

  add(ip: string | undefined, protocol: string | undefined, port: number, sign = 1): void {
    if (port <= 0) return;
    const [i, key] = HostPortInfo.norm(ip, protocol, port);
    let m = this.byIP.get(i);
    if (!m) this.byIP.set(i, (m = new Map()));
    const n = (m.get(key) ?? 0) + sign;
    if (n > 0) m.set(key, n);
    else m.delete(key);
    if (m.size === 0) this.byIP.delete(i);
  }

  /** Whether `ip/protocol/port` conflicts with a port in use. */
  checkConflict(ip: string | undefined, protocol: string | undefined, port: number): boolean {
    if (port <= 0) return false;
    const [i, key] = HostPortInfo.norm(ip, protocol, port);
    if (i === '0.0.0.0') {
      for (const m of this.byIP.values()) if (m.has(key)) return true;
      return false;
    }
    return (this.byIP.get(i)?.has(key) ?? false) || (this.byIP.get('0.0.0.0')?.has(key) ?? false);
  }

  get size(): number {
    let n = 0;
    for (const m of this.byIP.values()) n += m.size;
    return n;
  }

  clone(): HostPortInfo {
    const c = new HostPortInfo();
    for (const [ip, m] of this.byIP) c.byIP.set(ip, new Map(m));
    return c;
  }
}

/** The host ports a pod asks for (its containers' and sidecars' `hostPort`s). */
export function podHostPorts(pod: Readonly<Pod>): { ip: string | undefined; protocol: string | undefined; port: number }[] {
  const out: { ip: string | undefined; protocol: string | undefined; port: number }[] = [];
  const containers = [...(pod.spec?.initContainers ?? []).filter(isRestartableInitContainer), ...(pod.spec?.containers ?? [])];
  for (const c of containers) {
    for (const p of c.ports ?? []) if ((p.hostPort ?? 0) > 0) out.push({ ip: p.hostIP, protocol: p.protocol, port: p.hostPort! });
  }
  return out;
}

/** An image present on a node, with how many nodes of the cluster hold it (for ImageLocality). */
export interface ImageStateSummary {
  readonly size: number;
  numNodes: number;
}

/** Claims a pod mounts, as `namespace/claimName` (ephemeral volumes name `<pod>-<volume>`). */
export function podClaimKeys(pod: Readonly<Pod>): string[] {
  const ns = pod.metadata?.namespace ?? '';
  const out: string[] = [];
  for (const v of pod.spec?.volumes ?? []) {
    if (v.persistentVolumeClaim) out.push(`${ns}/${v.persistentVolumeClaim.claimName}`);
    else if (v.ephemeral) out.push(`${ns}/${pod.metadata?.name ?? ''}-${v.name}`);
  }
  return out;
}

export function podKey(pod: Readonly<Pod>): string {
  return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
}

export class NodeInfo {
  node: Readonly<Node> | undefined;
  readonly pods: PodInfo[] = [];
  readonly podsWithAffinity: PodInfo[] = [];
  readonly podsWithRequiredAntiAffinity: PodInfo[] = [];
  /** Sum of the pods' requests, as fit sees them. */
  requested = new Resource();
  /** Sum with defaults for containers that request no cpu/memory, as spreading scores see them. */
  nonZeroRequested = new Resource();
  allocatable = new Resource();
  usedPorts = new HostPortInfo();
  /** Images on the node by every name they are known by; filled when a snapshot is taken. */
  imageStates = new Map<string, ImageStateSummary>();
  /** `namespace/claim` → number of pods on this node using it. */
  readonly pvcRefCounts = new Map<string, number>();
  /** Bumped on every change, so snapshots copy only what changed. */
  generation = 0;

  constructor(node?: Readonly<Node>) {
    if (node) this.setNode(node);
  }

  get name(): string {
    return this.node?.metadata?.name ?? '';
  }

  setNode(node: Readonly<Node>): void {
    this.node = node;
    this.allocatable = Resource.fromList(node.status?.allocatable as Record<string, string> | undefined);
    this.generation++;
  }

  addPod(pod: Readonly<Pod>): PodInfo {
    const pi = new PodInfo(pod);
    this.addPodInfo(pi);
    return pi;
  }

  addPodInfo(pi: PodInfo): void {
    this.pods.push(pi);
    if (pi.hasAffinity) this.podsWithAffinity.push(pi);
    if (pi.requiredAntiAffinityTerms.length) this.podsWithRequiredAntiAffinity.push(pi);
    this.account(pi.pod, 1);
  }

  /** Removes the pod with `pod`'s UID (or namespace/name when it has none); false if absent. */
  removePod(pod: Readonly<Pod>): boolean {
    const i = this.pods.findIndex((p) => samePod(p.pod, pod));
    if (i < 0) return false;
    const [pi] = this.pods.splice(i, 1);
    const drop = (list: PodInfo[]) => {
      const j = list.indexOf(pi!);
      if (j >= 0) list.splice(j, 1);
    };
    drop(this.podsWithAffinity);
    drop(this.podsWithRequiredAntiAffinity);
    this.account(pi!.pod, -1);
    return true;
  }

  private account(pod: Readonly<Pod>, sign: 1 | -1): void {
    const req = podRequests(pod);
    const nz = podRequests(pod, true);
    this.requested.add(req, sign);
    this.nonZeroRequested.milliCPU += sign * nz.milliCPU;
    this.nonZeroRequested.memory += sign * nz.memory;
    for (const hp of podHostPorts(pod)) this.usedPorts.add(hp.ip, hp.protocol, hp.port, sign);
    for (const k of podClaimKeys(pod)) {
      const n = (this.pvcRefCounts.get(k) ?? 0) + sign;
      if (n > 0) this.pvcRefCounts.set(k, n);
      else this.pvcRefCounts.delete(k);
    }
    this.generation++;
  }

  /** A copy whose pod lists and sums can change without touching this one (preemption's what-if). */
  clone(): NodeInfo {
    const c = new NodeInfo();
    c.node = this.node;
    c.pods.push(...this.pods);
    c.podsWithAffinity.push(...this.podsWithAffinity);
    c.podsWithRequiredAntiAffinity.push(...this.podsWithRequiredAntiAffinity);
    c.requested = this.requested.clone();
    c.nonZeroRequested = this.nonZeroRequested.clone();
    c.allocatable = this.allocatable.clone();
    c.usedPorts = this.usedPorts.clone();
    c.imageStates = this.imageStates;
    for (const [k, v] of this.pvcRefCounts) c.pvcRefCounts.set(k, v);
    c.generation = this.generation;
    return c;
  }
}

function samePod(a: Readonly<Pod>, b: Readonly<Pod>): boolean {
  const ua = a.metadata?.uid;
  const ub = b.metadata?.uid;
  if (ua && ub) return ua === ub;
  return podKey(a) === podKey(b);
}
