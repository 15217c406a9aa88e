// Service and EndpointSlice change tracking (upstream ServiceChangeTracker + EndpointsChangeTracker):
// informer events mark Services dirty; update() folds the dirty ones into the model and says which
// service ports really changed, which is what a partial sync rewrites. It also works out the UDP
// flows that became stale, for conntrack cleanup after the sync.
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { categorizeEndpoints, endpointsFromSlices, servicePortsFromService, sliceServiceKey } from './serviceModel.js';
import type { EndpointInfo, IPFamily, ServicePortInfo, SyncResult } from './types.js';

/** The annotation the EndpointSlice controller sets to when the change that caused a slice update happened. */
export const LAST_CHANGE_TRIGGER_TIME = 'endpoints.kubernetes.io/last-change-trigger-time';

export type StaleUDP = SyncResult['staleUDP'];

export interface TrackerUpdate {
  /** servicePortNameKeys whose ServicePortInfo was added, changed or removed. */
  services: Set<string>;
  /** servicePortNameKeys whose endpoints were added, changed or removed. */
  endpoints: Set<string>;
  /** Trigger times (ms) of the endpoint changes folded in, for the network programming latency. */
  triggerTimes: number[];
  /** UDP flows made stale by this update. */
  staleUDP: StaleUDP;
}

export function emptyStaleUDP(): StaleUDP {
  return { serviceIPs: [], nodePorts: [], endpoints: [] };
}

/** Adds `b` to `a`, skipping duplicates. */
export function mergeStaleUDP(a: StaleUDP, b: StaleUDP): void {
  for (const ip of b.serviceIPs) if (!a.serviceIPs.includes(ip)) a.serviceIPs.push(ip);
  for (const p of b.nodePorts) if (!a.nodePorts.includes(p)) a.nodePorts.push(p);
  for (const e of b.endpoints) if (!a.endpoints.some((x) => x.serviceIP === e.serviceIP && x.endpointIP === e.endpointIP)) a.endpoints.push(e);
}

export class ProxyChangeTracker {
  private readonly serviceObjs = new Map<string, Readonly<Service>>();
  private readonly sliceObjs = new Map<string, Map<string, Readonly<EndpointSlice>>>();
  private readonly dirtyServices = new Set<string>();
  private readonly dirtyEndpoints = new Set<string>();
  private pendingTriggerTimes: number[] = [];
  /** The model: service ports and their endpoints, keyed by servicePortNameKey. */
  readonly services = new Map<string, ServicePortInfo>();
  readonly endpoints = new Map<string, EndpointInfo[]>();
  /** ns/name → the port keys it contributed, so a Service's removal removes them all. */
  private readonly serviceKeys = new Map<string, Set<string>>();
  private readonly endpointKeys = new Map<string, Set<string>>();

  constructor(
    readonly family: IPFamily,
    readonly nodeName: string,
  ) {}

  /** Records a Service add/update (obj) or delete (deleted = true). Returns true if anything is now pending. */
  onService(svc: Readonly<Service>, deleted = false): boolean {
    const key = `${svc.metadata?.namespace ?? 'default'}/${svc.metadata?.name ?? ''}`;
    const prev = this.serviceObjs.get(key);
    if (deleted) {
      if (!prev) return this.dirtyServices.size > 0;
      this.serviceObjs.delete(key);
    } else {
      // Informer resyncs hand the same object again; only a new resourceVersion is a change.
      if (prev && prev.metadata?.resourceVersion && prev.metadata.resourceVersion === svc.metadata?.resourceVersion) return this.dirtyServices.size > 0;
      this.serviceObjs.set(key, svc);
    }
    this.dirtyServices.add(key);
    return true;
  }

  /** Records an EndpointSlice add/update or delete. Slices without the service-name label are ignored. */
  onEndpointSlice(slice: Readonly<EndpointSlice>, deleted = false): boolean {
    const svcKey = sliceServiceKey(slice);
    if (!svcKey) return false;
    const name = slice.metadata?.name ?? '';
    let byName = this.sliceObjs.get(svcKey);
    const prev = byName?.get(name);
    if (deleted) {
      if (!prev) return this.dirtyEndpoints.size > 0;
      byName!.delete(name);
      if (byName!.size === 0) this.sliceObjs.delete(svcKey);
    } else {
      if (prev && prev.metadata?.resourceVersion && prev.metadata.resourceVersion === slice.metadata?.resourceVersion) return this.dirtyEndpoints.size > 0;
      if (!byName) this.sliceObjs.set(svcKey, (byName = new Map()));
      byName.set(name, slice);
      const t = Date.parse(slice.metadata?.annotations?.[LAST_CHANGE_TRIGGER_TIME] ?? '');
      if (Number.isFinite(t)) this.pendingTriggerTimes.push(t);
    }
    this.dirtyEndpoints.add(svcKey);
    return true;
  }

  /** Services (ns/name) with changes not yet folded into the model. */
  pending(): { services: number; endpoints: number } {
    return { services: this.dirtyServices.size, endpoints: this.dirtyEndpoints.size };
  }

  /** Folds pending changes into the model; reports the port keys that really changed. */
  update(): TrackerUpdate {
    const result: TrackerUpdate = { services: new Set(), endpoints: new Set(), triggerTimes: this.pendingTriggerTimes, staleUDP: emptyStaleUDP() };
    this.pendingTriggerTimes = [];
    const touched = new Set([...this.dirtyServices, ...this.dirtyEndpoints]);
    const oldServices = new Map<string, ServicePortInfo>();
    const oldEndpoints = new Map<string, EndpointInfo[]>();
    for (const svcKey of touched) {
      for (const k of this.serviceKeys.get(svcKey) ?? []) oldServices.set(k, this.services.get(k)!);
      for (const k of this.endpointKeys.get(svcKey) ?? []) oldEndpoints.set(k, this.endpoints.get(k)!);
    }
    for (const svcKey of this.dirtyServices) {
      const obj = this.serviceObjs.get(svcKey);
      const next = obj ? servicePortsFromService(obj, this.family) : new Map<string, ServicePortInfo>();
      const prevKeys = this.serviceKeys.get(svcKey) ?? new Set<string>();
      for (const k of prevKeys) {
        if (!next.has(k)) {
          this.services.delete(k);
          result.services.add(k);
        }
      }
      for (const [k, info] of next) {
        const prev = this.services.get(k);
        if (!prev || JSON.stringify(prev) !== JSON.stringify(info)) result.services.add(k);
        this.services.set(k, info);
      }
      if (next.size) this.serviceKeys.set(svcKey, new Set(next.keys()));
      else this.serviceKeys.delete(svcKey);
    }
    for (const svcKey of this.dirtyEndpoints) {
      const slices = [...(this.sliceObjs.get(svcKey)?.values() ?? [])];
      const next = endpointsFromSlices(slices, this.nodeName, this.family);
      const prevKeys = this.endpointKeys.get(svcKey) ?? new Set<string>();
      for (const k of prevKeys) {
        if (!next.has(k)) {
          this.endpoints.delete(k);
          result.endpoints.add(k);
        }
      }
      for (const [k, eps] of next) {
        const prev = this.endpoints.get(k);
        if (!prev || JSON.stringify(prev) !== JSON.stringify(eps)) result.endpoints.add(k);
        this.endpoints.set(k, eps);
      }
      if (next.size) this.endpointKeys.set(svcKey, new Set(next.keys()));
      else this.endpointKeys.delete(svcKey);
    }
    this.dirtyServices.clear();
    this.dirtyEndpoints.clear();
    const changed = new Set([...result.services, ...result.endpoints]);
    result.staleUDP = staleUDPFlows(changed, oldServices, oldEndpoints, this.services, this.endpoints);
    return result;
  }
}

function serviceIPs(s: ServicePortInfo): string[] {
  return [s.clusterIP, ...s.externalIPs, ...s.loadBalancerVIPs];
}

/**
 * The UDP flows conntrack must forget after a change (upstream conntrack cleanup): flows to service
 * IPs and NodePorts that are gone, flows DNATed to endpoints that can no longer be used, and flows to
 * a service that just got its first endpoint (made while it had none, they would black-hole replies).
 */
export function staleUDPFlows(
  changed: Iterable<string>,
  oldServices: ReadonlyMap<string, ServicePortInfo>,
  oldEndpoints: ReadonlyMap<string, readonly EndpointInfo[]>,
  newServices: ReadonlyMap<string, ServicePortInfo>,
  newEndpoints: ReadonlyMap<string, readonly EndpointInfo[]>,
): StaleUDP {
  const out = emptyStaleUDP();
  const reachable = (svc: ServicePortInfo | undefined, eps: readonly EndpointInfo[] | undefined) => (svc ? categorizeEndpoints(eps ?? [], svc).allReachableEndpoints : []);
  for (const key of changed) {
    const oldSvc = oldServices.get(key);
    const newSvc = newServices.get(key);
    if (oldSvc?.protocol !== 'UDP' && newSvc?.protocol !== 'UDP') continue;
    const stale: StaleUDP = emptyStaleUDP();
    if (oldSvc?.protocol === 'UDP') {
      const keepIPs = newSvc?.protocol === 'UDP' && newSvc.port === oldSvc.port ? serviceIPs(newSvc) : [];
      for (const ip of serviceIPs(oldSvc)) if (!keepIPs.includes(ip)) stale.serviceIPs.push(ip);
      if (oldSvc.nodePort && !(newSvc?.protocol === 'UDP' && newSvc.nodePort === oldSvc.nodePort)) stale.nodePorts.push(oldSvc.nodePort);
    }
    const before = reachable(oldSvc, oldEndpoints.get(key));
    const after = newSvc?.protocol === 'UDP' ? reachable(newSvc, newEndpoints.get(key)) : [];
    if (oldSvc?.protocol === 'UDP' && newSvc?.protocol === 'UDP') {
      const afterIPs = new Set(after.map((e) => `${e.ip}:${e.port}`));
      for (const e of before) {
        if (afterIPs.has(`${e.ip}:${e.port}`)) continue;
        for (const ip of serviceIPs(newSvc)) stale.endpoints.push({ serviceIP: ip, endpointIP: e.ip });
      }
    }
    if (newSvc?.protocol === 'UDP' && before.length === 0 && after.length > 0) {
      for (const ip of serviceIPs(newSvc)) stale.serviceIPs.push(ip);
      if (newSvc.nodePort) stale.nodePorts.push(newSvc.nodePort);
    }
    mergeStaleUDP(out, stale);
  }
  return out;
}
