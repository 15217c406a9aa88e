// The Service registry's strategy: allocation hooks and upstream's PrepareForUpdate, over one
// ServiceAllocator.
import type { RegistryStrategy } from '../registry.js';
import type { K8sObject } from '../watchCache.js';
import { type ServiceAllocator, dropTypeDependentFields, normalizeClusterIPs } from './allocator.js';
import { isIPv6String } from './ip.js';

type Obj = Record<string, any>;

/**
 * Upstream's defaultOnRead for a stored Service that predates these fields: clusterIPs from
 * clusterIP, ipFamilies/ipFamilyPolicy from the IPs.
 */
export function defaultOnRead(svc: K8sObject, primary: 'IPv4' | 'IPv6'): K8sObject {
  const spec: Obj = svc.spec ?? {};
  normalizeClusterIPs(spec, undefined);
  if (spec.type === 'ExternalName' || (Array.isArray(spec.ipFamilies) && spec.ipFamilies.length > 0)) return svc;
  if (spec.clusterIP === 'None') {
    const selectorless = !spec.selector || Object.keys(spec.selector).length === 0;
    spec.ipFamilyPolicy = selectorless ? 'RequireDualStack' : 'SingleStack';
    spec.ipFamilies = selectorless ? [primary, primary === 'IPv4' ? 'IPv6' : 'IPv4'] : [primary];
  } else if (Array.isArray(spec.clusterIPs) && spec.clusterIPs.length > 0) {
    spec.ipFamilies = spec.clusterIPs.map((ip: string) => (isIPv6String(ip) ? 'IPv6' : 'IPv4'));
    spec.ipFamilyPolicy = spec.ipFamilies.length === 2 ? 'RequireDualStack' : 'SingleStack';
  }
  return svc;
}

export function serviceStrategy(alloc: ServiceAllocator): RegistryStrategy {
  return {
    beginCreate: (obj, dryRun) => alloc.beginCreate(obj, dryRun),
    beginUpdate: (next, current, dryRun) => alloc.beginUpdate(next, defaultOnRead(structuredClone(current), alloc.primaryFamily), dryRun),
    prepareForUpdate: (next, current) => dropTypeDependentFields(next, current),
    validateUpdate: (next, current) => alloc.validateUpdate(next, defaultOnRead(structuredClone(current), alloc.primaryFamily)),
    afterDelete: (obj, dryRun) => alloc.releaseAllocated(obj, dryRun),
  };
}
