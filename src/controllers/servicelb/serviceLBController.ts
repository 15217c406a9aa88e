// The service load-balancer controller (upstream cloud-provider's `service-lb-controller`): for
// each Service of type LoadBalancer without a loadBalancerClass it asks the cloud's LoadBalancer
// (k8ts: ServiceLB) for addresses and writes them to status.loadBalancer, guarded by the
// `service.kubernetes.io/load-balancer-cleanup` finalizer; Services that stop wanting one, or go,
// are cleaned up. A Service that cannot be served stays `<pending>` with a Warning event.

import type { LoadBalancerStatus, Node, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { isNotFound } from '../../client/apiError.js';
import { ItemExponentialFailureRateLimiter } from '../../client/rateLimiter.js';
import { RateLimitingQueue } from '../../client/workqueue.js';
import { LoadBalancerUnavailableError, type LoadBalancer } from '../../cloudprovider/cloud.js';
import { LABEL_SERVICE_NAME, loadBalancerStatusEqual, nodeChangeMatters, nodeUsableForLoadBalancers, statusIPs, servicePortKeys, wantsLoadBalancer } from '../../cloudprovider/servicelb/plan.js';
import { AddressPool } from '../../cloudprovider/servicelb/pool.js';
import { ServiceLB } from '../../cloudprovider/servicelb/serviceLB.js';
import { keyOf, runQueueWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';

export const SERVICE_LB_CONTROLLER = 'service-lb-controller';
/** Upstream's event source for this controller. */
export const SERVICE_CONTROLLER_COMPONENT = 'service-controller';
export const LOAD_BALANCER_CLEANUP_FINALIZER = 'service.kubernetes.io/load-balancer-cleanup';
/** Upstream --cluster-name default; load balancers are named within it. */
export const DEFAULT_CLUSTER_NAME = 'kubernetes';

/** Upstream retries a Service from 5 s up to 5 minutes. */
const MIN_RETRY_DELAY_MS = 5_000;
const MAX_RETRY_DELAY_MS = 300_000;

export interface ServiceLBControllerOptions {
  /** The cloud's load balancer; default ServiceLB over this controller's caches. */
  loadBalancer?: LoadBalancer;
  /** ServiceLB's explicit pool (`--servicelb-pool` entries); default the nodes' addresses. */
  pool?: readonly string[] | undefined;
  clusterName?: string;
  /** Back-off of failed syncs, ms (tests shorten it). */
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
}

export const hasLoadBalancerFinalizer = (svc: Readonly<Service>): boolean => (svc.metadata?.finalizers ?? []).includes(LOAD_BALANCER_CLEANUP_FINALIZER);

/** The load balancer must go: the finalizer is there and the Service is being deleted or no longer of type LoadBalancer (upstream needsCleanup). */
export function needsCleanup(svc: Readonly<Service>): boolean {
  if (!hasLoadBalancerFinalizer(svc)) return false;
  return !!svc.metadata?.deletionTimestamp || svc.spec?.type !== 'LoadBalancer';
}

/** What other Services' planning depends on changed: the addresses it holds, its ports, or whether it holds any. */
export function claimsChanged(oldSvc: Readonly<Service>, newSvc: Readonly<Service>): boolean {
  const holds = (s: Readonly<Service>) => wantsLoadBalancer(s) && !s.metadata?.deletionTimestamp;
  if (holds(oldSvc) !== holds(newSvc)) return true;
  if (statusIPs(oldSvc.status?.loadBalancer).join() !== statusIPs(newSvc.status?.loadBalancer).join()) return true;
  return [...servicePortKeys(oldSvc)].sort().join() !== [...servicePortKeys(newSvc)].sort().join();
}

const asService = (svc: Readonly<Service>): Service & { apiVersion: string; kind: string } => ({ ...svc, apiVersion: 'v1', kind: 'Service' });

export const SERVICE_LB_CONTROLLER_DESCRIPTOR = {
  name: SERVICE_LB_CONTROLLER,
  alias: 'service',
  create: (ctx: ControllerContext): Controller => newServiceLBController(ctx, { pool: ctx.options.serviceLBPool }),
};

export function newServiceLBController(ctx: ControllerContext, opts: ServiceLBControllerOptions = {}): Controller {
  const log = ctx.log.child({ controller: SERVICE_LB_CONTROLLER });
  const recorder = ctx.recorder(SERVICE_CONTROLLER_COMPONENT);
  const clusterName = opts.clusterName ?? DEFAULT_CLUSTER_NAME;
  const queue = new RateLimitingQueue<string>({
    name: 'service',
    rateLimiter: new ItemExponentialFailureRateLimiter<string>(opts.minRetryDelayMs ?? MIN_RETRY_DELAY_MS, opts.maxRetryDelayMs ?? MAX_RETRY_DELAY_MS),
  });
  const services = ctx.informers.informerFor<Service>('', 'v1', 'services');
  const nodes = ctx.informers.informerFor<Node>('', 'v1', 'nodes');
  const slices = ctx.informers.informerFor<EndpointSlice>('discovery.k8s.io', 'v1', 'endpointslices');
  const client = ctx.client.resource<Service>('', 'v1', 'services');
  // Parsed here so a bad pool fails at start, naming the entry.
  const pool = opts.pool?.length ? AddressPool.parse(opts.pool) : undefined;
  const balancer =
    opts.loadBalancer ??
    new ServiceLB(
      {
        services: () => services.list(),
        nodes: () => nodes.list(),
        endpointSlices: (ns, name) => slices.list(ns).filter((s) => s.metadata?.labels?.[LABEL_SERVICE_NAME] === name),
      },
      pool,
    );

  const relevant = (s: Readonly<Service>) => wantsLoadBalancer(s) || needsCleanup(s);
  /** Every other Service that may now get (or must give up) an address. */
  const requeueOthers = (except: string) => {
    for (const s of services.list()) if (wantsLoadBalancer(s) && keyOf(s) !== except) queue.add(keyOf(s));
  };
  const requeueAll = () => {
    for (const s of services.list()) if (relevant(s)) queue.add(keyOf(s));
  };
  services.addEventHandler({
    onAdd: (s) => {
      if (relevant(s)) queue.add(keyOf(s));
    },
    onUpdate: (o, s) => {
      if (o.metadata?.resourceVersion === s.metadata?.resourceVersion) return;
      if (wantsLoadBalancer(o) !== wantsLoadBalancer(s)) recorder.event(asService(s), 'Normal', 'Type', `${o.spec?.type ?? ''} -> ${s.spec?.type ?? ''}`);
      if (relevant(o) || relevant(s)) queue.add(keyOf(s));
      if (claimsChanged(o, s)) requeueOthers(keyOf(s));
    },
    onDelete: (s) => {
      queue.add(keyOf(s));
      if (wantsLoadBalancer(s)) requeueOthers(keyOf(s));
    },
  });
  nodes.addEventHandler({
    onAdd: requeueAll,
    onUpdate: (o, n) => {
      if (nodeChangeMatters(o, n)) requeueAll();
    },
    onDelete: requeueAll,
  });
  slices.addEventHandler({
    // Only externalTrafficPolicy Local Services follow their endpoints (served on nodes that run one).
    onAdd: (e) => enqueueLocalService(e),
    onUpdate: (_o, e) => enqueueLocalService(e),
    onDelete: (e) => enqueueLocalService(e),
  });
  function enqueueLocalService(e: Readonly<EndpointSlice>): void {
    const name = e.metadata?.labels?.[LABEL_SERVICE_NAME];
    const svc = name ? services.get(e.metadata?.namespace, name) : undefined;
    if (svc && wantsLoadBalancer(svc) && svc.spec?.externalTrafficPolicy === 'Local') queue.add(keyOf(svc));
  }

  async function patchStatus(svc: Readonly<Service>, status: LoadBalancerStatus, signal: AbortSignal): Promise<void> {
    if (loadBalancerStatusEqual(svc.status?.loadBalancer, status)) return;
    try {
      // `ingress: null` removes the field under a merge patch; an empty object would keep it.
      await client.patch(svc.metadata?.namespace, svc.metadata!.name!, { status: { loadBalancer: { ingress: status.ingress?.length ? status.ingress : null } } }, { subresource: 'status', type: 'merge', signal });
    } catch (err) {
      // Gone right after its finalizer was removed: nothing left to write.
      if (!isNotFound(err)) throw new Error(`failed to update load balancer status: ${(err as Error).message}`);
    }
  }

  async function setFinalizers(svc: Readonly<Service>, finalizers: string[], signal: AbortSignal): Promise<Service> {
    // resourceVersion makes the merge patch fail on a concurrent finalizer change instead of losing it.
    return client.patch(svc.metadata?.namespace, svc.metadata!.name!, { metadata: { finalizers: finalizers.length ? finalizers : null, resourceVersion: svc.metadata?.resourceVersion } }, { type: 'merge', signal });
  }

  async function cleanup(svc: Readonly<Service>, signal: AbortSignal): Promise<void> {
    const state = await balancer.getLoadBalancer(clusterName, svc, signal);
    if (state.exists) {
      recorder.event(asService(svc), 'Normal', 'DeletingLoadBalancer', 'Deleting load balancer');
      try {
        await balancer.ensureLoadBalancerDeleted(clusterName, svc, signal);
      } catch (err) {
        recorder.event(asService(svc), 'Warning', 'DeleteLoadBalancerFailed', `Error deleting load balancer: ${(err as Error).message}`);
        throw err;
      }
    }
    let current: Readonly<Service> = svc;
    if (hasLoadBalancerFinalizer(svc)) {
      try {
        current = await setFinalizers(svc, (svc.metadata?.finalizers ?? []).filter((f) => f !== LOAD_BALANCER_CLEANUP_FINALIZER), signal);
      } catch (err) {
        if (isNotFound(err)) return;
        throw new Error(`failed to remove load balancer cleanup finalizer: ${(err as Error).message}`);
      }
    }
    recorder.event(asService(svc), 'Normal', 'DeletedLoadBalancer', 'Deleted load balancer');
    await patchStatus(current, {}, signal);
  }

  async function sync(key: string, signal: AbortSignal): Promise<void> {
    const [ns, name] = splitKey(key);
    const cached = services.get(ns, name);
    if (!cached) {
      // Deleted without our finalizer (or after it was removed): forget whatever was decided for it.
      await balancer.ensureLoadBalancerDeleted(clusterName, { metadata: { namespace: ns ?? '', name } }, signal);
      return;
    }
    if (!wantsLoadBalancer(cached) || needsCleanup(cached)) {
      // Without the finalizer it never had addresses from us (another class, or not a load
      // balancer): leave its status to whoever owns it, and forget any decision not yet written.
      if (hasLoadBalancerFinalizer(cached)) await cleanup(cached, signal);
      else await balancer.ensureLoadBalancerDeleted(clusterName, cached, signal);
      return;
    }
    let svc: Readonly<Service> = cached;
    const usable = nodes.list().filter(nodeUsableForLoadBalancers);
    const ensure = async (s: Readonly<Service>): Promise<LoadBalancerStatus | LoadBalancerUnavailableError> => {
      try {
        return await balancer.ensureLoadBalancer(clusterName, s, usable, signal);
      } catch (err) {
        if (err instanceof LoadBalancerUnavailableError) return err;
        recorder.event(asService(s), 'Warning', 'SyncLoadBalancerFailed', `Error syncing load balancer: failed to ensure load balancer: ${(err as Error).message}`);
        throw err;
      }
    };
    let result = await ensure(svc);
    // In step already: no writes and no events (the sync was set off by some other change).
    if (hasLoadBalancerFinalizer(svc) && !(result instanceof LoadBalancerUnavailableError) && loadBalancerStatusEqual(svc.status?.loadBalancer, result)) return;
    log.debug({ service: key }, 'ensuring load balancer');
    recorder.event(asService(svc), 'Normal', 'EnsuringLoadBalancer', 'Ensuring load balancer');
    if (!hasLoadBalancerFinalizer(svc)) {
      // Before any address is handed out, so a deleted Service always comes back here to release it.
      try {
        svc = await setFinalizers(svc, [...(svc.metadata?.finalizers ?? []), LOAD_BALANCER_CLEANUP_FINALIZER], signal);
      } catch (err) {
        if (isNotFound(err)) return;
        throw new Error(`failed to add load balancer cleanup finalizer: ${(err as Error).message}`);
      }
      result = await ensure(svc);
    }
    if (result instanceof LoadBalancerUnavailableError) {
      // `<pending>`: whatever it held is released, and the reason is on the Service.
      await patchStatus(svc, {}, signal);
      recorder.event(asService(svc), 'Warning', 'SyncLoadBalancerFailed', `Error syncing load balancer: failed to ensure load balancer: ${result.message}`);
      throw result;
    }
    await patchStatus(svc, result, signal);
    recorder.event(asService(svc), 'Normal', 'EnsuredLoadBalancer', 'Ensured load balancer');
  }

  return {
    name: SERVICE_LB_CONTROLLER,
    run: (signal) =>
      runQueueWorkers(
        {
          name: SERVICE_LB_CONTROLLER,
          queue,
          sync,
          // One worker: each Service's addresses are chosen knowing every earlier choice.
          workers: 1,
          synced: [() => services.hasSynced(), () => nodes.hasSynced(), () => slices.hasSynced()],
          log,
        },
        signal,
      ),
  };
}
