import { join } from 'node:path';
import { SqliteKV } from '../../../src/storage/sqlite/sqliteKV.js';
import { storeConformance, storeUnderTest } from '../../support/storeConformance.js';
import { tempDir } from '../../support/tmp.js';

storeConformance('SQLite', async () => {
  const dir = tempDir();
  return storeUnderTest(SqliteKV.open({ path: join(dir.path, 'state.db') }), () => dir.remove());
});
