// Upstream's ClusterIP and NodePort repair controllers (pkg/registry/core/service/{ipallocator,
// portallocator}/controller/repair.go): rebuild each range from the stored Services, report
// Services whose values are invalid, duplicated or out of range as events, and release values no
// Service holds after they were seen leaked three times in a row (an allocation may be in flight).
import { logger } from '../../util/log.js';
import type { K8sObject } from '../watchCache.js';
import { type ServiceAllocator, serviceNodePorts } from './allocator.js';
import { type IPFamily, formatCIDR, formatIP, parseIP } from './ip.js';
import { AllocationError, IPRange, PortRange } from './ranges.js';

const log = logger('service-allocator-repair');

/** How many runs must see a value leaked before it is released (upstream's numRepairsBeforeLeakCleanup). */
export const REPAIRS_BEFORE_LEAK_CLEANUP = 3;
export const IP_REPAIR_COMPONENT = 'ipallocator-repair-controller';
export const PORT_REPAIR_COMPONENT = 'portallocator-repair-controller';
/** Upstream repairs every 3 minutes. */
export const DEFAULT_REPAIR_INTERVAL_MS = 3 * 60_000;

export interface RepairEvent {
  service: K8sObject;
  reason: string;
  message: string;
  component: string;
  /** The events.k8s.io action. */
  action: string;
}

export interface RepairDeps {
  /** Every Service, read after the ranges (so a Service created in between is seen). */
  listServices(): Promise<K8sObject[]>;
  recordEvent(e: RepairEvent): Promise<void>;
}

const CONFLICT_RETRIES = 4;

type Obj = Record<string, any>;

export class ServiceAllocationRepair {
  private readonly ipLeaks = new Map<string, number>();
  private readonly portLeaks = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly alloc: ServiceAllocator,
    private readonly deps: RepairDeps,
  ) {}

  /** One pass over both kinds of range, retried when an allocation raced the rewrite. */
  async runOnce(): Promise<void> {
    await this.retryOnConflict(() => this.repairIPs());
    await this.retryOnConflict(() => this.repairPorts());
  }

  /** Repairs every `intervalMs` until stop(); a failed pass is logged and the next one tries again. */
  start(intervalMs = DEFAULT_REPAIR_INTERVAL_MS): void {
    this.stop();
    this.timer = setInterval(() => {
      this.runOnce().catch((err: unknown) => log.error({ err }, 'service allocation repair failed'));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async retryOnConflict(pass: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < CONFLICT_RETRIES; i++) {
      if (await pass()) return;
      await new Promise((r) => setTimeout(r, 10 * 5 ** i));
    }
    throw new Error('the service allocation ranges kept changing during repair; it runs again later');
  }

  private event(service: K8sObject, reason: string, message: string, component: string, action: string): Promise<void> {
    return this.deps.recordEvent({ service, reason, message, component, action }).catch((err: unknown) => log.warn({ err, reason }, 'could not record a repair event'));
  }

  /** Returns false on a write conflict. */
  private async repairIPs(): Promise<boolean> {
    const regs = [...this.alloc.ipRegistries.entries()];
    const snaps = await Promise.all(regs.map(([, reg]) => reg.read()));
    const services = await this.deps.listServices();
    const stored = new Map<IPFamily, IPRange>();
    const rebuilt = new Map<IPFamily, IPRange>();
    regs.forEach(([family], i) => {
      stored.set(family, snaps[i]!.range);
      rebuilt.set(family, new IPRange(this.alloc.cidr(family)!));
    });
    for (const svc of services) {
      const spec: Obj = svc.spec ?? {};
      if (!spec.clusterIP || spec.clusterIP === 'None') continue;
      const ips: string[] = Array.isArray(spec.clusterIPs) && spec.clusterIPs.length ? spec.clusterIPs : [spec.clusterIP];
      for (const text of ips) {
        const ip = parseIP(text);
        if (!ip) {
          await this.event(svc, 'ClusterIPNotValid', `Cluster IP ${text} is not a valid IP; please recreate service`, IP_REPAIR_COMPONENT, 'ClusterIPValidation');
          continue;
        }
        const range = rebuilt.get(ip.family);
        if (!range) {
          await this.event(svc, 'ClusterIPNotValid', `Cluster IP ${formatIP(ip)}(${ip.family}) is of ip family that is no longer configured on cluster; please recreate service`, IP_REPAIR_COMPONENT, 'ClusterIPValidation');
          continue;
        }
        const shown = `[${ip.family}]:${formatIP(ip)}`;
        try {
          range.allocate(ip);
          const old = stored.get(ip.family)!;
          if (old.has(ip)) old.release(ip);
          else {
            await this.event(svc, 'ClusterIPNotAllocated', `Cluster IP ${shown} is not allocated; repairing`, IP_REPAIR_COMPONENT, 'ClusterIPAllocation');
            log.warn({ service: `${svc.metadata.namespace}/${svc.metadata.name}`, clusterIP: shown }, 'the cluster IP is not allocated; repairing');
          }
          this.ipLeaks.delete(`${ip.family}/${formatIP(ip)}`);
        } catch (err) {
          if (!(err instanceof AllocationError)) throw err;
          if (err.code === 'Allocated') {
            await this.event(svc, 'ClusterIPAlreadyAllocated', `Cluster IP ${shown} was assigned to multiple services; please recreate service`, IP_REPAIR_COMPONENT, 'ClusterIPAllocation');
          } else if (err.code === 'NotInRange') {
            await this.event(svc, 'ClusterIPOutOfRange', `Cluster IP ${shown} is not within the service CIDR ${range.spec}; please recreate service`, IP_REPAIR_COMPONENT, 'ClusterIPAllocation');
          } else {
            await this.event(svc, 'ServiceCIDRFull', `Service CIDR ${range.spec} is full; you must widen the CIDR in order to create new services for Cluster IP ${shown}`, IP_REPAIR_COMPONENT, 'ClusterIPAllocation');
            throw new Error(`the service CIDR ${range.spec} is full; you must widen the CIDR in order to create new services`);
          }
        }
      }
    }
    for (const [family, old] of stored) {
      const fresh = rebuilt.get(family)!;
      old.forEach((ip) => this.keepOrReleaseLeak(this.ipLeaks, `${family}/${formatIP(ip)}`, `the cluster IP ${formatIP(ip)}`, () => fresh.allocate(ip)));
    }
    for (let i = 0; i < regs.length; i++) {
      const [family, reg] = regs[i]!;
      if (!(await reg.writeIfUnchanged(snaps[i]!, rebuilt.get(family)!))) return false;
      if (snaps[i]!.storedSpec !== undefined && snaps[i]!.storedSpec !== formatCIDR(this.alloc.cidr(family)!)) {
        log.warn({ from: snaps[i]!.storedSpec, to: rebuilt.get(family)!.spec }, 'the service cluster IP range changed; the allocations were rebuilt for the new range');
      }
    }
    return true;
  }

  private async repairPorts(): Promise<boolean> {
    const reg = this.alloc.portRegistry;
    const snap = await reg.read();
    const services = await this.deps.listServices();
    const old = snap.range;
    const fresh = new PortRange(this.alloc.options.nodePortRange);
    for (const svc of services) {
      for (const port of serviceNodePorts(svc.spec ?? {}, true)) {
        try {
          fresh.allocate(port);
          if (old.has(port)) old.release(port);
          else {
            await this.event(svc, 'PortNotAllocated', `Port ${port} is not allocated; repairing`, PORT_REPAIR_COMPONENT, 'PortAllocation');
            log.warn({ service: `${svc.metadata.namespace}/${svc.metadata.name}`, port }, 'the node port is not allocated; repairing');
          }
          this.portLeaks.delete(port);
        } catch (err) {
          if (!(err instanceof AllocationError)) throw err;
          if (err.code === 'Allocated') {
            await this.event(svc, 'PortAlreadyAllocated', `Port ${port} was assigned to multiple services; please recreate service`, PORT_REPAIR_COMPONENT, 'PortAllocation');
          } else if (err.code === 'NotInRange') {
            await this.event(svc, 'PortOutOfRange', `Port ${port} is not within the port range ${fresh.spec}; please recreate service`, PORT_REPAIR_COMPONENT, 'PortAllocation');
          } else {
            await this.event(svc, 'ServicePortRangeFull', `Port range ${fresh.spec} is full; you must widen the port range in order to create new services`, PORT_REPAIR_COMPONENT, 'PortAllocation');
            throw new Error(`the port range ${fresh.spec} is full; you must widen the port range in order to create new services`);
          }
        }
      }
    }
    old.forEach((port) => this.keepOrReleaseLeak(this.portLeaks, port, `the node port ${port}`, () => fresh.allocate(port)));
    return reg.writeIfUnchanged(snap, fresh);
  }

  /** Upstream's checkLeaked: a value no Service holds stays taken for two more runs, then is freed. */
  private keepOrReleaseLeak<K>(leaks: Map<K, number>, key: K, what: string, keep: () => void): void {
    let count = leaks.get(key);
    if (count === undefined) {
      log.warn(`${what} may have leaked: flagging for later clean up`);
      count = REPAIRS_BEFORE_LEAK_CLEANUP - 1;
    }
    if (count > 0) {
      leaks.set(key, count - 1);
      try {
        keep();
      } catch (err) {
        log.warn({ err }, `${what} may have leaked, but can not be allocated`);
      }
      return;
    }
    log.warn(`${what} appears to have leaked: cleaning up`);
    leaks.delete(key);
  }
}
