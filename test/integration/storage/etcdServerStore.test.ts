// The conformance suite once more, end to end through the etcd-compatible server: Store → EtcdKV
// (gRPC client) → our etcd v3 server → SqliteKV. Whatever a real etcd client sees, it sees here.
import { join } from 'node:path';
import { EtcdKV } from '../../../src/storage/etcd/etcdKV.js';
import { startEtcdServer } from '../../../src/storage/etcd/server.js';
import { SqliteKV } from '../../../src/storage/sqlite/sqliteKV.js';
import { storeConformance, storeUnderTest } from '../../support/storeConformance.js';
import { tempDir } from '../../support/tmp.js';

storeConformance('etcd v3 server over SQLite', async () => {
  const dir = tempDir();
  const engine = SqliteKV.open({ path: join(dir.path, 'state.db') });
  const server = await startEtcdServer(engine, { listen: 'http://127.0.0.1:0' });
  return storeUnderTest(await EtcdKV.connect({ endpoints: [server.url] }), async () => {
    await server.close();
    await engine.close();
    dir.remove();
  });
});
