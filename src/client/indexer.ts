// An informer's cache: objects keyed `namespace/name` (or `name` for cluster-scoped kinds) with
// secondary indexes, like client-go's cache.Indexer. Everything runs on the one JS thread, so
// a read never sees a half-applied write.
import type { Lister } from './lister.js';
import type { KubeObject } from './resourceClient.js';

/** The values an object is indexed under (e.g. its node name); none = not in this index. */
export type IndexFunc<T> = (obj: Readonly<T>) => readonly string[];
export type Indexers<T> = Readonly<Record<string, IndexFunc<T>>>;

/** The built-in index every informer has: objects by metadata.namespace. */
export const NAMESPACE_INDEX = 'namespace';

/** client-go's MetaNamespaceKeyFunc: `namespace/name`, or `name` without a namespace. */
export function metaNamespaceKey(obj: KubeObject): string {
  const name = obj.metadata?.name;
  if (!name) throw new TypeError('object has no metadata.name');
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${name}` : name;
}

export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** Inverse of metaNamespaceKey. */
export function splitMetaNamespaceKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

const namespaceIndexFunc = (obj: Readonly<KubeObject>): string[] => [obj.metadata?.namespace ?? ''];

export class Indexer<T extends KubeObject> implements Lister<T> {
  private readonly items = new Map<string, Readonly<T>>();
  private readonly indexers = new Map<string, IndexFunc<T>>();
  /** index name → indexed value → keys */
  private readonly indices = new Map<string, Map<string, Set<string>>>();

  constructor(indexers: Indexers<T> = {}) {
    this.indexers.set(NAMESPACE_INDEX, namespaceIndexFunc as IndexFunc<T>);
    this.indices.set(NAMESPACE_INDEX, new Map());
    this.addIndexers(indexers);
  }

  /** Adds indexes (also after objects are stored: they are indexed at once). Names must be new. */
  addIndexers(indexers: Indexers<T>): void {
    for (const [name, fn] of Object.entries(indexers)) {
      if (this.indexers.has(name)) throw new Error(`indexer conflict: ${name}`);
      this.indexers.set(name, fn);
      const index = new Map<string, Set<string>>();
      this.indices.set(name, index);
      for (const [key, obj] of this.items) for (const v of fn(obj)) addTo(index, v, key);
    }
  }

  hasIndex(name: string): boolean {
    return this.indexers.has(name);
  }

  /** Stores `obj` under its key; returns the object it replaced. */
  upsert(obj: Readonly<T>): Readonly<T> | undefined {
    const key = metaNamespaceKey(obj);
    const old = this.items.get(key);
    if (old) this.unindex(key, old);
    this.items.set(key, obj);
    this.index(key, obj);
    return old;
  }

  /** Removes the object with `key`; returns it. */
  deleteKey(key: string): Readonly<T> | undefined {
    const old = this.items.get(key);
    if (!old) return undefined;
    this.unindex(key, old);
    this.items.delete(key);
    return old;
  }

  getByKey(key: string): Readonly<T> | undefined {
    return this.items.get(key);
  }

  get(namespace: string | undefined, name: string): Readonly<T> | undefined {
    return this.items.get(objectKey(namespace, name));
  }

  list(namespace?: string): readonly Readonly<T>[] {
    if (namespace === undefined) return [...this.items.values()];
    return this.byIndex(NAMESPACE_INDEX, namespace);
  }

  listKeys(): string[] {
    return [...this.items.keys()];
  }

  get size(): number {
    return this.items.size;
  }

  /** Objects whose index function returned `value` for index `indexName`. */
  byIndex(indexName: string, value: string): Readonly<T>[] {
    return this.indexKeys(indexName, value).map((k) => this.items.get(k)!);
  }

  indexKeys(indexName: string, value: string): string[] {
    const index = this.indices.get(indexName);
    if (!index) throw new Error(`index ${indexName} does not exist`);
    return [...(index.get(value) ?? [])];
  }

  /** Every value some object is indexed under in `indexName`. */
  listIndexFuncValues(indexName: string): string[] {
    const index = this.indices.get(indexName);
    if (!index) throw new Error(`index ${indexName} does not exist`);
    return [...index.keys()];
  }

  private index(key: string, obj: Readonly<T>): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name)!;
      for (const v of fn(obj)) addTo(index, v, key);
    }
  }

  private unindex(key: string, obj: Readonly<T>): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name)!;
      for (const v of fn(obj)) {
        const keys = index.get(v);
        if (!keys) continue;
        keys.delete(key);
        if (keys.size === 0) index.delete(v);
      }
    }
  }
}

function addTo(index: Map<string, Set<string>>, value: string, key: string): void {
  let keys = index.get(value);
  if (!keys) index.set(value, (keys = new Set()));
  keys.add(key);
}
