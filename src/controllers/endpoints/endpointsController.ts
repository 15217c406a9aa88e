// The Endpoints controller (upstream `endpoint-controller`): keeps one core/v1 Endpoints per
// Service with a selector, listing its pods' addresses as ready or not ready; deletes the
// Endpoints of Services that are gone. Selectorless Services' Endpoints belong to their users.

import type { Endpoints, Pod, Service } from 'kubernetes-types/core/v1.js';
import { isNotFound } from '../../client/apiError.js';
import { keyOf, newQueue, runQueueWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { matches } from '../../api/labels.js';
import { planEndpoints } from './endpointsPlan.js';
import { podServiceMemberships, serviceSelector, servicesToUpdateOnPodChange, TriggerTimeTracker } from './endpointUtil.js';

export const ENDPOINT_CONTROLLER_NAME = 'endpoint-controller';
/** Upstream's maxRetries for a Service's key. */
const MAX_RETRIES = 15;
/** Leader-election records stored on Endpoints (old resource locks) are not Services' Endpoints. */
const LEADER_ANNOTATION = 'control-plane.alpha.kubernetes.io/leader';

/** The API server's own Endpoints (`default/kubernetes`), which this controller never touches. */
function isApiServerEndpoints(ns: string | undefined, name: string): boolean {
  return ns === 'default' && name === 'kubernetes';
}

/** Tracks resourceVersions we replaced, so a lister still showing one is known stale (upstream's staleEndpointsTracker). */
class StaleEndpointsTracker {
  private readonly replaced = new Map<string, string>();
  stale(ep: Readonly<Endpoints>): void {
    this.replaced.set(keyOf(ep), ep.metadata?.resourceVersion ?? '');
  }
  isStale(ep: Readonly<Endpoints>): boolean {
    const rv = this.replaced.get(keyOf(ep));
    return rv !== undefined && rv === ep.metadata?.resourceVersion;
  }
  delete(key: string): void {
    this.replaced.delete(key);
  }
}

export function newEndpointsController(ctx: ControllerContext): Controller {
  const log = ctx.log.child({ controller: ENDPOINT_CONTROLLER_NAME });
  const queue = newQueue(ENDPOINT_CONTROLLER_NAME);
  const services = ctx.informers.informerFor<Service>('', 'v1', 'services');
  const pods = ctx.informers.informerFor<Pod>('', 'v1', 'pods');
  const endpoints = ctx.informers.informerFor<Endpoints>('', 'v1', 'endpoints');
  const client = ctx.client.resource<Endpoints>('', 'v1', 'endpoints');
  const recorder = ctx.recorder(ENDPOINT_CONTROLLER_NAME);
  const triggerTimes = new TriggerTimeTracker();
  const staleTracker = new StaleEndpointsTracker();

  services.addEventHandler({
    onAdd: (s) => queue.add(keyOf(s)),
    onUpdate: (_o, s) => queue.add(keyOf(s)),
    onDelete: (s) => queue.add(keyOf(s)),
  });
  const podChanged = (p: Readonly<Pod>) => {
    for (const k of podServiceMemberships(services.list(p.metadata?.namespace), p)) queue.add(k);
  };
  pods.addEventHandler({
    onAdd: podChanged,
    onUpdate: (o, p) => {
      for (const k of servicesToUpdateOnPodChange(services.list(p.metadata?.namespace), o, p)) queue.add(k);
    },
    onDelete: podChanged,
  });
  endpoints.addEventHandler({
    // An Endpoints deleted by someone else is put back (or confirmed gone) by a sync of its Service.
    onDelete: (e) => queue.add(keyOf(e)),
  });

  async function sync(key: string, signal: AbortSignal): Promise<void> {
    const [ns, name] = splitKey(key);
    if (isApiServerEndpoints(ns, name)) return;
    const svc = services.get(ns, name);
    if (!svc) {
      // The Service is gone: so is its Endpoints.
      try {
        await client.delete(ns, name, { signal });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      triggerTimes.deleteService(key);
      staleTracker.delete(key);
      return;
    }
    if (svc.spec?.type === 'ExternalName') return;
    const sel = serviceSelector(svc);
    if (!sel) return;
    const selected = pods.list(ns).filter((p) => matches(sel, p.metadata?.labels));
    // Computed on every sync so the tracker stays current even when nothing is written.
    const triggerTime = triggerTimes.compute(svc, selected);
    const current = endpoints.get(ns, name);
    if (current && staleTracker.isStale(current)) {
      throw new Error(`endpoints informer cache is out of date, resource version ${current.metadata?.resourceVersion} already processed for endpoints ${key}`);
    }
    const want = planEndpoints(svc, selected, current, triggerTime);
    if (!want) return;
    const creating = !current?.metadata?.resourceVersion;
    try {
      if (creating) {
        await client.create(want, { namespace: ns, signal });
      } else {
        const updated = await client.update(want, { signal });
        if (updated.metadata?.resourceVersion !== current!.metadata?.resourceVersion) staleTracker.stale(current!);
      }
    } catch (err) {
      // A terminating namespace refuses creates for good: drop the key.
      if (creating && /is being terminated|NamespaceTerminating/.test((err as Error).message)) return;
      if (creating) recorder.event(want, 'Warning', 'FailedToCreateEndpoint', `Failed to create endpoint for service ${ns}/${name}: ${(err as Error).message}`);
      else recorder.event(want, 'Warning', 'FailedToUpdateEndpoint', `Failed to update endpoint ${ns}/${name}: ${(err as Error).message}`);
      throw err;
    }
  }

  /** Upstream's checkLeftoverEndpoints: Endpoints whose Service went while we were down get a sync (and go). */
  function checkLeftoverEndpoints(): void {
    for (const e of endpoints.list()) {
      if (e.metadata?.annotations?.[LEADER_ANNOTATION] !== undefined) continue;
      queue.add(keyOf(e));
    }
  }

  return {
    name: ENDPOINT_CONTROLLER_NAME,
    async run(signal) {
      const synced = [() => services.hasSynced(), () => pods.hasSynced(), () => endpoints.hasSynced()];
      const workers = runQueueWorkers({ name: ENDPOINT_CONTROLLER_NAME, queue, sync, workers: ctx.options.concurrentEndpointSyncs, synced, log, maxRetries: MAX_RETRIES }, signal);
      while (!synced.every((s) => s()) && !signal.aborted) await new Promise((r) => setTimeout(r, 50));
      if (!signal.aborted) checkLeftoverEndpoints();
      await workers;
    },
  };
}
