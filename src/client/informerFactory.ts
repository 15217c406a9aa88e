// One informer per resource (and namespace/selector) per process, shared by every controller that
// asks, as client-go's SharedInformerFactory: one watch and one cache however many readers.
import type { Indexers } from './indexer.js';
import { SharedInformer, type InformerOptions } from './informer.js';
import type { Clock } from './clock.js';
import { labelSelectorString, type KubeObject, type SelectorOptions } from './resourceClient.js';
import { findResourceType, type RestClient } from './restClient.js';

export interface InformerFactoryOptions {
  /** Default resync period of informers created here (0 = none). */
  resyncPeriodMs?: number;
  /** Restrict every informer to one namespace. */
  namespace?: string;
  clock?: Clock;
  /** Applied to every object of every informer made here (client-go's WithTransform). */
  transform?: <T extends KubeObject>(obj: T) => T;
}

export interface InformerRequest<T> extends SelectorOptions {
  namespace?: string;
  /** Indexes to add to the (possibly already existing) shared informer; an index name already present keeps its first definition. */
  indexers?: Indexers<T>;
  resyncPeriodMs?: number;
}

export class SharedInformerFactory {
  private readonly informers = new Map<string, SharedInformer<KubeObject>>();
  private signal: AbortSignal | undefined;
  private startedOnce = false;

  constructor(
    readonly client: RestClient,
    readonly options: InformerFactoryOptions = {},
  ) {}

  /** The shared informer of `group/version/plural` with these selectors (created on first request). */
  informerFor<T extends KubeObject>(group: string, version: string, plural: string, req: InformerRequest<T> = {}): SharedInformer<T> {
    const namespace = req.namespace ?? this.options.namespace;
    const key = [group, version, plural, namespace ?? '', labelSelectorString(req.labelSelector) ?? '', req.fieldSelector ?? ''].join('|');
    let inf = this.informers.get(key) as SharedInformer<T> | undefined;
    if (!inf) {
      const opts: InformerOptions<T> = {};
      if (namespace) opts.namespace = namespace;
      if (req.labelSelector !== undefined) opts.labelSelector = req.labelSelector;
      if (req.fieldSelector !== undefined) opts.fieldSelector = req.fieldSelector;
      const resync = req.resyncPeriodMs ?? this.options.resyncPeriodMs;
      if (resync) opts.resyncPeriodMs = resync;
      if (this.options.clock) opts.clock = this.options.clock;
      if (this.options.transform) opts.transform = this.options.transform;
      inf = new SharedInformer<T>(this.client.resource<T>(group, version, plural), opts);
      this.informers.set(key, inf as unknown as SharedInformer<KubeObject>);
      // Informers asked for after start() start at once, so late callers need not remember to.
      if (this.startedOnce && this.signal && !this.signal.aborted) inf.start(this.signal);
    }
    if (req.indexers) {
      const fresh = Object.fromEntries(Object.entries(req.indexers).filter(([name]) => !inf.indexer.hasIndex(name)));
      inf.addIndexers(fresh);
    }
    return inf;
  }

  /** The shared informer of a built-in kind (`Pod`, `Lease` with group `coordination.k8s.io`). */
  informerForKind<T extends KubeObject>(kind: string, group?: string, req: InformerRequest<T> = {}): SharedInformer<T> {
    const t = findResourceType(kind, group);
    return this.informerFor<T>(t.group, t.version, t.plural, req);
  }

  /** Starts every informer not yet started; `signal` stops them all. */
  start(signal: AbortSignal): void {
    this.signal = signal;
    this.startedOnce = true;
    for (const inf of this.informers.values()) inf.start(signal);
  }

  /** Resolves true when every informer requested so far has synced; false if `signal` aborts first. */
  async waitForCacheSync(signal?: AbortSignal): Promise<boolean> {
    const results = await Promise.all([...this.informers.values()].map((inf) => inf.waitForSync(signal)));
    return results.every((ok) => ok);
  }

  /** Stops every informer. */
  shutdown(): void {
    for (const inf of this.informers.values()) inf.stop();
  }
}
