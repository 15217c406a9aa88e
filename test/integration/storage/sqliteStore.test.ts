import { join } from 'node:path';
import { SqliteKV } from '../../../src/storage/sqlite/sqliteKV.js';
import { KVStore } from '../../../src/storage/store.js';
import { storeConformance } from '../../support/storeConformance.js';
import { tempDir } from '../../support/tmp.js';

storeConformance('SQLite', async () => {
  const dir = tempDir();
  const kv = SqliteKV.open({ path: join(dir.path, 'state.db') });
  const store = new KVStore(kv, { compaction: false, leaseReuseMs: 0 });
  return {
    store,
    compact: (rev) => store.compact(rev),
    cleanup: async () => {
      await store.close();
      dir.remove();
    },
  };
});
