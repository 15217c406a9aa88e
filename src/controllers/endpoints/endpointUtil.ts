// What the Endpoints and EndpointSlice controllers share, as upstream's endpoint utilities
// (k8s.io/endpointslice/util, pkg/controller/util/endpoint): which pods are endpoints, port
// resolution, hostnames, the last-change-trigger-time tracker and pod → Service membership.

import type { Pod, Service, ServicePort } from 'kubernetes-types/core/v1.js';
import { matches, type Requirement } from '../../api/labels.js';
import { isPodReady } from '../controllerRef.js';
import { keyOf } from '../controller.js';

export const LAST_CHANGE_TRIGGER_TIME_ANNOTATION = 'endpoints.kubernetes.io/last-change-trigger-time';
export const HEADLESS_SERVICE_LABEL = 'service.kubernetes.io/headless';

/**
 * Upstream's ShouldPodBeInEndpoints: terminal pods and pods without an IP never are; terminating
 * pods only when `includeTerminating` (slices always, Endpoints with publishNotReadyAddresses).
 */
export function shouldPodBeInEndpoints(pod: Readonly<Pod>, includeTerminating: boolean): boolean {
  const phase = pod.status?.phase;
  if (phase === 'Failed' || phase === 'Succeeded') return false;
  if (podIPs(pod).length === 0) return false;
  if (!includeTerminating && pod.metadata?.deletionTimestamp) return false;
  return true;
}

/** status.podIPs, or status.podIP when only that is set. */
export function podIPs(pod: Readonly<Pod>): string[] {
  const ips = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => !!ip);
  if (ips.length) return ips;
  return pod.status?.podIP ? [pod.status.podIP] : [];
}

export function isIPv6(ip: string | undefined): boolean {
  return !!ip && ip.includes(':');
}

/** A Service has a cluster IP unless it is headless (`None`) or has none yet. */
export function isServiceIPSet(svc: Readonly<Service>): boolean {
  const ip = svc.spec?.clusterIP ?? '';
  return ip !== '' && ip !== 'None';
}

/**
 * Upstream's podutil.FindPort: a numeric targetPort is used as is; a named one is looked up in the
 * pod's containers (and restartable init containers) with the Service port's protocol.
 */
export function findPort(pod: Readonly<Pod>, svcPort: Readonly<ServicePort>): number | undefined {
  const target = svcPort.targetPort ?? svcPort.port;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  const protocol = svcPort.protocol ?? 'TCP';
  const sidecars = (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always');
  for (const c of [...(pod.spec?.containers ?? []), ...sidecars]) {
    for (const p of c.ports ?? []) {
      if (p.name === target && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
    }
  }
  return undefined;
}

/** A pod's hostname is published when its subdomain is this Service's name (same namespace). */
export function shouldSetHostname(pod: Readonly<Pod>, svc: Readonly<Service>): boolean {
  return !!pod.spec?.hostname && pod.spec.subdomain === svc.metadata?.name && pod.metadata?.namespace === svc.metadata?.namespace;
}

/** A Service's selector as requirements; undefined when it has none (selects nothing). */
export function serviceSelector(svc: Readonly<Service>): Requirement[] | undefined {
  const sel = svc.spec?.selector;
  if (!sel) return undefined;
  return Object.entries(sel).map(([key, v]) => ({ key, op: 'Equals' as const, values: [v] }));
}

/** Keys of the Services (in `services`) whose selector matches the pod (GetPodServiceMemberships). */
export function podServiceMemberships(services: readonly Readonly<Service>[], pod: Readonly<Pod>): Set<string> {
  const out = new Set<string>();
  for (const s of services) {
    const sel = serviceSelector(s);
    if (sel && matches(sel, pod.metadata?.labels)) out.add(keyOf(s));
  }
  return out;
}

/** Upstream's podEndpointsChanged: [endpoint-relevant change, membership-relevant change]. */
export function podEndpointsChanged(oldPod: Readonly<Pod>, newPod: Readonly<Pod>): [podChanged: boolean, labelsChanged: boolean] {
  const labelsChanged =
    JSON.stringify(sortedEntries(oldPod.metadata?.labels)) !== JSON.stringify(sortedEntries(newPod.metadata?.labels)) ||
    (oldPod.spec?.hostname ?? '') !== (newPod.spec?.hostname ?? '') ||
    (oldPod.spec?.subdomain ?? '') !== (newPod.spec?.subdomain ?? '');
  if ((oldPod.metadata?.deletionTimestamp ?? '') !== (newPod.metadata?.deletionTimestamp ?? '')) return [true, labelsChanged];
  if (isPodReady(oldPod) !== isPodReady(newPod)) return [true, labelsChanged];
  // A pod turning terminal leaves the endpoints even when its Ready condition was already False.
  if (oldPod.status?.phase !== newPod.status?.phase) return [true, labelsChanged];
  if (podIPs(oldPod).join(',') !== podIPs(newPod).join(',')) return [true, labelsChanged];
  return [false, labelsChanged];
}

/** Upstream's GetServicesToUpdateOnPodChange. */
export function servicesToUpdateOnPodChange(services: readonly Readonly<Service>[], oldPod: Readonly<Pod>, newPod: Readonly<Pod>): Set<string> {
  if (oldPod.metadata?.resourceVersion === newPod.metadata?.resourceVersion) return new Set();
  const [podChanged, labelsChanged] = podEndpointsChanged(oldPod, newPod);
  if (!podChanged && !labelsChanged) return new Set();
  const now = podServiceMemberships(services, newPod);
  if (!labelsChanged) return now;
  const before = podServiceMemberships(services, oldPod);
  if (podChanged) return new Set([...now, ...before]);
  // Only membership changed: the services the pod joined or left.
  return new Set([...[...now].filter((k) => !before.has(k)), ...[...before].filter((k) => !now.has(k))]);
}

function sortedEntries(m: Readonly<Record<string, string>> | undefined): [string, string][] {
  return Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Go's time.RFC3339Nano in UTC: fractional seconds without trailing zeros. */
export function formatRFC3339Nano(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d+)Z$/, (_m, frac: string) => {
    const f = frac.replace(/0+$/, '');
    return f ? `.${f}Z` : 'Z';
  });
}

interface TriggerState {
  lastPodTriggerTimes: Map<string, number>;
  lastServiceTriggerTime: number;
}

/**
 * Upstream's TriggerTimeTracker: the time of the earliest change (a pod's Ready transition, or
 * the Service's creation) not yet reflected in a sync; the Service's creation time for a Service
 * seen for the first time; 0 when nothing changed.
 */
export class TriggerTimeTracker {
  private readonly states = new Map<string, TriggerState>();

  compute(service: Readonly<Service>, pods: readonly Readonly<Pod>[]): number {
    const key = keyOf(service);
    const state = this.states.get(key);
    let min = 0;
    const podTimes = new Map<string, number>();
    for (const pod of pods) {
      const t = podTriggerTime(pod);
      if (!t) continue;
      podTimes.set(pod.metadata?.name ?? '', t);
      if (t > (state?.lastPodTriggerTimes.get(pod.metadata?.name ?? '') ?? 0)) min = min === 0 ? t : Math.min(min, t);
    }
    const svcTime = Date.parse(service.metadata?.creationTimestamp ?? '') || 0;
    if (svcTime > (state?.lastServiceTriggerTime ?? 0)) min = min === 0 ? svcTime : Math.min(min, svcTime);
    this.states.set(key, { lastPodTriggerTimes: podTimes, lastServiceTriggerTime: svcTime });
    if (!state) return svcTime;
    return min;
  }

  deleteService(key: string): void {
    this.states.delete(key);
  }
}

function podTriggerTime(pod: Readonly<Pod>): number {
  const c = pod.status?.conditions?.find((x) => x.type === 'Ready');
  return c?.lastTransitionTime ? Date.parse(c.lastTransitionTime) || 0 : 0;
}
