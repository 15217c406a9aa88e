// What a controller or the scheduler reads cluster state through: an informer's cache, never the
// API directly. Objects handed out are the cache's own, so they are read-only; copy before editing.

export interface Lister<T> {
  /** The object `namespace/name` (namespace '' or undefined for cluster-scoped kinds), if cached. */
  get(namespace: string | undefined, name: string): Readonly<T> | undefined;
  /** Every cached object, or those of one namespace. */
  list(namespace?: string): readonly Readonly<T>[];
}
