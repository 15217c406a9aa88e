// kill -9 etcd under the Store while writers run: every acknowledged write is there after etcd
// comes back, the Store reconnects by itself, and a watch resumes with no gap and no duplicate.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { isStorageError } from '../../../src/storage/errors.js';
import { EtcdKV } from '../../../src/storage/etcd/etcdKV.js';
import { KVStore, type StoreEvent } from '../../../src/storage/store.js';
import { skipWithoutEtcd, startEtcd } from '../../support/etcd.js';

it('keeps every acknowledged write across kill -9 of etcd and reconnects', { skip: skipWithoutEtcd() }, async () => {
  const etcd = await startEtcd();
  const kv = await EtcdKV.connect({ endpoints: [etcd.endpoint], requestTimeoutMs: 3000 });
  const store = new KVStore(kv, { compaction: false });
  const ac = new AbortController();
  try {
    const from = await store.currentRevision();
    const seen: StoreEvent[] = [];
    const watching = (async () => {
      for await (const e of store.watch('/registry/crash/', from, ac.signal)) if (e.type !== 'progress') seen.push(e);
    })().catch((err: unknown) => {
      if (!ac.signal.aborted) throw err;
    });
    const acked = new Map<string, number>();
    let failed = 0;
    let stop = false;
    let n = 0;
    const writer = async () => {
      while (!stop) {
        const key = `/registry/crash/k${n++}`;
        try {
          const r = await store.create(key, Buffer.from(key));
          if (r.ok) acked.set(key, r.object.modRevision);
        } catch (err) {
          // While etcd is down, writes fail with a typed error and are simply not acknowledged.
          assert.ok(isStorageError(err), String(err));
          failed++;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    const writers = Array.from({ length: 8 }, writer);
    // Progress is counted, not timed: a loaded machine only makes each phase take longer.
    const acks = async (atLeast: number, what: string) => {
      const deadline = Date.now() + 30_000;
      while (acked.size < atLeast && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(acked.size >= atLeast, `only ${acked.size} writes were acknowledged ${what}`);
    };
    await acks(25, 'before the kill');
    await etcd.kill9();
    await new Promise((r) => setTimeout(r, 300));
    const beforeRestart = acked.size;
    await etcd.restart();
    await acks(beforeRestart + 25, 'after the restart');
    stop = true;
    await Promise.all(writers);
    for (const [key, rev] of acked) {
      const got = await store.get(key);
      assert.ok(got, `acknowledged ${key} is missing after the restart`);
      assert.equal(got.modRevision, rev);
    }
    // The watch saw every write exactly once, in order, across the restart.
    const total = await store.count('/registry/crash/');
    const deadline = Date.now() + 10_000;
    while (seen.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(seen.length, total);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.revision > seen[i - 1]!.revision, 'watch went back or repeated');
    ac.abort();
    await watching;
    process.stdout.write(`# ${acked.size} acknowledged, ${failed} refused while etcd was down\n`);
  } finally {
    ac.abort();
    await store.close();
    await etcd.stop();
  }
});
