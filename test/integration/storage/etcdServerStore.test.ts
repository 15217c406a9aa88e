// The conformance suite once more, end to end through the etcd-compatible server: Store → EtcdKV
// (gRPC client) → our etcd v3 server → SqliteKV. Whatever a real etcd client sees, it sees here.
import { join } from 'node:path';
import { EtcdKV } from '../../../src/storage/etcd/etcdKV.js';
import { startEtcdServer } from '../../../src/storage/etcd/server.js';
import { SqliteKV } from '../../../src/storage/sqlite/sqliteKV.js';
import { KVStore } from '../../../src/storage/store.js';
import { storeConformance } from '../../support/storeConformance.js';
import { tempDir } from '../../support/tmp.js';

storeConformance('etcd v3 server over SQLite', async () => {
  const dir = tempDir();
  const engine = SqliteKV.open({ path: join(dir.path, 'state.db') });
  const server = await startEtcdServer(engine, { listen: 'http://127.0.0.1:0' });
  const kv = await EtcdKV.connect({ endpoints: [server.url] });
  const store = new KVStore(kv, { compaction: false, leaseReuseMs: 0 });
  return {
    store,
    compact: (rev) => store.compact(rev),
    cleanup: async () => {
      await store.close();
      await server.close();
      await engine.close();
      dir.remove();
    },
  };
});
