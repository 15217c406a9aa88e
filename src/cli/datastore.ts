// `k8ts datastore serve`: the embedded SQLite datastore behind an etcd v3 endpoint.
import { Compactor } from '../storage/compactor.js';
import { startEtcdServer } from '../storage/etcd/server.js';
import { sqlitePathIn } from '../storage/open.js';
import { SqliteKV } from '../storage/sqlite/sqliteKV.js';
import { logger } from '../util/log.js';

const log = logger('datastore');


export interface DatastoreServeOptions {
  dataDir: string;
  listen: string;
  /** 0 turns automatic compaction off. */
  retentionMs: number;
  tls?: { certFile: string; keyFile: string; caFile?: string | undefined } | undefined;
}

export async function datastoreServe(opts: DatastoreServeOptions): Promise<void> {
  const path = sqlitePathIn(opts.dataDir);
  let kv: SqliteKV;
  try {
    kv = SqliteKV.open({ path });
  } catch (err) {
    process.stderr.write(`k8ts: cannot open the datastore: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const compactor =
    opts.retentionMs > 0
      ? new Compactor(kv, { retentionMs: opts.retentionMs, intervalMs: Math.min(60_000, opts.retentionMs) }, (err) =>
          log.warn({ err }, 'automatic compaction failed'),
        )
      : undefined;
  let server: Awaited<ReturnType<typeof startEtcdServer>>;
  try {
    server = await startEtcdServer(kv, { listen: opts.listen, tls: opts.tls, name: 'k8ts' });
  } catch (err) {
    await kv.close();
    process.stderr.write(`k8ts: cannot listen on ${opts.listen}: ${(err as Error).message}\n`);
    process.exit(1);
  }
  log.info({ path, url: server.url }, 'datastore serving the etcd v3 API');
  process.stdout.write(`k8ts datastore: ${path}\netcd v3 endpoint: ${server.url}  (try: etcdctl --endpoints=${server.url} get / --prefix --keys-only)\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  compactor?.stop();
  await server.close();
  await kv.close();
}
