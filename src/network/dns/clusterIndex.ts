// What the DNS server knows of the cluster: Services, the ready addresses of their EndpointSlices
// and Namespaces, reduced to what names need and indexed by name and by IP. Fed by informers (or
// any list of objects); every change bumps `generation`, which invalidates memoized answers.
import type { Namespace, Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { canonicalIP } from './names.js';

export interface PortEntry {
  name: string;
  /** -1 when the object has no ports (CoreDNS's sentinel: no SRV records, but A records). */
  port: number;
  protocol: string;
}

export interface ServiceEntry {
  namespace: string;
  name: string;
  type: string;
  clusterIPs: string[];
  headless: boolean;
  externalName: string;
  ports: PortEntry[];
}

export interface EndpointAddress {
  ip: string;
  hostname: string;
  targetRefName: string;
}

export interface SliceEntry {
  namespace: string;
  name: string;
  /** `service.namespace`, from the kubernetes.io/service-name label. */
  serviceKey: string;
  ports: PortEntry[];
  /** Ready addresses only (a missing `ready` condition counts as ready). */
  addresses: EndpointAddress[];
}

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export function serviceKey(name: string, namespace: string): string {
  return `${name}.${namespace}`;
}

export function toServiceEntry(svc: Readonly<Service>): ServiceEntry {
  const spec = svc.spec ?? {};
  const clusterIPs = spec.clusterIPs && spec.clusterIPs.length > 0 ? spec.clusterIPs.map(canonicalIP) : [spec.clusterIP ?? ''];
  const ports: PortEntry[] = (spec.ports ?? []).map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' }));
  return {
    namespace: svc.metadata?.namespace ?? 'default',
    name: svc.metadata?.name ?? '',
    type: spec.type ?? 'ClusterIP',
    clusterIPs,
    headless: clusterIPs[0] === 'None',
    externalName: spec.externalName ?? '',
    ports: ports.length > 0 ? ports : [{ name: '', port: -1, protocol: '' }],
  };
}

export function toSliceEntry(slice: Readonly<EndpointSlice>): SliceEntry | undefined {
  const serviceName = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  if (!serviceName) return undefined;
  const namespace = slice.metadata?.namespace ?? 'default';
  const ports: PortEntry[] = (slice.ports ?? []).map((p) => ({ name: p.name ?? '', port: p.port ?? -1, protocol: p.protocol ?? '' }));
  const addresses: EndpointAddress[] = [];
  for (const ep of slice.endpoints ?? []) {
    if (ep.conditions?.ready === false) continue;
    for (const a of ep.addresses ?? []) {
      const targetRefName = ep.targetRef?.name && ep.targetRef.name.length < 64 ? ep.targetRef.name : '';
      addresses.push({ ip: canonicalIP(a), hostname: ep.hostname ?? '', targetRefName });
    }
  }
  return {
    namespace,
    name: slice.metadata?.name ?? '',
    serviceKey: serviceKey(serviceName, namespace),
    ports: ports.length > 0 ? ports : [{ name: '', port: -1, protocol: '' }],
    addresses,
  };
}

export class ClusterIndex {
  /** Bumped on every change; memoized answers remember the generation they were computed at. */
  generation = 0;
  /** Unix seconds of the last change: the SOA serial, as CoreDNS's. */
  modified = Math.floor(Date.now() / 1000);
  private readonly services = new Map<string, ServiceEntry>();
  private readonly slices = new Map<string, SliceEntry>();
  private readonly slicesByService = new Map<string, Map<string, SliceEntry>>();
  private readonly servicesByIP = new Map<string, ServiceEntry[]>();
  private readonly slicesByIP = new Map<string, SliceEntry[]>();
  private readonly namespaces = new Set<string>();
  /** Pod IP → `namespace/name` of the pods with it (kept only for "pods verified"). */
  private readonly podsByIP = new Map<string, Set<string>>();
  private readonly podIPs = new Map<string, string[]>();
  private synced: () => boolean = () => true;

  /** How the index learns it has seen the whole cluster (informers synced). */
  setSyncedCheck(check: () => boolean): void {
    this.synced = check;
  }

  hasSynced(): boolean {
    return this.synced();
  }

  private touch(): void {
    this.generation++;
    this.modified = Math.floor(Date.now() / 1000);
  }

  upsertService(svc: Readonly<Service>): void {
    const e = toServiceEntry(svc);
    this.removeService(e.namespace, e.name, false);
    const key = serviceKey(e.name, e.namespace);
    this.services.set(key, e);
    for (const ip of e.clusterIPs) {
      if (!ip || ip === 'None') continue;
      const list = this.servicesByIP.get(ip) ?? [];
      list.push(e);
      this.servicesByIP.set(ip, list);
    }
    this.touch();
  }

  deleteService(svc: Readonly<Service>): void {
    this.removeService(svc.metadata?.namespace ?? 'default', svc.metadata?.name ?? '', true);
  }

  private removeService(namespace: string, name: string, touch: boolean): void {
    const key = serviceKey(name, namespace);
    const old = this.services.get(key);
    if (!old) return;
    this.services.delete(key);
    for (const ip of old.clusterIPs) {
      const list = this.servicesByIP.get(ip)?.filter((s) => s !== old);
      if (list && list.length > 0) this.servicesByIP.set(ip, list);
      else this.servicesByIP.delete(ip);
    }
    if (touch) this.touch();
  }

  upsertSlice(slice: Readonly<EndpointSlice>): void {
    const e = toSliceEntry(slice);
    this.removeSlice(slice.metadata?.namespace ?? 'default', slice.metadata?.name ?? '', false);
    if (e) {
      const key = `${e.namespace}/${e.name}`;
      this.slices.set(key, e);
      const bySvc = this.slicesByService.get(e.serviceKey) ?? new Map<string, SliceEntry>();
      bySvc.set(key, e);
      this.slicesByService.set(e.serviceKey, bySvc);
      for (const a of e.addresses) {
        const list = this.slicesByIP.get(a.ip) ?? [];
        if (!list.includes(e)) list.push(e);
        this.slicesByIP.set(a.ip, list);
      }
    }
    this.touch();
  }

  deleteSlice(slice: Readonly<EndpointSlice>): void {
    this.removeSlice(slice.metadata?.namespace ?? 'default', slice.metadata?.name ?? '', true);
  }

  private removeSlice(namespace: string, name: string, touch: boolean): void {
    const key = `${namespace}/${name}`;
    const old = this.slices.get(key);
    if (!old) return;
    this.slices.delete(key);
    const bySvc = this.slicesByService.get(old.serviceKey);
    bySvc?.delete(key);
    if (bySvc && bySvc.size === 0) this.slicesByService.delete(old.serviceKey);
    for (const a of old.addresses) {
      const list = this.slicesByIP.get(a.ip)?.filter((s) => s !== old);
      if (list && list.length > 0) this.slicesByIP.set(a.ip, list);
      else this.slicesByIP.delete(a.ip);
    }
    if (touch) this.touch();
  }

  upsertNamespace(ns: Readonly<Namespace>): void {
    if (ns.metadata?.name) this.namespaces.add(ns.metadata.name);
    this.touch();
  }

  deleteNamespace(ns: Readonly<Namespace>): void {
    if (ns.metadata?.name) this.namespaces.delete(ns.metadata.name);
    this.touch();
  }

  upsertPod(pod: Readonly<Pod>): void {
    const key = `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? ''}`;
    this.removePod(key);
    const ips = (pod.status?.podIPs?.map((p) => p.ip ?? '') ?? (pod.status?.podIP ? [pod.status.podIP] : [])).filter((ip) => ip !== '').map(canonicalIP);
    for (const ip of ips) {
      const set = this.podsByIP.get(ip) ?? new Set<string>();
      set.add(key);
      this.podsByIP.set(ip, set);
    }
    this.podIPs.set(key, ips);
    this.touch();
  }

  deletePod(pod: Readonly<Pod>): void {
    this.removePod(`${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? ''}`);
    this.touch();
  }

  private removePod(key: string): void {
    for (const ip of this.podIPs.get(key) ?? []) {
      const set = this.podsByIP.get(ip);
      set?.delete(key);
      if (set && set.size === 0) this.podsByIP.delete(ip);
    }
    this.podIPs.delete(key);
  }

  /** Whether a pod in `namespace` has address `ip` ("pods verified"). */
  podExists(namespace: string, ip: string): boolean {
    for (const key of this.podsByIP.get(canonicalIP(ip)) ?? []) if (key.startsWith(`${namespace}/`)) return true;
    return false;
  }

  namespaceExists(name: string): boolean {
    return this.namespaces.has(name);
  }

  service(name: string, namespace: string): ServiceEntry | undefined {
    return this.services.get(serviceKey(name, namespace));
  }

  /** The EndpointSlices of `service.namespace`. */
  slicesOf(key: string): Iterable<SliceEntry> {
    return this.slicesByService.get(key)?.values() ?? [];
  }

  servicesWithIP(ip: string): readonly ServiceEntry[] {
    return this.servicesByIP.get(ip) ?? [];
  }

  slicesWithIP(ip: string): readonly SliceEntry[] {
    return this.slicesByIP.get(ip) ?? [];
  }

  counts(): { services: number; slices: number; namespaces: number } {
    return { services: this.services.size, slices: this.slices.size, namespaces: this.namespaces.size };
  }
}
