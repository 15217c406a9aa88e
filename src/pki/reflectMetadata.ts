// The part of the Reflect metadata API that tsyringe (a dependency of @peculiar/x509) checks for at load
// time and then calls: defineMetadata, getOwnMetadata, getMetadata. No polyfill package is installed, so
// this module supplies one. It never replaces an existing implementation; import it before @peculiar/x509.

type Key = string | symbol | undefined;
const store = new WeakMap<object, Map<Key, Map<unknown, unknown>>>();

function table(target: object, property: Key, create: boolean): Map<unknown, unknown> | undefined {
  let byProperty = store.get(target);
  if (!byProperty) {
    if (!create) return undefined;
    byProperty = new Map();
    store.set(target, byProperty);
  }
  let entries = byProperty.get(property);
  if (!entries && create) {
    entries = new Map();
    byProperty.set(property, entries);
  }
  return entries;
}

interface ReflectMetadata {
  defineMetadata?(key: unknown, value: unknown, target: object, property?: string | symbol): void;
  getOwnMetadata?(key: unknown, target: object, property?: string | symbol): unknown;
  getMetadata?(key: unknown, target: object, property?: string | symbol): unknown;
  hasOwnMetadata?(key: unknown, target: object, property?: string | symbol): boolean;
  hasMetadata?(key: unknown, target: object, property?: string | symbol): boolean;
}

const R = Reflect as unknown as ReflectMetadata;
if (typeof R.getMetadata !== 'function') {
  R.defineMetadata = (key, value, target, property) => {
    table(target, property, true)?.set(key, value);
  };
  R.getOwnMetadata = (key, target, property) => table(target, property, false)?.get(key);
  R.hasOwnMetadata = (key, target, property) => table(target, property, false)?.has(key) ?? false;
  // Metadata is inherited along the prototype chain, as with the reference implementation.
  R.getMetadata = (key, target, property) => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t) as object | null) {
      const entries = table(t, property, false);
      if (entries?.has(key)) return entries.get(key);
    }
    return undefined;
  };
  R.hasMetadata = (key, target, property) => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t) as object | null) {
      if (table(t, property, false)?.has(key)) return true;
    }
    return false;
  };
}

export {};
