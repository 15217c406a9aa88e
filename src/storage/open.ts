// Opens the Store a --datastore-endpoint names: sqlite://[path] (the default, embedded) or
// http(s)://host:port[,…] for etcd, with optional client TLS files.
import { isAbsolute, join, resolve } from 'node:path';
import { StorageError } from './errors.js';
import type { KV } from './kv.js';
import { SqliteKV } from './sqlite/sqliteKV.js';
import { KVStore, type KVStoreOptions } from './store.js';

export interface DatastoreOptions {
  /** Empty or sqlite://… for the embedded store; http(s)://… (comma-separated) for etcd. */
  endpoint?: string | undefined;
  /** Where the embedded database lives when the endpoint names no path. */
  dataDir: string;
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  store?: KVStoreOptions | undefined;
}

/** The embedded database's default place inside a data dir. */
export function sqlitePathIn(dataDir: string): string {
  return join(dataDir, 'db', 'state.db');
}

export async function openKV(opts: DatastoreOptions): Promise<KV> {
  const endpoint = (opts.endpoint ?? '').trim();
  if (endpoint === '' || endpoint.startsWith('sqlite:')) {
    const rest = endpoint.replace(/^sqlite:(\/\/)?/, '').replace(/\?.*$/, '');
    const path = rest === '' ? sqlitePathIn(opts.dataDir) : isAbsolute(rest) ? rest : resolve(rest);
    return SqliteKV.open({ path });
  }
  const endpoints = endpoint.split(',').map((e) => e.trim()).filter(Boolean);
  const bad = endpoints.find((e) => !/^https?:\/\/[^/]+/.test(e));
  if (bad) {
    throw new StorageError('InvalidRequest', `datastore endpoint "${bad}" is neither sqlite://PATH nor http(s)://HOST:PORT`);
  }
  // gRPC is loaded only when an etcd is used; the embedded store starts faster without it.
  const { EtcdKV } = await import('./etcd/etcdKV.js');
  return EtcdKV.connect({ endpoints, caFile: opts.caFile, certFile: opts.certFile, keyFile: opts.keyFile });
}

export async function openStore(opts: DatastoreOptions): Promise<KVStore> {
  return new KVStore(await openKV(opts), opts.store);
}
