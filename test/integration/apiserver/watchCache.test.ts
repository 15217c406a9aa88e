// The API server's watch cache over the real SQLite store: a watcher that stops reading is closed
// once its queue is full (its stream just ends, as upstream's cacher does), readers beside it lose
// nothing, and the closed watcher's client resumes from the last resourceVersion it saw.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WatchCache, type WatchItem } from '../../../src/apiserver/watchCache.js';
import { SqliteKV } from '../../../src/storage/sqlite/sqliteKV.js';
import { KVStore } from '../../../src/storage/store.js';
import { tempDir } from '../../support/tmp.js';

const PREFIX = '/registry/configmaps/';

function configMap(ns: string, name: string): Buffer {
  return Buffer.from(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data: { k: name } }));
}

/** The names of the object events in `items`, in order (ERROR and BOOKMARK as their type). */
function names(items: readonly WatchItem[]): string[] {
  return items.map((i) => (i.type === 'ERROR' || i.type === 'BOOKMARK' ? i.type : String(i.object.metadata.name)));
}

async function drain(it: AsyncIterator<WatchItem>, until: (seen: WatchItem[]) => boolean): Promise<{ items: WatchItem[]; ended: boolean }> {
  const items: WatchItem[] = [];
  while (!until(items)) {
    const r = await it.next();
    if (r.done) return { items, ended: true };
    items.push(r.value);
  }
  return { items, ended: false };
}

describe('watch cache: slow watchers', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: KVStore;
  let n = 0;
  const write = async (ns: string, count: number): Promise<string[]> => {
    const made: string[] = [];
    for (let i = 0; i < count; i++) {
      const name = `cm-${n++}`;
      await store.create(`${PREFIX}${ns}/${name}`, configMap(ns, name));
      made.push(name);
    }
    return made;
  };

  before(async () => {
    dir = tempDir('k8ts-sim-watchcache-');
    store = new KVStore(await SqliteKV.open({ path: join(dir.path, 'state.db'), durable: false }));
  });
  after(async () => {
    await store.close();
    dir.remove();
  });

  const cases: Array<{ name: string; queue: number; burst: number }> = [
    { name: 'a watcher that stops reading while more events than its queue holds arrive is closed without an ERROR event', queue: 5, burst: 12 },
    { name: 'a watcher whose queue is exactly full is kept, and reads every event once it reads again', queue: 5, burst: 5 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const cache = new WatchCache(store, PREFIX, undefined, undefined, { watcherQueueEvents: c.queue });
      const ac = new AbortController();
      try {
        await cache.ready;
        const slow = cache.watch('now', { initial: false, signal: ac.signal })[Symbol.asyncIterator]();
        const fast = cache.watch('now', { initial: false, signal: ac.signal })[Symbol.asyncIterator]();
        // Both register on their first read; the first event reaches both.
        const slowFirst = slow.next();
        const fastFirst = fast.next();
        const [first] = await write('ns', 1);
        assert.deepEqual(names([(await slowFirst).value as WatchItem, (await fastFirst).value as WatchItem]), [first, first]);
        const lastSeen = ((await slowFirst).value as { revision: number }).revision;

        // The slow one reads nothing while the burst arrives; the fast one keeps reading.
        const fastReads = drain(fast, (seen) => seen.length === c.burst);
        const burst = await write('ns', c.burst);
        assert.deepEqual(names((await fastReads).items), burst, 'the reading watcher missed events');

        const overflow = c.burst > c.queue;
        const rest = await drain(slow, (seen) => seen.length === c.burst);
        if (overflow) {
          assert.equal(rest.ended, true, 'the slow watcher should have been closed');
          assert.deepEqual(names(rest.items), [], 'a closed watcher delivers no ERROR and none of its dropped queue');
          assert.equal(cache.terminatedWatchers, 1);
          assert.equal(cache.watcherCount, 1, 'the closed watcher should be forgotten');
          // Its client watches again from the last resourceVersion it received and misses nothing.
          const again = cache.watch(lastSeen, { initial: false, signal: ac.signal })[Symbol.asyncIterator]();
          assert.deepEqual(names((await drain(again, (seen) => seen.length === c.burst)).items), burst);
        } else {
          assert.equal(rest.ended, false);
          assert.deepEqual(names(rest.items), burst);
          assert.equal(cache.terminatedWatchers, 0);
        }
      } finally {
        ac.abort();
        cache.stop();
      }
    });
  }
});
