// The namespace controller (upstream's namespace-controller): when a namespace is being deleted it
// marks it Terminating, deletes everything in it (every namespaced resource discovery lists,
// custom ones included; deletecollection where served), reports progress as status conditions,
// waits for graceful deletions and finalizers, then removes the `kubernetes` finalizer through
// the namespaces/<name>/finalize subresource so the API server can remove the namespace.
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import { isConflict, isMethodNotAllowed, isNotFound } from '../../client/apiError.js';
import { BucketRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter } from '../../client/rateLimiter.js';
import type { KubeObject } from '../../client/resourceClient.js';
import { RateLimitingQueue } from '../../client/workqueue.js';
import { errorText, runQueueWorkers, type Controller, type ControllerContext } from '../controller.js';
import { discoverResources, resourceKey, type DiscoveredResource } from '../discovery.js';
import { estimateGracefulTerminationForPods, gvrString, NamespaceConditionUpdater, remainingContent } from './conditions.js';

export const NAMESPACE_CONTROLLER = 'namespace-controller';
/** The finalizer this controller owns on spec.finalizers. */
export const KUBERNETES_FINALIZER = 'kubernetes';
/** Upstream waits this long after a namespace event, so last-moment creations are seen and deleted too. */
export const NAMESPACE_DELETION_GRACE_PERIOD_MS = 5_000;
/** Upstream's --namespace-sync-period: terminating namespaces are looked at again at least this often. */
export const NAMESPACE_SYNC_PERIOD_MS = 5 * 60_000;

/** Content is still going away; look again after `estimate / 2 + 1` seconds. */
export class ResourcesRemainingError extends Error {
  override readonly name = 'ResourcesRemainingError';
  constructor(readonly estimate: number) {
    super(`some content remains in the namespace, estimate ${estimate} seconds before it is removed`);
  }
}

export interface NamespaceControllerOptions {
  deletionGracePeriodMs?: number;
}

/** Go's utilerrors.NewAggregate message. */
function aggregate(errs: readonly Error[]): Error | undefined {
  if (errs.length === 0) return undefined;
  if (errs.length === 1) return errs[0];
  return new Error(`[${errs.map((e) => e.message).join(', ')}]`);
}

export function newNamespaceController(ctx: ControllerContext, opts: NamespaceControllerOptions = {}): Controller {
  const log = ctx.log.child({ controller: 'namespace' });
  const graceMs = opts.deletionGracePeriodMs ?? NAMESPACE_DELETION_GRACE_PERIOD_MS;
  // Faster than the default back-off (5 ms to at most 60 s): namespace cleanup should not stall.
  const queue = new RateLimitingQueue<string>({ name: 'namespace', rateLimiter: new MaxOfRateLimiter<string>(new ItemExponentialFailureRateLimiter<string>(5, 60_000), new BucketRateLimiter<string>(10, 100)) });
  const namespaces = ctx.informers.informerFor<Namespace & KubeObject>('', 'v1', 'namespaces');
  const nsClient = ctx.client.resource<Namespace>('', 'v1', 'namespaces');
  const pods = ctx.client.resource<Pod>('', 'v1', 'pods');
  /** group/version/plural|op of operations the server turned out not to support. */
  const notSupported = new Set<string>();

  const deletingSinceMs = (ns: Readonly<Namespace>): number | undefined => (ns.metadata?.deletionTimestamp ? Date.parse(ns.metadata.deletionTimestamp) : undefined);
  const enqueue = (ns: Readonly<Namespace>) => {
    if (deletingSinceMs(ns) === undefined) return;
    queue.addAfter(ns.metadata!.name!, graceMs);
  };
  namespaces.addEventHandler({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n) });

  const supports = (r: DiscoveredResource, op: 'list' | 'deletecollection') => r.verbs.includes(op) && !notSupported.has(`${resourceKey(r)}|${op}`);

  const writeStatus = (ns: Namespace, signal: AbortSignal): Promise<Namespace> => nsClient.updateStatus(ns, { signal });

  /** Writes spec.finalizers through namespaces/<name>/finalize; the API server removes a namespace left with none. */
  const finalize = (ns: Namespace, signal: AbortSignal): Promise<Namespace> =>
    nsClient.updateSubresource<Namespace, Namespace>(undefined, ns.metadata!.name!, 'finalize', { ...ns, apiVersion: 'v1', kind: 'Namespace' }, { signal });

  async function retryOnConflict(ns: Namespace, fn: (ns: Namespace) => Promise<Namespace>, signal: AbortSignal): Promise<Namespace> {
    let latest = ns;
    for (;;) {
      try {
        return await fn(latest);
      } catch (err) {
        if (!isConflict(err)) throw err;
        const prev = latest;
        latest = await nsClient.get(undefined, prev.metadata!.name!, { signal });
        if (latest.metadata?.uid !== prev.metadata?.uid) throw new Error('namespace uid has changed across retries');
      }
    }
  }

  async function listItems(r: DiscoveredResource, namespace: string, signal: AbortSignal): Promise<KubeObject[] | undefined> {
    if (!supports(r, 'list')) return undefined;
    try {
      return (await ctx.client.resource<KubeObject>(r.group, r.version, r.plural, { namespaced: true }).listAll({ namespace, signal })).items;
    } catch (err) {
      if (isMethodNotAllowed(err) || isNotFound(err)) {
        notSupported.add(`${resourceKey(r)}|list`);
        return undefined;
      }
      throw err;
    }
  }

  /** Deletes every instance of one resource in the namespace; returns what remains and how long to wait for it. */
  async function deleteAllContentForResource(r: DiscoveredResource, namespace: string, deletedAtMs: number, signal: AbortSignal): Promise<{ estimate: number; numRemaining: number; finalizers: Map<string, number>; err?: Error }> {
    const c = ctx.client.resource<KubeObject>(r.group, r.version, r.plural, { namespaced: true });
    let estimate = 0;
    if (r.group === '' && r.plural === 'pods') {
      const list = await pods.listAll({ namespace, signal });
      estimate = estimateGracefulTerminationForPods(list.items, deletedAtMs, Date.now());
    }
    const none = new Map<string, number>();
    let collectionDone = false;
    if (supports(r, 'deletecollection')) {
      try {
        await c.deleteCollection({ namespace, propagationPolicy: 'Background', signal });
        collectionDone = true;
      } catch (err) {
        if (isMethodNotAllowed(err) || isNotFound(err)) notSupported.add(`${resourceKey(r)}|deletecollection`);
        else return { estimate, numRemaining: 0, finalizers: none, err: err as Error };
      }
    }
    if (!collectionDone) {
      try {
        for (const item of (await listItems(r, namespace, signal)) ?? []) {
          await c.delete(namespace, item.metadata!.name!, { propagationPolicy: 'Background', signal }).catch((err: unknown) => {
            if (!isNotFound(err) && !isMethodNotAllowed(err)) throw err;
          });
        }
      } catch (err) {
        return { estimate, numRemaining: 0, finalizers: none, err: err as Error };
      }
    }
    let items: KubeObject[] | undefined;
    try {
      items = await listItems(r, namespace, signal);
    } catch (err) {
      return { estimate, numRemaining: 0, finalizers: none, err: err as Error };
    }
    if (!items) return { estimate, numRemaining: 0, finalizers: none };
    const rem = remainingContent(items, estimate);
    const out = { estimate: rem.estimate, numRemaining: rem.numRemaining, finalizers: rem.finalizersToNumRemaining };
    if (rem.unexpected) return { ...out, err: new Error(`unexpected items still remain in namespace: ${namespace} for gvr: ${gvrString(r)}`) };
    return out;
  }

  /** Deletes all content; returns the estimate (seconds) of what still has to go, or throws the errors met. */
  async function deleteAllContent(ns: Namespace, deletedAtMs: number, signal: AbortSignal): Promise<number> {
    const namespace = ns.metadata!.name!;
    const errs: Error[] = [];
    const conditions = new NamespaceConditionUpdater();
    let resources: DiscoveredResource[] = [];
    try {
      const d = await discoverResources(ctx.client, signal);
      resources = d.preferred;
      if (d.error) {
        errs.push(d.error);
        conditions.processDiscoverResourcesErr(d.error);
      }
    } catch (err) {
      if (signal.aborted) throw err;
      const e = err instanceof Error ? err : new Error(String(err));
      errs.push(e);
      conditions.processDiscoverResourcesErr(e);
    }
    const deletable = resources.filter((r) => r.namespaced && r.verbs.includes('delete'));
    let estimate = 0;
    const resourceToNumRemaining = new Map<string, number>();
    const finalizersToNumRemaining = new Map<string, number>();
    for (const r of deletable) {
      const res = await deleteAllContentForResource(r, namespace, deletedAtMs, signal);
      if (res.err) {
        errs.push(res.err);
        conditions.processDeleteContentErr(res.err);
      }
      estimate = Math.max(estimate, res.estimate);
      if (res.numRemaining > 0) {
        resourceToNumRemaining.set(`${r.plural}.${r.group}`, res.numRemaining);
        for (const [f, n] of res.finalizers) if (n > 0) finalizersToNumRemaining.set(f, (finalizersToNumRemaining.get(f) ?? 0) + n);
      }
    }
    conditions.processContentTotals({ resourceToNumRemaining, finalizersToNumRemaining });
    // Always written: a condition that was failing and now is fine must say so.
    const next = structuredClone(ns);
    next.status ??= {};
    if (conditions.update(next.status)) {
      try {
        await writeStatus(next, signal);
      } catch (err) {
        log.info({ err: errorText(err), namespace }, "couldn't update status condition for namespace");
      }
    }
    const err = aggregate(errs);
    if (err) throw err;
    return estimate;
  }

  async function sync(key: string, signal: AbortSignal): Promise<void> {
    if (!namespaces.get(undefined, key)) return;
    let ns: Namespace;
    try {
      ns = await nsClient.get(undefined, key, { signal });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (deletingSinceMs(ns) === undefined) return;
    try {
      ns = await retryOnConflict(
        ns,
        async (cur) => {
          if (deletingSinceMs(cur) === undefined || cur.status?.phase === 'Terminating') return cur;
          return writeStatus({ ...cur, status: { ...cur.status, phase: 'Terminating' } }, signal);
        },
        signal,
      );
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    const since = deletingSinceMs(ns);
    if (since === undefined) return;
    // Already finalized: the API server removes it once its metadata finalizers are gone too.
    if ((ns.spec?.finalizers ?? []).length === 0) return;
    log.debug({ namespace: key }, 'deleting all content of namespace');
    const estimate = await deleteAllContent(ns, since, signal);
    log.debug({ namespace: key, estimate }, 'content deleted; finalizing');
    if (estimate > 0) throw new ResourcesRemainingError(estimate);
    try {
      await retryOnConflict(
        ns,
        async (cur) => {
          const finalizers = [...new Set((cur.spec?.finalizers ?? []).filter((f) => f !== KUBERNETES_FINALIZER))].sort();
          return finalize({ ...cur, spec: { ...cur.spec, finalizers } }, signal);
        },
        signal,
      );
    } catch (err) {
      // Another finalizer of the same token may have finished the deletion already.
      if (isNotFound(err)) return;
      throw err;
    }
  }

  /** Content that is still going away is not a failure: look again after half the estimate. */
  async function syncOrWait(key: string, signal: AbortSignal): Promise<void> {
    try {
      await sync(key, signal);
    } catch (err) {
      if (!(err instanceof ResourcesRemainingError)) throw err;
      const waitS = Math.floor(err.estimate / 2) + 1;
      log.debug({ namespace: key, waitSeconds: waitS }, 'content remaining in namespace');
      queue.addAfter(key, waitS * 1000);
    }
  }

  return {
    name: NAMESPACE_CONTROLLER,
    async run(signal) {
      const resync = setInterval(() => {
        for (const ns of namespaces.list()) enqueue(ns);
      }, NAMESPACE_SYNC_PERIOD_MS);
      try {
        await runQueueWorkers({ name: 'namespace', queue, sync: syncOrWait, workers: ctx.options.concurrentNamespaceSyncs, synced: [() => namespaces.hasSynced()], log }, signal);
      } finally {
        clearInterval(resync);
      }
    },
  };
}


