// The storage conformance suite: every Store backend must pass it unchanged.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isStorageError, MAX_VALUE_BYTES } from '../../src/storage/errors.js';
import type { KV } from '../../src/storage/kv.js';
import { KVStore, type Store, type StoreEvent, type StoredObject } from '../../src/storage/store.js';

export interface StoreUnderTest {
  store: Store;
  /** Compacts to `revision` and waits until history below it is really gone. */
  compact(revision: number): Promise<void>;
  cleanup(): Promise<void>;
}

/** A KVStore over `kv` as the suite wants it (no automatic compaction, no lease sharing). */
export function storeUnderTest(kv: KV, cleanup: () => Promise<void> | void): StoreUnderTest {
  const store = new KVStore(kv, { compaction: false, leaseReuseMs: 0 });
  return {
    store,
    compact: (rev) => store.compact(rev),
    cleanup: async () => {
      await store.close();
      await cleanup();
    },
  };
}

const text = (s: string): Buffer => Buffer.from(s, 'utf8');
const str = (o: StoredObject | undefined): string | undefined => o?.value.toString('utf8');

/** Collects `n` events (or fewer if `timeoutMs` passes) from a watch. */
export async function collect(
  store: Store,
  prefix: string,
  from: number,
  n: number,
  timeoutMs = 10_000,
  filter: (e: StoreEvent) => boolean = (e) => e.type !== 'progress',
): Promise<StoreEvent[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const got: StoreEvent[] = [];
  try {
    for await (const e of store.watch(prefix, from, ac.signal)) {
      if (!filter(e)) continue;
      got.push(e);
      if (got.length >= n) break;
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return got;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isStorageError(err), `expected a StorageError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

export function storeConformance(backend: string, open: () => Promise<StoreUnderTest>): void {
  describe(`Store conformance: ${backend}`, () => {
    let t: StoreUnderTest;
    let s: Store;
    before(async () => {
      t = await open();
      s = t.store;
    });
    after(async () => {
      await t?.cleanup();
    });

    it('creates a key once and reports the existing object to a second create', async () => {
      const a = await s.create('/registry/configmaps/c1/a', text('one'));
      assert.ok(a.ok);
      assert.equal(a.object.modRevision, a.object.createRevision);
      const again = await s.create('/registry/configmaps/c1/a', text('two'));
      assert.ok(!again.ok);
      assert.equal(again.reason, 'AlreadyExists');
      assert.equal(str(again.current), 'one');
      assert.equal(again.current.modRevision, a.object.modRevision);
      const got = await s.get('/registry/configmaps/c1/a');
      assert.deepEqual(got, a.object);
      assert.equal(await s.get('/registry/configmaps/c1/missing'), undefined);
      // A missing key that sorts before existing ones must not be answered with its neighbour.
      assert.equal(await s.get('/registry/configmaps/c1/0'), undefined);
      assert.equal(await s.get('/registry/configmaps/c0'), undefined);
    });

    it('updates only at the expected revision and hands back the current object on conflict', async () => {
      const a = await s.create('/registry/configmaps/c2/a', text('v1'));
      assert.ok(a.ok);
      const u = await s.update('/registry/configmaps/c2/a', text('v2'), a.object.modRevision);
      assert.ok(u.ok);
      assert.ok(u.object.modRevision > a.object.modRevision);
      assert.equal(u.object.createRevision, a.object.createRevision);
      const stale = await s.update('/registry/configmaps/c2/a', text('v3'), a.object.modRevision);
      assert.ok(!stale.ok && stale.reason === 'Conflict');
      assert.equal(str(stale.current), 'v2');
      assert.equal(stale.current.modRevision, u.object.modRevision);
      const missing = await s.update('/registry/configmaps/c2/none', text('x'), 5);
      assert.deepEqual(missing, { ok: false, reason: 'NotFound' });
    });

    it('deletes with and without a precondition and says when the key is gone', async () => {
      const a = await s.create('/registry/configmaps/c3/a', text('v1'));
      assert.ok(a.ok);
      const u = await s.update('/registry/configmaps/c3/a', text('v2'), a.object.modRevision);
      assert.ok(u.ok);
      const stale = await s.delete('/registry/configmaps/c3/a', a.object.modRevision);
      assert.ok(!stale.ok && stale.reason === 'Conflict');
      assert.equal(str(stale.current), 'v2');
      const d = await s.delete('/registry/configmaps/c3/a', u.object.modRevision);
      assert.ok(d.ok);
      assert.equal(str(d.deleted), 'v2');
      assert.ok(d.revision > u.object.modRevision);
      assert.deepEqual(await s.delete('/registry/configmaps/c3/a'), { ok: false, reason: 'NotFound' });
      const b = await s.create('/registry/configmaps/c3/b', text('b'));
      assert.ok(b.ok);
      const plain = await s.delete('/registry/configmaps/c3/b');
      assert.ok(plain.ok);
      assert.equal(await s.get('/registry/configmaps/c3/b'), undefined);
    });

    it('gives every write a new, strictly greater, global revision', async () => {
      const revs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const c = await s.create(`/registry/secrets/r/k${i}`, text(String(i)));
        assert.ok(c.ok);
        revs.push(c.object.modRevision);
        const u = await s.update(`/registry/secrets/r/k${i}`, text(`${i}'`), c.object.modRevision);
        assert.ok(u.ok);
        revs.push(u.object.modRevision);
      }
      const d = await s.delete('/registry/secrets/r/k0');
      assert.ok(d.ok);
      revs.push(d.revision);
      for (let i = 1; i < revs.length; i++) assert.ok(revs[i]! > revs[i - 1]!, `revision ${revs[i]} after ${revs[i - 1]}`);
      assert.ok((await s.currentRevision()) >= revs[revs.length - 1]!);
    });

    it('reads a key as it was at a past revision', async () => {
      const a = await s.create('/registry/configmaps/c4/a', text('old'));
      assert.ok(a.ok);
      const u = await s.update('/registry/configmaps/c4/a', text('new'), a.object.modRevision);
      assert.ok(u.ok);
      assert.equal(str(await s.get('/registry/configmaps/c4/a', { revision: a.object.modRevision })), 'old');
      assert.equal(str(await s.get('/registry/configmaps/c4/a')), 'new');
      const future = (await s.currentRevision()) + 1000;
      await rejectsWith(s.get('/registry/configmaps/c4/a', { revision: future }), 'FutureRevision');
    });

    it('keeps a prefix from matching its siblings', async () => {
      for (const k of ['/registry/pods/ns/p1', '/registry/pods/ns/p2', '/registry/podsecuritypolicies/psp1', '/registry/podtemplates/ns/t1']) {
        assert.ok((await s.create(k, text(k))).ok);
      }
      const pods = await s.list('/registry/pods/');
      assert.deepEqual(pods.items.map((i) => i.key), ['/registry/pods/ns/p1', '/registry/pods/ns/p2']);
      const noSlash = await s.list('/registry/pods');
      assert.deepEqual(noSlash.items.map((i) => i.key), ['/registry/pods/ns/p1', '/registry/pods/ns/p2']);
      assert.equal(await s.count('/registry/pods'), 2);
      assert.equal(await s.count('/registry/podsecuritypolicies/'), 1);
      const ev = await collect(s, '/registry/pods', pods.revision - 10, 2, 3000);
      assert.ok(ev.every((e) => e.type !== 'progress' && (e.type === 'deleted' ? e.prev.key : e.object.key).startsWith('/registry/pods/')));
    });

    it('pages a list at one revision while writes go on', async () => {
      const prefix = '/registry/deployments/pg/';
      const want: string[] = [];
      for (let i = 0; i < 25; i++) {
        const k = `${prefix}d${String(i).padStart(2, '0')}`;
        want.push(k);
        assert.ok((await s.create(k, text(`v${i}`))).ok);
      }
      const first = await s.list(prefix, { limit: 10 });
      assert.equal(first.items.length, 10);
      assert.ok(first.continue);
      assert.equal(first.remainingItemCount, 15);
      // Writes after the first page must not show in later pages.
      assert.ok((await s.create(`${prefix}d00a`, text('late'))).ok);
      assert.ok((await s.delete(`${prefix}d20`)).ok);
      const d15 = await s.get(`${prefix}d15`);
      assert.ok((await s.update(`${prefix}d15`, text('changed'), d15!.modRevision)).ok);
      const seen = [...first.items];
      let token: string | undefined = first.continue;
      while (token) {
        const page = await s.list(prefix, { limit: 10, continueFrom: token });
        assert.equal(page.revision, first.revision);
        seen.push(...page.items);
        token = page.continue;
      }
      assert.deepEqual(seen.map((i) => i.key), want);
      assert.equal(str(seen.find((i) => i.key === `${prefix}d15`)), 'v15');
      const now = await s.list(prefix);
      assert.equal(now.items.length, 25);
      assert.ok(now.revision > first.revision);
      assert.equal(now.continue, undefined);
      const atOld = await s.list(prefix, { revision: first.revision });
      assert.deepEqual(atOld.items.map((i) => i.key), want);
    });

    it('refuses continue tokens it did not issue', async () => {
      await rejectsWith(s.list('/registry/pods/', { continueFrom: 'not-a-token' }), 'InvalidContinue');
      const forged = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: 1, start: '../secrets/x' })).toString('base64url');
      await rejectsWith(s.list('/registry/pods/', { continueFrom: forged }), 'InvalidContinue');
    });

    it('refuses malformed keys with a typed error', async () => {
      for (const bad of ['', 'registry/pods/x', '/registry//x', '/registry/../x', '/registry/pods/\u0000', `/${'x'.repeat(5000)}`]) {
        await rejectsWith(s.create(bad, text('x')), 'InvalidKey');
      }
      await rejectsWith(s.get('/a/./b'), 'InvalidKey');
    });

    it('takes values up to 1.5 MiB and refuses larger ones', async () => {
      const big = Buffer.alloc(MAX_VALUE_BYTES, 0x61);
      const c = await s.create('/registry/configmaps/big/ok', big);
      assert.ok(c.ok);
      assert.equal((await s.get('/registry/configmaps/big/ok'))?.value.length, MAX_VALUE_BYTES);
      await rejectsWith(s.create('/registry/configmaps/big/no', Buffer.alloc(MAX_VALUE_BYTES + 1)), 'ValueTooLarge');
      await rejectsWith(s.update('/registry/configmaps/big/ok', Buffer.alloc(MAX_VALUE_BYTES + 1), c.object.modRevision), 'ValueTooLarge');
      assert.equal(await s.get('/registry/configmaps/big/no'), undefined);
    });

    it('watches from a past revision: every change after it, in order, with previous values', async () => {
      const p = '/registry/services/w1/';
      const start = await s.currentRevision();
      const a = await s.create(`${p}a`, text('a1'));
      assert.ok(a.ok);
      const u = await s.update(`${p}a`, text('a2'), a.object.modRevision);
      assert.ok(u.ok);
      const b = await s.create(`${p}b`, text('b1'));
      assert.ok(b.ok);
      const d = await s.delete(`${p}a`);
      assert.ok(d.ok);
      const ev = await collect(s, p, start, 4);
      assert.deepEqual(
        ev.map((e) => e.type),
        ['created', 'updated', 'created', 'deleted'],
      );
      const [e0, e1, , e3] = ev;
      assert.ok(e0?.type === 'created' && str(e0.object) === 'a1' && e0.revision === a.object.modRevision);
      assert.ok(e1?.type === 'updated' && str(e1.object) === 'a2' && str(e1.prev) === 'a1' && e1.revision === u.object.modRevision);
      assert.ok(e3?.type === 'deleted' && str(e3.prev) === 'a2' && e3.revision === d.revision);
      // From the middle: only what came after.
      const tail = await collect(s, p, u.object.modRevision, 2);
      assert.deepEqual(tail.map((e) => e.revision), [b.object.modRevision, d.revision]);
    });

    it('hands a watch from history over to live events with no gap and no duplicate', async () => {
      const p = '/registry/leases/w2/';
      const start = await s.currentRevision();
      const writes = 200;
      // Half the writes happen before the watch starts (history), half while it runs (live).
      const writer = async (from: number, to: number) => {
        for (let i = from; i < to; i++) assert.ok((await s.create(`${p}k${i}`, text(String(i)))).ok);
      };
      await writer(0, writes / 2);
      const watching = collect(s, p, start, writes, 20_000);
      await writer(writes / 2, writes);
      const ev = await watching;
      assert.equal(ev.length, writes);
      const keys = ev.map((e) => (e.type === 'created' ? e.object.key : ''));
      assert.deepEqual(keys, Array.from({ length: writes }, (_, i) => `${p}k${i}`));
      for (let i = 1; i < ev.length; i++) assert.ok(ev[i]!.revision > ev[i - 1]!.revision);
    });

    it('lets 64 concurrent writers contend without losing an update', async () => {
      const key = '/registry/configmaps/race/counter';
      assert.ok((await s.create(key, text('0'))).ok);
      const writers = 64;
      const each = 4;
      let conflicts = 0;
      const bump = async () => {
        for (;;) {
          const cur = await s.get(key);
          const r = await s.update(key, text(String(Number(str(cur)) + 1)), cur!.modRevision);
          if (r.ok) return;
          assert.equal(r.reason, 'Conflict');
          conflicts++;
        }
      };
      const own = async (w: number) => {
        for (let i = 0; i < each; i++) {
          assert.ok((await s.create(`/registry/configmaps/race/w${w}-${i}`, text('x'))).ok);
          await bump();
        }
      };
      await Promise.all(Array.from({ length: writers }, (_, w) => own(w)));
      assert.equal(str(await s.get(key)), String(writers * each));
      assert.equal(await s.count('/registry/configmaps/race/'), writers * each + 1);
      assert.ok(conflicts > 0, 'the writers should have collided at least once');
    });

    it('fails reads and watches below the compacted revision with TooOldRevision, and serves after it', async () => {
      const p = '/registry/events/cmp/';
      const a = await s.create(`${p}a`, text('a1'));
      assert.ok(a.ok);
      const u1 = await s.update(`${p}a`, text('a2'), a.object.modRevision);
      assert.ok(u1.ok);
      const page = await s.list(p, { limit: 1 });
      const b = await s.create(`${p}b`, text('b1'));
      assert.ok(b.ok);
      const u2 = await s.update(`${p}a`, text('a3'), u1.object.modRevision);
      assert.ok(u2.ok);
      // A watch started before the compaction from a revision after it keeps going.
      const live = collect(s, p, b.object.modRevision, 2, 10_000);
      await t.compact(b.object.modRevision);
      const c = await s.create(`${p}c`, text('c1'));
      assert.ok(c.ok);
      const liveEvents = await live;
      assert.deepEqual(liveEvents.map((e) => e.revision), [u2.object.modRevision, c.object.modRevision]);

      await rejectsWith(s.get(`${p}a`, { revision: a.object.modRevision }), 'TooOldRevision');
      await rejectsWith(s.list(p, { revision: u1.object.modRevision }), 'TooOldRevision');
      if (page.continue) await rejectsWith(s.list(p, { limit: 1, continueFrom: page.continue }), 'TooOldRevision');
      await assert.rejects(collect(s, p, a.object.modRevision, 1, 3000), (err: unknown) => isStorageError(err, 'TooOldRevision'));
      // At the compacted revision itself, the latest versions are still there.
      assert.equal(str(await s.get(`${p}a`, { revision: b.object.modRevision })), 'a2');
      const after = await collect(s, p, b.object.modRevision, 2);
      assert.ok(after[0]?.type === 'updated' && str(after[0].prev) === 'a2');
      // Compacting to an older revision again is not an error.
      await s.compact(a.object.modRevision);
    });

    it('sends progress notifications with the current revision to an idle watch', async () => {
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), 10_000);
      const rev = await s.currentRevision();
      let progress: StoreEvent | undefined;
      for await (const e of s.watch('/registry/nothing-here/', rev, ac.signal, { progressNotifyMs: 200 })) {
        if (e.type === 'progress') {
          progress = e;
          break;
        }
      }
      clearTimeout(timer);
      ac.abort();
      assert.ok(progress && progress.revision >= rev);
    });

    it('ends a watch quietly when its signal aborts', async () => {
      const ac = new AbortController();
      const rev = await s.currentRevision();
      const done = (async () => {
        let n = 0;
        for await (const _ of s.watch('/registry/quiet/', rev, ac.signal)) n++;
        return n;
      })();
      setTimeout(() => ac.abort(), 100);
      assert.equal(await done, 0);
    });

    it('deletes keys created with a TTL once it runs out', async () => {
      const c = await s.create('/registry/events/ttl/e1', text('event'), { ttlSeconds: 1 });
      assert.ok(c.ok);
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && (await s.get('/registry/events/ttl/e1'))) await new Promise((r) => setTimeout(r, 250));
      assert.equal(await s.get('/registry/events/ttl/e1'), undefined);
    });
  });
}
