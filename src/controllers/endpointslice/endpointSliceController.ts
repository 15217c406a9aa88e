// The EndpointSlice controller (upstream `endpointslice-controller`): keeps each selector Service's
// discovery.k8s.io/v1 EndpointSlices (one set per address family, at most
// --max-endpoints-per-slice endpoints each) in line with its pods, changing as few slices as it can.

import type { Node, Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { matches } from '../../api/labels.js';
import { isNotFound } from '../../client/apiError.js';
import { keyOf, newQueue, runQueueWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { podServiceMemberships, serviceSelector, servicesToUpdateOnPodChange, TriggerTimeTracker } from '../endpoints/endpointUtil.js';
import { DEFAULT_MAX_ENDPOINTS_PER_SLICE, ENDPOINTSLICE_CONTROLLER_NAME, LABEL_MANAGED_BY, LABEL_SERVICE_NAME, planEndpointSlices } from './endpointSlicePlan.js';

export const ENDPOINTSLICE_CONTROLLER = 'endpointslice-controller';
const MAX_RETRIES = 15;
const DELETION_EXPECTED = -1n;

export interface EndpointSliceControllerOptions {
  /** Upstream --max-endpoints-per-slice (default 100, at most 1000). */
  maxEndpointsPerSlice?: number;
}

/**
 * Which version of each slice this controller last wrote (upstream's EndpointSliceTracker), so it
 * ignores the echoes of its own writes and waits for the cache to catch up before planning again.
 * Versions are generations; k8ts' API server does not bump an EndpointSlice's generation (it has
 * no spec), so the numeric resourceVersion orders writes of the same generation.
 */
export class EndpointSliceTracker {
  private readonly byService = new Map<string, Map<string, bigint>>();

  private static version(s: Readonly<EndpointSlice>): bigint {
    const gen = BigInt(s.metadata?.generation ?? 0);
    const rv = s.metadata?.resourceVersion ?? '';
    return (gen << 64n) + (/^\d+$/.test(rv) ? BigInt(rv) : 0n);
  }

  private forSlice(s: Readonly<EndpointSlice>, create = false): Map<string, bigint> | undefined {
    const key = serviceKeyForSlice(s);
    if (!key) return undefined;
    let m = this.byService.get(key);
    if (!m && create) this.byService.set(key, (m = new Map()));
    return m;
  }

  has(s: Readonly<EndpointSlice>): boolean {
    return this.forSlice(s)?.has(s.metadata?.uid ?? '') ?? false;
  }

  /** False for a slice version this controller wrote itself (or older). */
  shouldSync(s: Readonly<EndpointSlice>): boolean {
    const g = this.forSlice(s)?.get(s.metadata?.uid ?? '');
    return g === undefined || EndpointSliceTracker.version(s) > g;
  }

  /** True when the listed slices are older than what this controller wrote, or miss some it created. */
  staleSlices(svcKey: string, slices: readonly Readonly<EndpointSlice>[]): boolean {
    const m = this.byService.get(svcKey);
    if (!m) return false;
    const seen = new Set<string>();
    for (const s of slices) {
      const uid = s.metadata?.uid ?? '';
      seen.add(uid);
      const g = m.get(uid);
      if (g !== undefined && (g === DELETION_EXPECTED || g > EndpointSliceTracker.version(s))) return true;
    }
    for (const [uid, g] of m) if (g !== DELETION_EXPECTED && !seen.has(uid)) return true;
    return false;
  }

  update(s: Readonly<EndpointSlice>): void {
    this.forSlice(s, true)?.set(s.metadata?.uid ?? '', EndpointSliceTracker.version(s));
  }

  expectDeletion(s: Readonly<EndpointSlice>): void {
    this.forSlice(s, true)?.set(s.metadata?.uid ?? '', DELETION_EXPECTED);
  }

  /** Forgets a deleted slice; true when this controller expected that deletion. */
  handleDeletion(s: Readonly<EndpointSlice>): boolean {
    const m = this.forSlice(s);
    if (m) {
      const g = m.get(s.metadata?.uid ?? '');
      m.delete(s.metadata?.uid ?? '');
      if (g !== undefined && g !== DELETION_EXPECTED) return false;
    }
    return true;
  }

  deleteService(key: string): void {
    this.byService.delete(key);
  }
}

function serviceKeyForSlice(s: Readonly<EndpointSlice>): string | undefined {
  const name = s.metadata?.labels?.[LABEL_SERVICE_NAME];
  return name ? `${s.metadata?.namespace}/${name}` : undefined;
}

const managedByUs = (s: Readonly<EndpointSlice> | undefined) => s?.metadata?.labels?.[LABEL_MANAGED_BY] === ENDPOINTSLICE_CONTROLLER_NAME;

export function newEndpointSliceController(ctx: ControllerContext, opts: EndpointSliceControllerOptions = {}): Controller {
  const log = ctx.log.child({ controller: ENDPOINTSLICE_CONTROLLER });
  const queue = newQueue(ENDPOINTSLICE_CONTROLLER);
  const services = ctx.informers.informerFor<Service>('', 'v1', 'services');
  const pods = ctx.informers.informerFor<Pod>('', 'v1', 'pods');
  const nodes = ctx.informers.informerFor<Node>('', 'v1', 'nodes');
  const slices = ctx.informers.informerFor<EndpointSlice>('discovery.k8s.io', 'v1', 'endpointslices');
  const client = ctx.client.resource<EndpointSlice>('discovery.k8s.io', 'v1', 'endpointslices');
  const recorder = ctx.recorder('endpoint-slice-controller');
  const tracker = new EndpointSliceTracker();
  const triggerTimes = new TriggerTimeTracker();
  const fromOptions = (ctx.options as { maxEndpointsPerSlice?: number }).maxEndpointsPerSlice;
  const maxEndpointsPerSlice = Math.min(1000, Math.max(1, opts.maxEndpointsPerSlice ?? fromOptions ?? DEFAULT_MAX_ENDPOINTS_PER_SLICE));

  const queueForSlice = (s: Readonly<EndpointSlice>) => {
    const k = serviceKeyForSlice(s);
    if (k) queue.add(k);
  };
  services.addEventHandler({
    onAdd: (s) => queue.add(keyOf(s)),
    onUpdate: (_o, s) => queue.add(keyOf(s)),
    onDelete: (s) => queue.add(keyOf(s)),
  });
  const podMembership = (p: Readonly<Pod>) => {
    for (const k of podServiceMemberships(services.list(p.metadata?.namespace), p)) queue.add(k);
  };
  pods.addEventHandler({
    onAdd: podMembership,
    onUpdate: (o, p) => {
      for (const k of servicesToUpdateOnPodChange(services.list(p.metadata?.namespace), o, p)) queue.add(k);
    },
    onDelete: podMembership,
  });
  slices.addEventHandler({
    onAdd: (s) => {
      if (managedByUs(s) && tracker.shouldSync(s)) queueForSlice(s);
    },
    onUpdate: (o, s) => {
      if (o.metadata?.resourceVersion === s.metadata?.resourceVersion) return;
      if (managedByUs(o) !== managedByUs(s) || (managedByUs(s) && tracker.shouldSync(s))) {
        if (serviceKeyForSlice(o) !== serviceKeyForSlice(s)) queueForSlice(o);
        queueForSlice(s);
      }
    },
    onDelete: (s) => {
      if (managedByUs(s) && tracker.has(s) && !tracker.handleDeletion(s)) queueForSlice(s);
    },
  });

  const slicesOf = (ns: string | undefined, name: string) =>
    slices.list(ns).filter((s) => s.metadata?.labels?.[LABEL_SERVICE_NAME] === name && managedByUs(s));

  async function deleteSlice(s: Readonly<EndpointSlice>, signal: AbortSignal): Promise<void> {
    try {
      await client.delete(s.metadata?.namespace, s.metadata!.name!, { signal });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    tracker.expectDeletion(s);
  }

  async function sync(key: string, signal: AbortSignal): Promise<void> {
    const [ns, name] = splitKey(key);
    // The API server owns `default/kubernetes`'s slice (k8ts' bootstrap labels it as ours).
    if (ns === 'default' && name === 'kubernetes') return;
    const svc = services.get(ns, name);
    if (!svc) {
      triggerTimes.deleteService(key);
      // Upstream leaves this to the garbage collector (the slices are owned by the Service); k8ts
      // deletes them here as well so they never outlive their Service without one.
      for (const s of slicesOf(ns, name)) if (!s.metadata?.deletionTimestamp) await deleteSlice(s, signal);
      tracker.deleteService(key);
      return;
    }
    if (svc.spec?.type === 'ExternalName') return;
    const sel = serviceSelector(svc);
    if (!sel) return;
    const selected = pods.list(ns).filter((p) => matches(sel, p.metadata?.labels));
    const existing = slicesOf(ns, name).filter((s) => !s.metadata?.deletionTimestamp);
    if (tracker.staleSlices(key, existing)) throw new Error(`EndpointSlice informer cache is out of date for Service ${key}`);
    const triggerTime = triggerTimes.compute(svc, selected);
    const plan = planEndpointSlices({ service: svc, pods: selected, existing, node: (n) => nodes.get(undefined, n), maxEndpointsPerSlice, triggerTime });
    try {
      for (const s of plan.create) {
        try {
          tracker.update(await client.create(s, { namespace: ns, signal }));
        } catch (err) {
          if (/is being terminated|NamespaceTerminating/.test((err as Error).message)) return;
          throw new Error(`failed to create EndpointSlice for Service ${key}: ${(err as Error).message}`);
        }
      }
      for (const s of plan.update) {
        try {
          tracker.update(await client.update(s, { signal }));
        } catch (err) {
          throw new Error(`failed to update ${s.metadata?.name} EndpointSlice for Service ${key}: ${(err as Error).message}`);
        }
      }
      for (const s of plan.delete) {
        try {
          await deleteSlice(s, signal);
        } catch (err) {
          throw new Error(`failed to delete ${s.metadata?.name} EndpointSlice for Service ${key}: ${(err as Error).message}`);
        }
      }
      if (plan.errors.length) throw new Error(plan.errors.join('; '));
    } catch (err) {
      if (!signal.aborted) recorder.event(svc, 'Warning', 'FailedToUpdateEndpointSlices', `Error updating Endpoint Slices for Service ${key}: ${(err as Error).message}`);
      throw err;
    }
  }

  return {
    name: ENDPOINTSLICE_CONTROLLER,
    run: (signal) =>
      runQueueWorkers(
        {
          name: ENDPOINTSLICE_CONTROLLER,
          queue,
          sync,
          workers: ctx.options.concurrentServiceEndpointSyncs,
          synced: [() => services.hasSynced(), () => pods.hasSynced(), () => nodes.hasSynced(), () => slices.hasSynced()],
          log,
          maxRetries: MAX_RETRIES,
        },
        signal,
      ),
  };
}
