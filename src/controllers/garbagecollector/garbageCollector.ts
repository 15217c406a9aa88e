// The garbage collector (upstream's garbage-collector-controller): monitors every resource that
// can be listed, watched and deleted (re-read from discovery periodically, so custom resources
// join and leave), keeps the ownerReferences graph, and deletes dependents whose owners are all
// gone (background), deletes dependents before their owner (foregroundDeletion finalizer), or
// strips the owner from its dependents (orphan finalizer). Absent owners are always confirmed by a
// live GET by UID; since the graph is rebuilt from lists, a restart finds orphans left behind.
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import { ApiError, isConflict, isNotFound } from '../../client/apiError.js';
import { SharedInformer, type HandlerRegistration } from '../../client/informer.js';
import type { KubeObject, ResourceClient } from '../../client/resourceClient.js';
import { RateLimitingQueue } from '../../client/workqueue.js';
import { BUILTIN_RESOURCES } from '../../api/catalog.js';
import { errorText, type Controller, type ControllerContext } from '../controller.js';
import { discoverResources, groupVersionString, resourceKey, supportingVerbs, type DiscoveredResource } from '../discovery.js';
import { classifyReferences, planDependent, withoutFinalizer, type OwnerState } from './decisions.js';
import { DependencyGraph, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, refString, type GraphEvent, type GraphNode, type ObjectRef } from './graph.js';

export const GARBAGE_COLLECTOR_CONTROLLER = 'garbage-collector-controller';

/** Upstream's default --garbage-collector ignored resources: events are never owners worth a watch. */
export const DEFAULT_IGNORED_RESOURCES: ReadonlyArray<{ group: string; plural: string }> = [
  { group: '', plural: 'events' },
  { group: 'events.k8s.io', plural: 'events' },
];

/** How often discovery is read again for new or removed resources (upstream: 30 s). */
export const DEFAULT_RESOURCE_RESYNC_MS = 30_000;
const ABSENT_OWNER_CACHE_SIZE = 500;

export interface GarbageCollectorOptions {
  resourceResyncPeriodMs?: number;
  ignoredResources?: ReadonlyArray<{ group: string; plural: string }>;
  /** Workers start after every monitor synced or after this long (upstream: the resync period). */
  initialSyncTimeoutMs?: number;
}

interface Meta extends KubeObject {
  metadata?: KubeObject['metadata'];
}

class RestMappingError extends Error {
  override readonly name = 'RestMappingError';
}
class NamespacedOwnerOfClusterScopedError extends Error {
  override readonly name = 'NamespacedOwnerOfClusterScopedError';
}

/** A small LRU of owner identities known not to exist (upstream's ReferenceCache). */
class AbsentOwnerCache {
  private readonly keys = new Map<string, true>();
  constructor(private readonly max: number) {}
  private key(r: ObjectRef): string {
    return JSON.stringify([r.apiVersion, r.kind, r.name, r.uid, r.namespace]);
  }
  add(r: ObjectRef): void {
    const k = this.key(r);
    this.keys.delete(k);
    this.keys.set(k, true);
    if (this.keys.size > this.max) this.keys.delete(this.keys.keys().next().value!);
  }
  has(r: ObjectRef): boolean {
    const k = this.key(r);
    if (!this.keys.has(k)) return false;
    this.keys.delete(k);
    this.keys.set(k, true);
    return true;
  }
}

interface Monitor {
  resource: DiscoveredResource;
  informer: SharedInformer<Meta>;
  registration: HandlerRegistration;
  /** Informers the collector made itself (custom resources) are stopped when the resource goes. */
  owned: boolean;
}

export function newGarbageCollector(ctx: ControllerContext, opts: GarbageCollectorOptions = {}): Controller {
  const log = ctx.log.child({ controller: 'garbagecollector' });
  const recorder = ctx.recorder(GARBAGE_COLLECTOR_CONTROLLER);
  const resyncMs = opts.resourceResyncPeriodMs ?? DEFAULT_RESOURCE_RESYNC_MS;
  const ignored = opts.ignoredResources ?? DEFAULT_IGNORED_RESOURCES;
  const attemptToDelete = new RateLimitingQueue<string>({ name: 'garbage_collector_attempt_to_delete' });
  const attemptToOrphan = new RateLimitingQueue<string>({ name: 'garbage_collector_attempt_to_orphan' });
  const absentOwners = new AbsentOwnerCache(ABSENT_OWNER_CACHE_SIZE);
  const monitors = new Map<string, Monitor>();
  /** apiVersion|kind → resource, over every served version (the REST mapper). */
  let mapper = new Map<string, DiscoveredResource>();

  const graph = new DependencyGraph({
    attemptToDelete: (n) => attemptToDelete.add(n.identity.uid),
    attemptToDeleteLater: (n) => attemptToDelete.addRateLimited(n.identity.uid),
    attemptToOrphan: (n) => attemptToOrphan.add(n.identity.uid),
    markAbsent: (r) => absentOwners.add(r),
    invalidNamespaceOwnerRef: (dep, owner) => {
      const subject = { kind: dep.identity.kind, apiVersion: dep.identity.apiVersion, name: dep.identity.name, uid: dep.identity.uid, ...(dep.identity.namespace ? { namespace: dep.identity.namespace } : {}) };
      recorder.event(subject, 'Warning', 'OwnerRefInvalidNamespace', `ownerRef ${refString(owner)} does not exist in namespace "${dep.identity.namespace}"`);
    },
  });

  const toEvent = (type: GraphEvent['type'], r: DiscoveredResource, obj: Readonly<Meta>, old?: Readonly<Meta>): GraphEvent => ({
    type,
    apiVersion: groupVersionString(r.group, r.version),
    kind: r.kind,
    metadata: (obj.metadata ?? {}) as GraphEvent['metadata'],
    oldMetadata: old?.metadata as GraphEvent['metadata'] | undefined,
  });

  const mapping = (apiVersion: string, kind: string): DiscoveredResource => {
    const m = mapper.get(`${apiVersion}|${kind}`);
    if (!m) throw new RestMappingError(`unable to get REST mapping for ${kind}.${apiVersion}`);
    return m;
  };
  const clientFor = (r: DiscoveredResource): ResourceClient<Meta> => ctx.client.resource<Meta>(r.group, r.version, r.plural, { namespaced: r.namespaced });

  // ---- monitors ----

  function syncMonitors(resources: readonly DiscoveredResource[]): void {
    const want = new Map(resources.map((r) => [resourceKey(r), r]));
    for (const [key, m] of monitors) {
      if (want.has(key)) continue;
      m.registration.remove();
      if (m.owned) m.informer.stop();
      monitors.delete(key);
      log.info({ resource: key }, 'stopped monitoring resource');
    }
    for (const [key, r] of want) {
      if (monitors.has(key)) continue;
      const builtin = BUILTIN_RESOURCES.some((b) => b.group === r.group && b.version === r.version && b.plural === r.plural);
      const informer = builtin
        ? ctx.informers.informerFor<Meta>(r.group, r.version, r.plural)
        : new SharedInformer<Meta>(clientFor(r), { name: r.group ? `${r.plural}.${r.group}` : r.plural });
      const registration = informer.addEventHandler({
        onAdd: (o) => graph.process(toEvent('add', r, o)),
        onUpdate: (old, o) => graph.process(toEvent('update', r, o, old)),
        onDelete: (o) => graph.process(toEvent('delete', r, o)),
      });
      // Stopped by the collector (on resource removal or abort), so no abort listener per informer.
      if (!builtin) informer.start();
      monitors.set(key, { resource: r, informer, registration, owned: !builtin });
    }
  }

  const synced = () => [...monitors.values()].every((m) => m.registration.hasSynced());

  async function resyncResources(signal: AbortSignal): Promise<boolean> {
    const d = await discoverResources(ctx.client, signal);
    if (signal.aborted) return false;
    if (d.error) log.info({ err: d.error.message }, 'failed to discover some groups');
    const next = new Map<string, DiscoveredResource>();
    for (const r of d.all) next.set(`${groupVersionString(r.group, r.version)}|${r.kind}`, r);
    if (next.size === 0) return false;
    mapper = next;
    let deletable = supportingVerbs(d.preferred, ['delete', 'list', 'watch']).filter((r) => !ignored.some((i) => i.group === r.group && i.plural === r.plural));
    if (d.error) {
      // Keep monitors of groups that failed this time rather than dropping their graph.
      const failed = new Set(d.error.groups.keys());
      const kept = [...monitors.values()].filter((m) => failed.has(groupVersionString(m.resource.group, m.resource.version))).map((m) => m.resource);
      deletable = [...deletable, ...kept];
    }
    syncMonitors(deletable);
    return true;
  }

  // ---- API operations ----

  async function getObject(id: ObjectRef, signal: AbortSignal): Promise<Meta | undefined> {
    const r = mapping(id.apiVersion, id.kind);
    try {
      return await clientFor(r).get(r.namespaced ? id.namespace : undefined, id.name, { signal });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async function deleteObject(id: ObjectRef, resourceVersion: string | undefined, ownersAtRV: readonly OwnerReference[], policy: 'Background' | 'Foreground' | 'Orphan', signal: AbortSignal): Promise<void> {
    const r = mapping(id.apiVersion, id.kind);
    const c = clientFor(r);
    const ns = r.namespaced ? id.namespace : undefined;
    try {
      await c.delete(ns, id.name, { propagationPolicy: policy, preconditions: { uid: id.uid, ...(resourceVersion ? { resourceVersion } : {}) }, signal });
    } catch (err) {
      if (!isConflict(err) || !resourceVersion) throw err;
      // Changed since we looked: if its owners did not change, delete it anyway (do not starve on busy objects).
      const live = await c.get(ns, id.name, { signal }).catch((e: unknown) => {
        if (isNotFound(e)) return undefined;
        throw e;
      });
      if (!live) return;
      if (live.metadata?.uid === id.uid && live.metadata?.resourceVersion !== resourceVersion && JSON.stringify(live.metadata?.ownerReferences ?? []) === JSON.stringify(ownersAtRV)) {
        await c.delete(ns, id.name, { propagationPolicy: policy, preconditions: { uid: id.uid }, signal });
        return;
      }
      throw err;
    }
  }

  /** Patches ownerReferences: strategic merge on built-in kinds, merge patch of the whole list (guarded by resourceVersion) otherwise. */
  async function patchOwnerReferences(n: GraphNode, strategic: Array<Record<string, unknown>>, edit: (refs: OwnerReference[]) => OwnerReference[], signal: AbortSignal): Promise<void> {
    const r = mapping(n.identity.apiVersion, n.identity.kind);
    const c = clientFor(r);
    const ns = r.namespaced ? n.identity.namespace : undefined;
    const builtin = BUILTIN_RESOURCES.some((b) => b.group === r.group && b.plural === r.plural);
    if (builtin) {
      try {
        await c.patch(ns, n.identity.name, { metadata: { ownerReferences: strategic, uid: n.identity.uid } }, { type: 'strategic', signal });
        return;
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 415)) throw err;
      }
    }
    const live = await c.get(ns, n.identity.name, { signal });
    if (live.metadata?.uid !== n.identity.uid) throw new ApiError({ kind: 'Status', code: 404, reason: 'NotFound', message: `${refString(n.identity)} not found` });
    const refs = edit([...(live.metadata?.ownerReferences ?? [])]);
    await c.patch(ns, n.identity.name, { metadata: { ownerReferences: refs.length ? refs : null, resourceVersion: live.metadata?.resourceVersion } }, { type: 'merge', signal });
  }

  const deleteOwnerRefs = (n: GraphNode, uids: readonly string[], signal: AbortSignal) =>
    patchOwnerReferences(
      n,
      uids.map((uid) => ({ $patch: 'delete', uid })),
      (refs) => refs.filter((x) => !uids.includes(x.uid)),
      signal,
    );

  const unblockOwnerRefs = (n: GraphNode, signal: AbortSignal) =>
    patchOwnerReferences(
      n,
      n.owners.filter((o) => o.blockOwnerDeletion === true).map((o) => ({ uid: o.uid, blockOwnerDeletion: false })),
      (refs) => refs.map((x) => (x.blockOwnerDeletion === true ? { ...x, blockOwnerDeletion: false } : x)),
      signal,
    );

  async function removeFinalizer(n: GraphNode, finalizer: string, signal: AbortSignal): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const live = await getObject(n.identity, signal);
      if (!live) return;
      if (!(live.metadata?.finalizers ?? []).includes(finalizer)) return;
      const r = mapping(n.identity.apiVersion, n.identity.kind);
      try {
        await clientFor(r).patch(r.namespaced ? n.identity.namespace : undefined, n.identity.name, { metadata: { resourceVersion: live.metadata?.resourceVersion, finalizers: withoutFinalizer(live.metadata?.finalizers, finalizer) } }, { type: 'merge', signal });
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isConflict(err)) throw err;
      }
    }
    throw new Error(`updateMaxRetries(5) has reached. The garbage collector will retry later for owner ${refString(n.identity)}`);
  }

  function enqueueVirtualDelete(id: ObjectRef): void {
    graph.process({ type: 'delete', apiVersion: id.apiVersion, kind: id.kind, metadata: { name: id.name, namespace: id.namespace, uid: id.uid }, virtual: true });
  }

  // ---- attemptToDelete ----

  async function ownerState(ref: OwnerReference, item: GraphNode, signal: AbortSignal): Promise<OwnerState> {
    const key: ObjectRef = { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name, uid: ref.uid, namespace: '' };
    if (absentOwners.has(key)) return { exists: false };
    key.namespace = item.identity.namespace;
    if (absentOwners.has(key)) return { exists: false };
    const r = mapping(ref.apiVersion, ref.kind);
    if (!r.namespaced) key.namespace = '';
    if (item.identity.namespace === '' && r.namespaced) throw new NamespacedOwnerOfClusterScopedError('cluster-scoped objects cannot refer to namespaced owners');
    let owner: Meta;
    try {
      owner = await clientFor(r).get(r.namespaced ? item.identity.namespace : undefined, ref.name, { signal });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      absentOwners.add(key);
      return { exists: false };
    }
    if (owner.metadata?.uid !== ref.uid) {
      absentOwners.add(key);
      return { exists: false };
    }
    return { exists: true, deletionTimestamp: owner.metadata?.deletionTimestamp, finalizers: owner.metadata?.finalizers };
  }

  /** Returns 'virtual' when a virtual delete was produced (nothing to requeue). */
  async function attemptToDeleteItem(item: GraphNode, signal: AbortSignal): Promise<'virtual' | 'done'> {
    if (item.beingDeleted && !item.deletingDependents) return 'done';
    const latest = await getObject(item.identity, signal);
    if (!latest || latest.metadata?.uid !== item.identity.uid) {
      enqueueVirtualDelete(item.identity);
      return 'virtual';
    }
    if (item.deletingDependents) {
      const blocking = item.blockingDependents();
      if (blocking.length === 0) {
        log.debug({ item: refString(item.identity) }, 'remove foregroundDeletion finalizer');
        await removeFinalizer(item, FOREGROUND_FINALIZER, signal);
        return 'done';
      }
      for (const dep of blocking) if (!dep.deletingDependents) attemptToDelete.add(dep.identity.uid);
      return 'done';
    }
    const refs = latest.metadata?.ownerReferences ?? [];
    if (refs.length === 0) return 'done';
    const states = new Map<string, OwnerState>();
    for (const ref of refs) states.set(ref.uid, await ownerState(ref, item, signal));
    const classified = classifyReferences(refs, (ref) => states.get(ref.uid)!);
    const deps = [...item.dependents];
    const decision = planDependent({
      finalizers: latest.metadata?.finalizers ?? [],
      ownerReferences: refs,
      classified,
      dependents: deps.length,
      aDependentIsDeletingDependents: deps.some((d) => d.deletingDependents),
    });
    switch (decision.action) {
      case 'keep':
        return 'done';
      case 'removeOwnerReferences':
        log.debug({ item: refString(item.identity), uids: decision.uids }, 'remove dangling and waiting references');
        await deleteOwnerRefs(item, decision.uids, signal);
        return 'done';
      case 'delete':
        if (decision.unblockFirst) await unblockOwnerRefs(item, signal);
        log.debug({ item: refString(item.identity), policy: decision.policy }, 'deleting item');
        try {
          await deleteObject(item.identity, latest.metadata?.resourceVersion, refs, decision.policy, signal);
        } catch (err) {
          if (!isNotFound(err)) throw err;
          enqueueVirtualDelete(item.identity);
          return 'virtual';
        }
        return 'done';
    }
  }

  async function attemptToDeleteWorker(uid: string, signal: AbortSignal): Promise<'forget' | 'requeue'> {
    const n = graph.get(uid);
    if (!n) return 'forget';
    try {
      if ((await attemptToDeleteItem(n, signal)) === 'virtual') return 'forget';
    } catch (err) {
      if (err instanceof NamespacedOwnerOfClusterScopedError) return 'forget';
      if (!signal.aborted) log.info({ err: errorText(err), item: refString(n.identity) }, 'error syncing item');
      return 'requeue';
    }
    // A virtual node not yet observed: look again until a monitor sees it (or it is found absent).
    return n.observed ? 'forget' : 'requeue';
  }

  // ---- attemptToOrphan ----

  async function attemptToOrphanWorker(uid: string, signal: AbortSignal): Promise<'forget' | 'requeue'> {
    const owner = graph.get(uid);
    if (!owner) return 'forget';
    try {
      const results = await Promise.allSettled(
        [...owner.dependents].map((dep) =>
          deleteOwnerRefs(dep, [owner.identity.uid], signal).catch((err: unknown) => {
            if (!isNotFound(err)) throw new Error(`orphaning ${refString(dep.identity)} failed, ${errorText(err)}`);
          }),
        ),
      );
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length) throw new Error(`failed to orphan dependents of owner ${refString(owner.identity)}, got errors: ${failed.map((f) => errorText(f.reason)).join(', ')}`);
      await removeFinalizer(owner, ORPHAN_FINALIZER, signal);
      return 'forget';
    } catch (err) {
      if (!signal.aborted) log.info({ err: errorText(err), owner: refString(owner.identity) }, 'orphaning dependents failed');
      return 'requeue';
    }
  }

  async function runWorkers(queue: RateLimitingQueue<string>, work: (uid: string, signal: AbortSignal) => Promise<'forget' | 'requeue'>, n: number, signal: AbortSignal): Promise<void> {
    const worker = async () => {
      for (;;) {
        const uid = await queue.get();
        if (uid === undefined) return;
        try {
          const action = await work(uid, signal);
          if (action === 'forget') queue.forget(uid);
          else if (!signal.aborted) queue.addRateLimited(uid);
        } finally {
          queue.done(uid);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, n) }, worker));
  }

  return {
    name: GARBAGE_COLLECTOR_CONTROLLER,
    async run(signal) {
      const onAbort = () => {
        attemptToDelete.shutDown();
        attemptToOrphan.shutDown();
        for (const m of monitors.values()) {
          m.registration.remove();
          if (m.owned) m.informer.stop();
        }
      };
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        // Discovery until it answers, then keep it fresh in the background.
        for (;;) {
          if (signal.aborted) return;
          try {
            if (await resyncResources(signal)) break;
          } catch (err) {
            if (signal.aborted) return;
            log.info({ err: errorText(err) }, 'garbage collector discovery failed; retrying');
          }
          await sleep(1000, signal);
        }
        const resync = (async () => {
          while (!signal.aborted) {
            await sleep(resyncMs, signal);
            if (signal.aborted) return;
            await resyncResources(signal).catch((err: unknown) => {
              if (!signal.aborted) log.info({ err: errorText(err) }, 'garbage collector resource resync failed');
            });
          }
        })();
        const deadline = Date.now() + (opts.initialSyncTimeoutMs ?? resyncMs);
        while (!synced() && Date.now() < deadline && !signal.aborted) await sleep(50, signal);
        if (!synced()) log.info('garbage collector: not all resource monitors could be synced, proceeding anyways');
        const workers = ctx.options.concurrentGCSyncs;
        await Promise.all([runWorkers(attemptToDelete, attemptToDeleteWorker, workers, signal), runWorkers(attemptToOrphan, attemptToOrphanWorker, workers, signal), resync]);
      } finally {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) onAbort();
      }
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
