// What only the SQLite engine has: its file, its lock, its compaction and its slow watchers.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isStorageError } from '../../../src/storage/errors.js';
import { Compactor } from '../../../src/storage/compactor.js';
import { SqliteKV } from '../../../src/storage/sqlite/sqliteKV.js';
import { KVStore } from '../../../src/storage/store.js';
import { tempDir } from '../../support/tmp.js';

const code = (c: string) => (err: unknown) => isStorageError(err, c as never);

describe('SQLite engine', () => {
  it('refuses a file that is not a database with Corrupt, and the process lives on', () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'state.db');
      writeFileSync(path, Buffer.alloc(8192, 0x5a));
      assert.throws(() => SqliteKV.open({ path }), code('Corrupt'));
    } finally {
      dir.remove();
    }
  });

  it('refuses a database another process holds with Locked', () => {
    const dir = tempDir();
    const path = join(dir.path, 'state.db');
    const kv = SqliteKV.open({ path });
    try {
      const other = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { SqliteKV } from ${JSON.stringify(new URL('../../../src/storage/sqlite/sqliteKV.js', import.meta.url).href)};
           try { SqliteKV.open({ path: ${JSON.stringify(path)}, busyTimeoutMs: 100 }); console.log('opened'); }
           catch (e) { console.log(e.code); }`,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(other.stdout.trim(), 'Locked', other.stderr);
    } finally {
      void kv.close();
      dir.remove();
    }
  });

  it('answers every call after close with Closed', async () => {
    const dir = tempDir();
    const kv = SqliteKV.open({ path: join(dir.path, 'state.db') });
    await kv.put({ key: Buffer.from('/a'), value: Buffer.from('1') });
    await kv.close();
    await assert.rejects(kv.range({ key: Buffer.from('/a') }), code('Closed'));
    await assert.rejects(kv.put({ key: Buffer.from('/a'), value: Buffer.from('2') }), code('Closed'));
    dir.remove();
  });

  it('keeps state, revision and compaction point across a reopen', async () => {
    const dir = tempDir();
    const path = join(dir.path, 'state.db');
    let kv = SqliteKV.open({ path });
    for (let i = 0; i < 10; i++) await kv.put({ key: Buffer.from(`/k${i}`), value: Buffer.from(String(i)) });
    await kv.compact(5);
    const rev = kv.revision;
    await kv.close();
    kv = SqliteKV.open({ path });
    try {
      assert.equal(kv.revision, rev);
      assert.equal(kv.compactedRevision, 5);
      await assert.rejects(kv.range({ key: Buffer.from('/k1'), revision: 3 }), code('TooOldRevision'));
      const put = await kv.put({ key: Buffer.from('/k1'), value: Buffer.from('x') });
      assert.equal(put.header.revision, rev + 1);
    } finally {
      await kv.close();
      dir.remove();
    }
  });

  it('gives one revision to all writes of a transaction, like etcd', async () => {
    const dir = tempDir();
    const kv = SqliteKV.open({ path: join(dir.path, 'state.db') });
    try {
      const r = await kv.txn({
        compare: [],
        success: [
          { put: { key: Buffer.from('/t/a'), value: Buffer.from('a') } },
          { put: { key: Buffer.from('/t/b'), value: Buffer.from('b') } },
        ],
        failure: [],
      });
      const got = await kv.range({ key: Buffer.from('/t/'), rangeEnd: Buffer.from('/t0') });
      assert.deepEqual(got.kvs.map((k) => k.modRevision), [r.header.revision, r.header.revision]);
      await assert.rejects(
        kv.txn({
          compare: [],
          success: [
            { put: { key: Buffer.from('/t/a'), value: Buffer.from('a') } },
            { put: { key: Buffer.from('/t/a'), value: Buffer.from('b') } },
          ],
          failure: [],
        }),
        code('InvalidRequest'),
      );
    } finally {
      await kv.close();
      dir.remove();
    }
  });

  it('stays bounded under constant updates with compaction on', async () => {
    const dir = tempDir();
    const path = join(dir.path, 'state.db');
    const kv = SqliteKV.open({ path, walAutocheckpointPages: 256 });
    try {
      const value = Buffer.alloc(1024, 0x62);
      const keys = 200;
      for (let round = 0; round < 50; round++) {
        await Promise.all(Array.from({ length: keys }, (_, i) => kv.put({ key: Buffer.from(`/registry/x/k${i}`), value })));
        if (round % 5 === 4) await kv.compact(kv.revision);
      }
      await new Promise((r) => setTimeout(r, 200)); // physical compaction runs in the background
      const status = await kv.status();
      const live = keys * (value.length + 20);
      // 10,000 updates of 200 keys: without compaction this is over 10 MB.
      assert.ok(status.dbSizeInUse < 4 * live, `in use ${status.dbSizeInUse} bytes for ${live} live`);
    } finally {
      await kv.close();
      dir.remove();
    }
  });

  it('switches a watcher that stops reading to the log and still delivers everything in order', async () => {
    const dir = tempDir();
    const kv = SqliteKV.open({ path: join(dir.path, 'state.db'), watchBufferEvents: 50 });
    const store = new KVStore(kv, { compaction: false });
    try {
      const ac = new AbortController();
      const start = kv.revision;
      const it = store.watch('/registry/slow/', start, ac.signal)[Symbol.asyncIterator]();
      const first = it.next(); // the watch is registered; nobody reads for a while
      for (let i = 0; i < 500; i++) await store.create(`/registry/slow/k${i}`, Buffer.from(String(i)));
      const revs: number[] = [];
      let r = await first;
      while (!r.done) {
        if (r.value.type !== 'progress') revs.push(r.value.revision);
        if (revs.length === 500) break;
        r = await it.next();
      }
      ac.abort();
      assert.equal(revs.length, 500);
      for (let i = 0; i < revs.length; i++) assert.equal(revs[i], start + 1 + i);
    } finally {
      await store.close();
      dir.remove();
    }
  });

  it('compacts automatically to the newest revision older than the retention, and no further', async () => {
    const dir = tempDir();
    const kv = SqliteKV.open({ path: join(dir.path, 'state.db') });
    const compactor = new Compactor(kv, { retentionMs: 5 * 60_000, intervalMs: 3_600_000 });
    try {
      const put = (i: number) => kv.put({ key: Buffer.from('/registry/auto/k'), value: Buffer.from(String(i)) });
      const t0 = 1_000_000;
      await put(1);
      await compactor.round(t0); // notes the revision now
      const noted = kv.revision;
      await put(2);
      await compactor.round(t0 + 60_000); // a minute later: nothing is old enough yet
      assert.equal(kv.compactedRevision, 0);
      await put(3);
      await compactor.round(t0 + 5 * 60_000 + 1); // five minutes after the first note
      assert.equal(kv.compactedRevision, noted);
      // History after the noted revision is still there for watchers five minutes behind.
      const r = await kv.range({ key: Buffer.from('/registry/auto/k'), revision: noted + 1 });
      assert.equal(r.kvs[0]?.value.toString(), '2');
    } finally {
      compactor.stop();
      await kv.close();
      dir.remove();
    }
  });
});

