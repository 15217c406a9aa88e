// Service ClusterIP and NodePort allocation in the API server, as upstream's service REST
// storage does it (pkg/registry/core/service/storage/{alloc,storage}.go and the strategy): IP
// family defaulting for one or two ranges, allocation on create, type changes and dual-stack
// upgrades on update, release on delete — each step undone when the write it belongs to fails.
import type { Store } from '../../storage/store.js';
import { logger } from '../../util/log.js';
import { type FieldError, internalError, invalid, invalidValue } from '../status.js';
import type { K8sObject } from '../watchCache.js';
import { type CIDR, type IP, type IPFamily, formatIP, parseIP } from './ip.js';
import { AllocationError, IPRange, type PortSpan, PortRange, notInRangeIP } from './ranges.js';
import { RangeRegistry } from './rangeRegistry.js';
import { goStrings, needsHealthCheck, validateClusterIPsRelatedFields, validateServiceUpdate } from './validation.js';

const log = logger('service-allocator');

type Obj = Record<string, any>;

export interface ServiceNetworkOptions {
  /** `--service-cluster-ip-range`: one CIDR, or two of different families (primary first). */
  clusterIPRanges: CIDR[];
  /** `--service-node-port-range`. */
  nodePortRange: PortSpan;
}

/** Commits (true) or undoes (false) what a begin step allocated, once the write is known. */
export type Finish = (success: boolean) => Promise<void>;

export const SERVICE_IPS_KEY = '/registry/ranges/serviceips';
export const SECONDARY_SERVICE_IPS_KEY = '/registry/ranges/secondaryserviceips';
export const NODE_PORTS_KEY = '/registry/ranges/servicenodeports';

const otherFamily = (f: IPFamily): IPFamily => (f === 'IPv4' ? 'IPv6' : 'IPv4');
const familyOf = (ip: string): string => parseIP(ip)?.family ?? 'unknown';
const needsClusterIP = (spec: Obj): boolean => spec.type !== 'ExternalName';
const needsNodePort = (spec: Obj): boolean => spec.type === 'NodePort' || spec.type === 'LoadBalancer';
const sameList = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
const emptySelector = (spec: Obj): boolean => !spec.selector || Object.keys(spec.selector).length === 0;
const shouldAllocateNodePorts = (spec: Obj): boolean => spec.type === 'NodePort' || (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false);

/** Every node port a Service holds (the same number for TCP and UDP counts once), with its health check port. */
export function serviceNodePorts(spec: Obj, withHealthCheck: boolean): number[] {
  const out = new Set<number>();
  for (const p of (spec.ports ?? []) as Obj[]) if (p?.nodePort) out.add(p.nodePort);
  if (withHealthCheck && spec.healthCheckNodePort) out.add(spec.healthCheckNodePort);
  return [...out];
}

export class ServiceAllocator {
  readonly primaryFamily: IPFamily;
  readonly ipRegistries = new Map<IPFamily, RangeRegistry<IP, IPRange>>();
  readonly portRegistry: RangeRegistry<number, PortRange>;

  constructor(
    store: Store,
    readonly options: ServiceNetworkOptions,
  ) {
    const [primary, secondary] = options.clusterIPRanges;
    if (!primary) throw new Error('at least one service cluster IP range is needed');
    if (secondary && secondary.family === primary.family) throw new Error('the two service cluster IP ranges must be of different IP families');
    this.primaryFamily = primary.family;
    this.ipRegistries.set(primary.family, new RangeRegistry(store, SERVICE_IPS_KEY, () => new IPRange(primary)));
    if (secondary) this.ipRegistries.set(secondary.family, new RangeRegistry(store, SECONDARY_SERVICE_IPS_KEY, () => new IPRange(secondary)));
    this.portRegistry = new RangeRegistry(store, NODE_PORTS_KEY, () => new PortRange(options.nodePortRange));
  }

  /** The configured range of a family. */
  cidr(family: IPFamily): CIDR | undefined {
    return this.options.clusterIPRanges.find((c) => c.family === family);
  }

  // ---- create ----

  /** Upstream's beginCreate: IP families, ClusterIPs, NodePorts and the health check port. */
  async beginCreate(svc: K8sObject, dryRun: boolean): Promise<Finish> {
    const spec: Obj = (svc.spec ??= {});
    normalizeClusterIPs(spec, undefined);
    this.initIPFamilyFields(svc, undefined);
    const ips = await this.allocClusterIPs(svc, dryRun);
    let ports: number[];
    try {
      ports = await this.allocNodePortsCreate(svc, dryRun);
    } catch (err) {
      await this.releaseIPs(ips, dryRun);
      throw err;
    }
    tidy(spec);
    return async (ok) => {
      if (ok) {
        if (!dryRun && ips.size > 0) log.info({ service: `${svc.metadata.namespace}/${svc.metadata.name}`, clusterIPs: [...ips.values()] }, 'allocated clusterIPs');
        return;
      }
      await this.releaseIPs(ips, dryRun);
      await this.releasePorts(ports, dryRun);
    };
  }

  /** Upstream's initIPFamilyFields: defaults and checks ipFamilyPolicy/ipFamilies against the cluster's ranges. */
  initIPFamilyFields(svc: K8sObject, old: Obj | undefined): void {
    const spec: Obj = svc.spec;
    const name = String(svc.metadata.name ?? '');
    if (spec.type === 'ExternalName') return;
    if (isMatchingPreferDualStack(spec, old)) return;
    if (spec.ipFamilyPolicy === undefined || spec.ipFamilyPolicy === null) {
      if (old && old.ipFamilyPolicy) spec.ipFamilyPolicy = old.ipFamilyPolicy;
      else if (spec.clusterIP === 'None' && emptySelector(spec)) spec.ipFamilyPolicy = 'RequireDualStack';
      else spec.ipFamilyPolicy = 'SingleStack';
    }
    const pre = validateClusterIPsRelatedFields(spec);
    if (pre.length) throw invalid('Service', '', name, pre);
    spec.clusterIPs = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : [];
    spec.ipFamilies = Array.isArray(spec.ipFamilies) ? spec.ipFamilies : [];
    const errs: FieldError[] = [];
    if (old) {
      if (spec.ipFamilyPolicy === 'SingleStack') {
        if (sameClusterIPs(old, spec) && spec.clusterIPs.length > 1) spec.clusterIPs = spec.clusterIPs.slice(0, 1);
        if (sameList(old.ipFamilies, spec.ipFamilies) && spec.ipFamilies.length > 1) spec.ipFamilies = spec.ipFamilies.slice(0, 1);
      } else {
        if (spec.clusterIPs.length > 0 && spec.clusterIPs.length < (old.clusterIPs ?? []).length) {
          errs.push(invalidValue('spec.ipFamilyPolicy', spec.ipFamilyPolicy, "must be 'SingleStack' to release the secondary cluster IP"));
        }
        if (spec.ipFamilies.length > 0 && spec.ipFamilies.length < (old.ipFamilies ?? []).length) {
          errs.push(invalidValue('spec.ipFamilyPolicy', spec.ipFamilyPolicy, "must be 'SingleStack' to release the secondary IP family"));
        }
      }
    }
    if (spec.ipFamilyPolicy === 'SingleStack') {
      if (spec.clusterIPs.length === 2) errs.push(invalidValue('spec.ipFamilyPolicy', spec.ipFamilyPolicy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"));
      if (spec.ipFamilies.length === 2) errs.push(invalidValue('spec.ipFamilyPolicy', spec.ipFamilyPolicy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"));
    }
    for (let i = 0; i < spec.clusterIPs.length; i++) {
      const ip = spec.clusterIPs[i];
      if (ip === 'None') break;
      const fam = familyOf(ip);
      if (i >= spec.ipFamilies.length) {
        if (!this.ipRegistries.has(fam as IPFamily)) errs.push(invalidValue(`spec.clusterIPs[${i}]`, goStrings(spec.clusterIPs), `${fam} is not configured on this cluster`));
        else spec.ipFamilies.push(fam);
      }
    }
    if (errs.length) throw invalid('Service', '', name, errs);
    if (spec.clusterIP === 'None' && emptySelector(spec)) {
      // Headless and selectorless: its endpoints may be of any family, so both are allowed.
      if (spec.ipFamilies.length === 0) spec.ipFamilies = [this.primaryFamily];
      if (spec.ipFamilies.length < 2 && spec.ipFamilyPolicy !== 'SingleStack') spec.ipFamilies.push(otherFamily(spec.ipFamilies[0]));
      return;
    }
    if (spec.ipFamilyPolicy === 'RequireDualStack' && this.ipRegistries.size < 2) {
      errs.push(invalidValue('spec.ipFamilyPolicy', spec.ipFamilyPolicy, 'this cluster is not configured for dual-stack services'));
    }
    spec.ipFamilies.forEach((f: string, i: number) => {
      if (!this.ipRegistries.has(f as IPFamily)) errs.push(invalidValue(`spec.ipFamilies[${i}]`, f, 'not configured on this cluster'));
    });
    if (errs.length) throw invalid('Service', '', name, errs);
    if (spec.ipFamilies.length === 0) spec.ipFamilies = [this.primaryFamily];
    if (spec.ipFamilyPolicy !== 'SingleStack' && spec.ipFamilies.length === 1 && this.ipRegistries.size === 2) spec.ipFamilies.push(otherFamily(spec.ipFamilies[0]));
  }

  /** ClusterIPs for every family of a new (or formerly ExternalName) Service; returns what it took. */
  private async allocClusterIPs(svc: K8sObject, dryRun: boolean): Promise<Map<IPFamily, string>> {
    const spec: Obj = svc.spec;
    if (spec.type === 'ExternalName') return new Map();
    if (Array.isArray(spec.clusterIPs) && spec.clusterIPs[0] === 'None') return new Map();
    spec.clusterIPs = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : [];
    const toAlloc = new Map<IPFamily, string>();
    (spec.ipFamilies as IPFamily[]).forEach((f, i) => {
      if (i > spec.clusterIPs.length - 1) spec.clusterIPs.push('');
      toAlloc.set(f, spec.clusterIPs[i]);
    });
    const allocated = await this.allocIPs(svc, toAlloc, dryRun);
    (spec.ipFamilies as IPFamily[]).forEach((f, i) => {
      const ip = allocated.get(f);
      if (ip === undefined) return;
      spec.clusterIPs[i] = ip;
      if (i === 0) spec.clusterIP = ip;
    });
    return allocated;
  }

  private async allocIPs(svc: K8sObject, toAlloc: Map<IPFamily, string>, dryRun: boolean): Promise<Map<IPFamily, string>> {
    const allocated = new Map<IPFamily, string>();
    try {
      for (const [family, ip] of toAlloc) {
        const reg = this.ipRegistries.get(family)!;
        const cidr = this.cidr(family)!;
        if (ip === '') {
          if (dryRun) {
            // Upstream's dry run names the range's network address rather than racing for a real one.
            allocated.set(family, formatIP({ family, value: cidr.base }));
            continue;
          }
          try {
            allocated.set(family, formatIP(await reg.apply((r) => r.allocateNext())));
          } catch (err) {
            if (err instanceof AllocationError) throw internalError(`failed to allocate a serviceIP: ${err.message}`);
            throw err;
          }
          continue;
        }
        const parsed = parseIP(ip);
        if (!parsed) throw internalError(`failed to parse service IP "${ip}"`);
        try {
          if (dryRun) {
            // As upstream, a dry run checks the range only; whether the IP is free is a race anyway.
            const range = new IPRange(cidr);
            if (!range.contains(parsed)) throw notInRangeIP(parsed, range.spec);
          } else {
            await reg.apply((r) => r.allocate(parsed));
          }
        } catch (err) {
          if (err instanceof AllocationError) {
            throw invalid('Service', '', String(svc.metadata.name ?? ''), [invalidValue('spec.clusterIPs', goStrings(svc.spec.clusterIPs), `failed to allocate IP ${ip}: ${err.message}`)]);
          }
          throw err;
        }
        allocated.set(family, ip);
      }
    } catch (err) {
      await this.releaseIPs(allocated, dryRun);
      throw err;
    }
    return allocated;
  }

  /** Gives IPs back, one CAS per family. Failures are left for the repair loop to find. */
  async releaseIPs(ips: Map<IPFamily, string>, dryRun: boolean): Promise<void> {
    if (dryRun) return;
    for (const [family, ip] of ips) {
      const reg = this.ipRegistries.get(family);
      const parsed = parseIP(ip);
      if (!reg || !parsed) {
        log.info({ clusterIP: ip, family }, 'not releasing ClusterIP: its family is not configured');
        continue;
      }
      await reg.apply((r) => r.release(parsed)).catch((err: unknown) => log.error({ err, clusterIP: ip }, 'failed to release a ClusterIP; the repair loop will'));
    }
  }

  async releasePorts(ports: number[], dryRun: boolean): Promise<void> {
    if (dryRun || ports.length === 0) return;
    await this.portRegistry
      .apply((r) => {
        for (const p of ports) r.release(p);
      })
      .catch((err: unknown) => log.error({ err, ports }, 'failed to release node ports; the repair loop will'));
  }

  /** Runs `plan` on the node port range: stored at once, or on a scratch copy for a dry run. */
  private async withPorts<V>(dryRun: boolean, plan: (r: PortRange) => V): Promise<V> {
    if (dryRun) return plan((await this.portRegistry.read()).range);
    return this.portRegistry.apply(plan);
  }

  /** Upstream's initNodePorts and allocHealthCheckNodePort; returns the ports taken. */
  private async allocNodePortsCreate(svc: K8sObject, dryRun: boolean): Promise<number[]> {
    const spec: Obj = svc.spec;
    const wantNodePorts = needsNodePort(spec);
    const wantHC = needsHealthCheck(spec);
    if (!wantNodePorts && !wantHC) return [];
    const name = String(svc.metadata.name ?? '');
    const original: Obj[] = structuredClone(spec.ports ?? []);
    const result = await this.withPorts(dryRun, (r) => {
      const ports: Obj[] = structuredClone(original);
      let hc: number = spec.healthCheckNodePort ?? 0;
      const taken: number[] = [];
      if (wantNodePorts) {
        const byServicePort = new Map<number, number>();
        ports.forEach((sp, i) => {
          if (!sp.nodePort && !shouldAllocateNodePorts(spec)) return;
          const already = byServicePort.get(sp.port) ?? 0;
          if (already === 0) {
            // A node port requested for the same port number (on another protocol) is shared.
            const requested = ports.find((o) => o.port === sp.port && o.nodePort)?.nodePort ?? 0;
            if (requested) {
              takePort(r, requested, taken, name, `spec.ports[${i}].nodePort`);
              sp.nodePort = requested;
              byServicePort.set(sp.port, requested);
            } else {
              sp.nodePort = nextPort(r, taken, 'failed to allocate a nodePort');
              byServicePort.set(sp.port, sp.nodePort);
            }
          } else if (sp.nodePort !== already) {
            if (!sp.nodePort) sp.nodePort = already;
            else takePort(r, sp.nodePort, taken, name, `spec.ports[${i}].nodePort`);
          }
        });
      }
      if (wantHC) hc = allocHealthCheckNodePort(r, hc, taken);
      return { ports, hc, taken };
    });
    if (wantNodePorts) spec.ports = result.ports;
    if (wantHC) spec.healthCheckNodePort = result.hc;
    return result.taken;
  }

  // ---- update ----

  /** Upstream's beginUpdate; `old` is the stored object. */
  async beginUpdate(svc: K8sObject, old: K8sObject, dryRun: boolean): Promise<Finish> {
    const spec: Obj = (svc.spec ??= {});
    const oldSpec: Obj = old.spec ?? {};
    patchAllocatedValues(spec, oldSpec);
    normalizeClusterIPs(spec, oldSpec);
    this.initIPFamilyFields(svc, oldSpec);
    const ipChange = await this.updateClusterIPs(svc, oldSpec, dryRun);
    let portChange: { taken: number[]; release: number[] };
    try {
      portChange = await this.updateNodePorts(svc, oldSpec, dryRun);
    } catch (err) {
      await this.releaseIPs(ipChange.allocated, dryRun);
      throw err;
    }
    tidy(spec);
    return async (ok) => {
      if (ok) {
        await this.releaseIPs(ipChange.release, dryRun);
        await this.releasePorts(portChange.release, dryRun);
        return;
      }
      await this.releaseIPs(ipChange.allocated, dryRun);
      await this.releasePorts(portChange.taken, dryRun);
    };
  }

  /** Type changes and dual-stack upgrades/downgrades; releases happen only on commit. */
  private async updateClusterIPs(svc: K8sObject, old: Obj, dryRun: boolean): Promise<{ allocated: Map<IPFamily, string>; release: Map<IPFamily, string> }> {
    const spec: Obj = svc.spec;
    const none = { allocated: new Map<IPFamily, string>(), release: new Map<IPFamily, string>() };
    if (isMatchingPreferDualStack(spec, old)) return none;
    if (old.type === 'ExternalName' && spec.type !== 'ExternalName') return { allocated: await this.allocClusterIPs(svc, dryRun), release: new Map() };
    if (Array.isArray(old.clusterIPs) && old.clusterIPs[0] === 'None') return none;
    if (old.type !== 'ExternalName' && spec.type === 'ExternalName') {
      const release = new Map<IPFamily, string>();
      (old.ipFamilies ?? []).forEach((f: IPFamily, i: number) => {
        if (old.clusterIPs?.[i]) release.set(f, old.clusterIPs[i]);
      });
      return { allocated: new Map(), release };
    }
    const oldFamilies: string[] = old.ipFamilies ?? [];
    const families: IPFamily[] = spec.ipFamilies ?? [];
    if (oldFamilies.length === 1 && families.length === 2) {
      if (spec.clusterIPs.length < 2) spec.clusterIPs.push('');
      const allocated = await this.allocIPs(svc, new Map([[families[1]!, spec.clusterIPs[1]]]), dryRun);
      spec.clusterIPs[1] = allocated.get(families[1]!);
      return { allocated, release: new Map() };
    }
    if (oldFamilies.length === 2 && families.length === 1 && old.clusterIPs?.[1]) {
      return { allocated: new Map(), release: new Map([[oldFamilies[1] as IPFamily, old.clusterIPs[1]]]) };
    }
    return none;
  }

  /** Upstream's txnUpdateNodePorts: what this update takes now and what it gives back on commit. */
  private async updateNodePorts(svc: K8sObject, old: Obj, dryRun: boolean): Promise<{ taken: number[]; release: number[] }> {
    const spec: Obj = svc.spec;
    const name = String(svc.metadata.name ?? '');
    const release: number[] = [];
    const oldPorts = serviceNodePorts(old, false);
    if (needsNodePort(old) && (spec.type === 'ExternalName' || spec.type === 'ClusterIP')) release.push(...oldPorts);
    const wantNodePorts = needsNodePort(spec);
    const neededHC = needsHealthCheck(old);
    const needsHC = needsHealthCheck(spec);
    if (neededHC && !needsHC && old.healthCheckNodePort) release.push(old.healthCheckNodePort);
    const mustAllocate =
      (wantNodePorts && ((spec.ports ?? []) as Obj[]).some((p) => (p.nodePort ? !oldPorts.includes(p.nodePort) : shouldAllocateNodePorts(spec)))) || (!neededHC && needsHC);
    let taken: number[] = [];
    if (mustAllocate) {
      const original: Obj[] = structuredClone(spec.ports ?? []);
      const result = await this.withPorts(dryRun, (r) => {
        const ports: Obj[] = structuredClone(original);
        const got: number[] = [];
        let hc: number = spec.healthCheckNodePort ?? 0;
        if (wantNodePorts) {
          const seen = new Set<string>();
          const allocatedHere = new Set<number>();
          ports.forEach((sp, i) => {
            if (!sp.nodePort && !shouldAllocateNodePorts(spec)) return;
            if (sp.nodePort) {
              if (!oldPorts.includes(sp.nodePort) && !allocatedHere.has(sp.nodePort)) {
                takePort(r, sp.nodePort, got, name, `spec.ports[${i}].nodePort`);
                allocatedHere.add(sp.nodePort);
              }
            } else {
              sp.nodePort = nextPort(r, got, 'failed to allocate a nodePort');
            }
            const key = `${sp.protocol}/${sp.nodePort}`;
            if (seen.has(key)) throw internalError(`duplicate nodePort: {${sp.protocol} ${sp.nodePort}}`);
            seen.add(key);
          });
        }
        if (!neededHC && needsHC) hc = allocHealthCheckNodePort(r, hc, got);
        return { ports, hc, got };
      });
      if (wantNodePorts) spec.ports = result.ports;
      if (!neededHC && needsHC) spec.healthCheckNodePort = result.hc;
      taken = result.got;
    }
    if (wantNodePorts) {
      const now = serviceNodePorts(spec, false);
      for (const p of oldPorts) if (!now.includes(p)) release.push(p);
    }
    return { taken, release: [...new Set(release)] };
  }

  // ---- delete ----

  /** Upstream's releaseAllocatedResources, after the Service is gone. */
  async releaseAllocated(svc: K8sObject, dryRun: boolean): Promise<void> {
    if (dryRun) return;
    const spec: Obj = svc.spec ?? {};
    if (spec.type !== 'ExternalName' && !(Array.isArray(spec.clusterIPs) && spec.clusterIPs[0] === 'None')) {
      const ips = new Map<IPFamily, string>();
      const list: string[] = Array.isArray(spec.clusterIPs) && spec.clusterIPs.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
      for (const ip of list) {
        const p = parseIP(ip);
        if (p) ips.set(p.family, ip);
      }
      await this.releaseIPs(ips, false);
    }
    await this.releasePorts(serviceNodePorts(spec, needsHealthCheck(spec)), false);
  }

  // ---- the strategy's share ----

  /** Update-time checks beyond ValidateService (immutable clusterIPs, health check port, LB class). */
  validateUpdate(svc: K8sObject, old: K8sObject): FieldError[] {
    return validateServiceUpdate(svc.spec ?? {}, old.spec ?? {});
  }
}

function takePort(r: PortRange, port: number, taken: number[], name: string, path: string): void {
  try {
    r.allocate(port);
  } catch (err) {
    if (err instanceof AllocationError) throw invalid('Service', '', name, [invalidValue(path, port, err.message)]);
    throw err;
  }
  taken.push(port);
}

function nextPort(r: PortRange, taken: number[], what: string): number {
  try {
    const p = r.allocateNext();
    taken.push(p);
    return p;
  } catch (err) {
    if (err instanceof AllocationError) throw internalError(`${what}: ${err.message}`);
    throw err;
  }
}

function allocHealthCheckNodePort(r: PortRange, requested: number, taken: number[]): number {
  if (requested) {
    try {
      r.allocate(requested);
    } catch (err) {
      if (err instanceof AllocationError) throw internalError(`failed to allocate requested HealthCheck NodePort ${requested}: ${err.message}`);
      throw err;
    }
    taken.push(requested);
    return requested;
  }
  try {
    const p = r.allocateNext();
    taken.push(p);
    return p;
  } catch (err) {
    if (err instanceof AllocationError) throw internalError(`failed to allocate a HealthCheck NodePort 0: ${err.message}`);
    throw err;
  }
}

function sameClusterIPs(a: Obj, b: Obj): boolean {
  return sameList(a.clusterIPs, b.clusterIPs);
}

/** Drops empty lists Go would omit, so stored Services read as upstream's do. */
function tidy(spec: Obj): void {
  if (Array.isArray(spec.clusterIPs) && spec.clusterIPs.length === 0) delete spec.clusterIPs;
  if (Array.isArray(spec.ipFamilies) && spec.ipFamilies.length === 0) delete spec.ipFamilies;
}

function isMatchingPreferDualStack(spec: Obj, old: Obj | undefined): boolean {
  if (!old || spec.ipFamilyPolicy === undefined || spec.ipFamilyPolicy === null) return false;
  if (old.type !== spec.type) return false;
  if (!['ClusterIP', 'NodePort', 'LoadBalancer'].includes(spec.type)) return false;
  if (spec.ipFamilyPolicy !== 'PreferDualStack') return false;
  if (old.ipFamilyPolicy && old.ipFamilyPolicy !== 'PreferDualStack') return false;
  return sameClusterIPs(old, spec) && sameList(old.ipFamilies, spec.ipFamilies);
}

/** Upstream's normalizeClusterIPs: keeps clusterIP and clusterIPs in step for old and new clients. */
export function normalizeClusterIPs(spec: Obj, old: Obj | undefined): void {
  const ip = spec.clusterIP ?? '';
  const ips: unknown[] = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : [];
  if (!old) {
    if (ip !== '' && ips.length === 0) spec.clusterIPs = [ip];
    return;
  }
  const oldIP = old.clusterIP ?? '';
  if ((old.clusterIPs ?? []).length > 0 && ips.length === 0 && oldIP === ip) spec.clusterIPs = old.clusterIPs;
  if (oldIP !== (spec.clusterIP ?? '')) {
    if (oldIP !== '' && (spec.clusterIP ?? '') === '') {
      if (sameList(old.clusterIPs, spec.clusterIPs)) delete spec.clusterIPs;
    } else if (sameList(old.clusterIPs, spec.clusterIPs)) {
      spec.clusterIPs = [spec.clusterIP];
    }
  }
}

/** Upstream's patchAllocatedValues: a re-applied manifest without the allocated values keeps them. */
export function patchAllocatedValues(spec: Obj, old: Obj): void {
  if (needsClusterIP(old) && needsClusterIP(spec)) {
    if (!spec.clusterIP && old.clusterIP) spec.clusterIP = old.clusterIP;
    if ((spec.clusterIPs ?? []).length === 0 && (old.clusterIPs ?? []).length > 0) spec.clusterIPs = [...old.clusterIPs];
  }
  if (needsNodePort(old) && needsNodePort(spec)) {
    const used = (s: Obj) => new Set(((s.ports ?? []) as Obj[]).filter((p) => p?.nodePort).map((p) => p.nodePort as number));
    const oldUsed = used(old);
    const both = new Set([...used(spec)].filter((p) => oldUsed.has(p)));
    const byName = new Map<string, number>();
    for (const p of (old.ports ?? []) as Obj[]) byName.set(p.name ?? '', p.nodePort ?? 0);
    for (const p of (spec.ports ?? []) as Obj[]) {
      if (p && !p.nodePort) {
        const v = byName.get(p.name ?? '') ?? 0;
        if (v && !both.has(v)) p.nodePort = v;
      }
    }
  }
  if (needsHealthCheck(old) && needsHealthCheck(spec) && !spec.healthCheckNodePort && old.healthCheckNodePort) spec.healthCheckNodePort = old.healthCheckNodePort;
}

/**
 * Upstream's dropTypeDependentFields (strategy PrepareForUpdate): values allocated for a type the
 * Service no longer has are wiped when the user left them as they were, so they can be released.
 */
export function dropTypeDependentFields(svc: K8sObject, old: K8sObject): void {
  const spec: Obj = svc.spec ?? {};
  const o: Obj = old.spec ?? {};
  if (needsClusterIP(o) && !needsClusterIP(spec)) {
    if ((o.clusterIP ?? '') === (spec.clusterIP ?? '') && sameList(o.clusterIPs, spec.clusterIPs)) {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
    if (sameList(o.ipFamilies, spec.ipFamilies)) delete spec.ipFamilies;
    if ((o.ipFamilyPolicy ?? '') === (spec.ipFamilyPolicy ?? '')) delete spec.ipFamilyPolicy;
  }
  if (needsNodePort(o) && !needsNodePort(spec)) {
    const oldPorts = new Set(serviceNodePorts(o, false));
    if (serviceNodePorts(spec, false).every((p) => oldPorts.has(p))) for (const p of (spec.ports ?? []) as Obj[]) if (p) delete p.nodePort;
  }
  if (needsHealthCheck(o) && !needsHealthCheck(spec) && (o.healthCheckNodePort ?? 0) === (spec.healthCheckNodePort ?? 0)) delete spec.healthCheckNodePort;
  if (o.type === 'LoadBalancer' && spec.type !== 'LoadBalancer') {
    if (typeof spec.allocateLoadBalancerNodePorts === 'boolean' && spec.allocateLoadBalancerNodePorts === o.allocateLoadBalancerNodePorts) delete spec.allocateLoadBalancerNodePorts;
    if ((o.loadBalancerClass ?? null) === (spec.loadBalancerClass ?? null)) delete spec.loadBalancerClass;
  }
  if (needsNodePortOrExternal(o) && !needsNodePortOrExternal(spec) && (o.externalTrafficPolicy ?? '') === (spec.externalTrafficPolicy ?? '')) delete spec.externalTrafficPolicy;
  if (spec.type !== 'LoadBalancer' && svc.status && typeof svc.status === 'object') svc.status = { ...svc.status, loadBalancer: {} };
}

const needsNodePortOrExternal = (s: Obj): boolean => s.type === 'NodePort' || s.type === 'LoadBalancer';

