// EtcdKV against a real etcd 3.4 (skipped with a message when /usr/bin/etcd is missing).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isStorageError, type StorageErrorCode } from '../../src/storage/errors.js';
import { prefixRangeEnd, type KV, type WatchResponse } from '../../src/storage/kv.js';
import { EtcdKV } from '../../src/storage/etcd/etcdKV.js';
import { freePort, skipWithoutEtcd, startEtcd, type TestEtcd } from '../support/etcd.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const skip = skipWithoutEtcd();

async function rejectsWith(p: Promise<unknown>, code: StorageErrorCode): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isStorageError(err), `expected a StorageError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return true;
  });
}

/** Reads a watch until `until` says stop (or the timeout aborts it); returns every response seen. */
async function readWatch(
  kv: KV,
  req: Parameters<KV['watch']>[0],
  until: (got: WatchResponse[]) => boolean,
  opts: { timeoutMs?: number; onReady?: () => Promise<void> } = {},
): Promise<WatchResponse[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), opts.timeoutMs ?? 15_000);
  const got: WatchResponse[] = [];
  try {
    const it = kv.watch(req, ac.signal)[Symbol.asyncIterator]();
    const first = it.next();
    await opts.onReady?.();
    for (let r = await first; !r.done; r = await it.next()) {
      got.push(r.value);
      if (until(got)) break;
    }
    await it.return?.();
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return got;
}

const events = (rs: WatchResponse[]) => rs.flatMap((r) => r.events);

describe('EtcdKV against a real etcd', { skip }, () => {
  let etcd: TestEtcd;
  let kv: EtcdKV;

  before(async () => {
    etcd = await startEtcd();
    kv = await EtcdKV.connect({ endpoints: [etcd.endpoint], requestTimeoutMs: 3_000 });
  });
  after(async () => {
    await kv?.close();
    await etcd?.stop();
  });

  it('puts and gets a key, with prev_kv on overwrite', async () => {
    await kv.put({ key: b('/kv/b'), value: b('later key') });
    const first = await kv.put({ key: b('/kv/a'), value: b('1') });
    const second = await kv.put({ key: b('/kv/a'), value: b('2'), prevKv: true });
    assert.equal(second.header.revision, first.header.revision + 1);
    assert.equal(second.prevKv?.value.toString(), '1');
    const got = await kv.range({ key: b('/kv/a') });
    assert.equal(got.kvs.length, 1, 'a single-key range returns that key only');
    assert.equal(got.kvs[0]!.value.toString(), '2');
    assert.equal(got.kvs[0]!.version, 2);
    assert.equal(got.kvs[0]!.createRevision, first.header.revision);
    assert.equal(got.kvs[0]!.modRevision, second.header.revision);
  });

  it('ranges a prefix with a limit, and at an older revision', async () => {
    const r1 = await kv.put({ key: b('/range/1'), value: b('a') });
    await kv.put({ key: b('/range/2'), value: b('b') });
    await kv.put({ key: b('/range/3'), value: b('c') });
    const all = { key: b('/range/'), rangeEnd: prefixRangeEnd(b('/range/')) };
    const limited = await kv.range({ ...all, limit: 2 });
    assert.deepEqual(limited.kvs.map((v) => v.key.toString()), ['/range/1', '/range/2']);
    assert.equal(limited.more, true);
    assert.equal(limited.count, 3);
    const old = await kv.range({ ...all, revision: r1.header.revision });
    assert.deepEqual(old.kvs.map((v) => v.key.toString()), ['/range/1']);
    const keysOnly = await kv.range({ ...all, keysOnly: true, sortOrder: 'descend' });
    assert.deepEqual(keysOnly.kvs.map((v) => [v.key.toString(), v.value.length]), [
      ['/range/3', 0],
      ['/range/2', 0],
      ['/range/1', 0],
    ]);
    const counted = await kv.range({ ...all, countOnly: true });
    assert.equal(counted.count, 3);
    assert.equal(counted.kvs.length, 0);
  });

  it('runs a compare-and-swap txn that succeeds once and then fails', async () => {
    const put = await kv.put({ key: b('/cas/x'), value: b('v1') });
    const cas = (mod: number) =>
      kv.txn({
        compare: [{ key: b('/cas/x'), target: 'mod', result: 'equal', operand: mod }],
        success: [{ put: { key: b('/cas/x'), value: b('v2') } }],
        failure: [{ range: { key: b('/cas/x') } }],
      });
    const ok = await cas(put.header.revision);
    assert.equal(ok.succeeded, true);
    assert.ok('put' in ok.responses[0]!);
    const lost = await cas(put.header.revision);
    assert.equal(lost.succeeded, false);
    const r = lost.responses[0]!;
    assert.ok('range' in r);
    assert.equal(r.range.kvs[0]!.value.toString(), 'v2');
    const created = await kv.txn({
      compare: [{ key: b('/cas/new'), target: 'version', result: 'equal', operand: 0 }],
      success: [{ put: { key: b('/cas/new'), value: b('made') } }],
      failure: [],
    });
    assert.equal(created.succeeded, true);
  });

  it('deletes a range and reports the previous values', async () => {
    await kv.put({ key: b('/del/1'), value: b('a') });
    await kv.put({ key: b('/del/2'), value: b('b') });
    const res = await kv.deleteRange({ key: b('/del/'), rangeEnd: prefixRangeEnd(b('/del/')), prevKv: true });
    assert.equal(res.deleted, 2);
    assert.deepEqual(res.prevKvs.map((v) => v.value.toString()), ['a', 'b']);
  });

  it('refuses a future revision and a value over 1.5 MiB', async () => {
    const { header } = await kv.range({ key: b('/none') });
    await rejectsWith(kv.range({ key: b('/none'), revision: header.revision + 1000 }), 'FutureRevision');
    await rejectsWith(kv.put({ key: b('/big'), value: Buffer.alloc(1024 * 1024 * 1.6) }), 'ValueTooLarge');
    await rejectsWith(kv.put({ key: b('/big'), value: Buffer.alloc(3 * 1024 * 1024) }), 'ValueTooLarge');
    await rejectsWith(kv.put({ key: b('/nokey'), value: b(''), ignoreValue: true }), 'KeyNotFound');
  });

  it('watches puts and deletes with prev_kv', async () => {
    const got = await readWatch(
      kv,
      { key: b('/watch/'), rangeEnd: prefixRangeEnd(b('/watch/')), prevKv: true },
      (rs) => events(rs).length >= 3,
      {
        onReady: async () => {
          await new Promise((r) => setTimeout(r, 200));
          await kv.put({ key: b('/watch/a'), value: b('1') });
          await kv.put({ key: b('/watch/a'), value: b('2') });
          await kv.deleteRange({ key: b('/watch/a') });
        },
      },
    );
    const evs = events(got);
    assert.deepEqual(evs.map((e) => e.type), ['put', 'put', 'delete']);
    assert.equal(evs[0]!.prevKv, undefined);
    assert.equal(evs[1]!.prevKv?.value.toString(), '1');
    assert.equal(evs[2]!.prevKv?.value.toString(), '2');
    assert.equal(evs[2]!.kv.value.length, 0);
  });

  it('replays history from a start revision', async () => {
    const first = await kv.put({ key: b('/replay/a'), value: b('1') });
    await kv.put({ key: b('/replay/b'), value: b('2') });
    const got = await readWatch(
      kv,
      { key: b('/replay/'), rangeEnd: prefixRangeEnd(b('/replay/')), startRevision: first.header.revision },
      (rs) => events(rs).length >= 2,
    );
    assert.deepEqual(events(got).map((e) => e.kv.key.toString()), ['/replay/a', '/replay/b']);
  });

  it('delivers progress notifications with the current revision', async () => {
    const { header } = await kv.put({ key: b('/progress/x'), value: b('1') });
    const got = await readWatch(kv, { key: b('/progress/'), rangeEnd: prefixRangeEnd(b('/progress/')), progressNotifyMs: 200 }, (rs) =>
      rs.some((r) => r.events.length === 0),
    );
    const progress = got.find((r) => r.events.length === 0);
    assert.ok(progress, 'no progress notification');
    assert.ok(progress.header.revision >= header.revision);
  });

  it('reports TooOldRevision with the compacted revision after a compaction', async () => {
    const old = await kv.put({ key: b('/compact/k'), value: b('1') });
    const latest = await kv.put({ key: b('/compact/k'), value: b('2') });
    await kv.compact(latest.header.revision);
    await assert.rejects(kv.range({ key: b('/compact/k'), revision: old.header.revision }), (err: unknown) => {
      assert.ok(isStorageError(err, 'TooOldRevision'));
      assert.equal(err.compactRevision, latest.header.revision);
      return true;
    });
    await rejectsWith(kv.compact(old.header.revision), 'TooOldRevision');
    assert.equal((await kv.status()).compactRevision, latest.header.revision);
    const got = await readWatch(kv, { key: b('/compact/k'), startRevision: old.header.revision }, () => false);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.compactRevision, latest.header.revision);
  });

  it('grants, renews, inspects and revokes a lease; keys go with it', async () => {
    const lease = await kv.leaseGrant(30);
    assert.ok(Number.isSafeInteger(lease.id) && lease.id > 0);
    assert.equal(lease.ttl, 30);
    await kv.put({ key: b('/lease/k'), value: b('v'), lease: lease.id });
    const renewed = await kv.leaseKeepAlive(lease.id);
    assert.equal(renewed.ttl, 30);
    const ttl = await kv.leaseTimeToLive(lease.id, true);
    assert.equal(ttl.grantedTtl, 30);
    assert.deepEqual(ttl.keys.map((k) => k.toString()), ['/lease/k']);
    assert.ok((await kv.leaseLeases()).leases.includes(lease.id));
    const got = await kv.range({ key: b('/lease/k') });
    assert.equal(got.kvs[0]!.lease, lease.id);
    await kv.leaseRevoke(lease.id);
    assert.equal((await kv.range({ key: b('/lease/k') })).kvs.length, 0);
    await rejectsWith(kv.leaseKeepAlive(lease.id), 'LeaseNotFound');
    await rejectsWith(kv.leaseRevoke(lease.id), 'LeaseNotFound');
    assert.equal((await kv.leaseTimeToLive(lease.id)).ttl, -1);
    await rejectsWith(kv.put({ key: b('/lease/k'), value: b('v'), lease: lease.id }), 'LeaseNotFound');
  });

  it('uses whichever endpoint answers when one of several is dead', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const both = await EtcdKV.connect({ endpoints: [dead, etcd.endpoint], dialTimeoutMs: 3_000 });
    try {
      await both.put({ key: b('/multi/k'), value: b('v') });
      assert.equal((await both.range({ key: b('/multi/k') })).kvs[0]?.value.toString(), 'v');
    } finally {
      await both.close();
    }
  });

  it('reports the etcd version and database size', async () => {
    const s = await kv.status();
    assert.equal(s.version, '3.4.23');
    assert.ok(s.dbSize > 0);
    assert.ok(s.header.revision > 1);
  });

  it('ends a watch quietly when its signal aborts', async () => {
    const ac = new AbortController();
    const seen: WatchResponse[] = [];
    const done = (async () => {
      for await (const r of kv.watch({ key: b('/abort/x') }, ac.signal)) seen.push(r);
    })();
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    await done;
    assert.equal(seen.length, 0);
  });
});

describe('EtcdKV when etcd dies and comes back', { skip }, () => {
  let etcd: TestEtcd;
  let kv: EtcdKV;

  before(async () => {
    etcd = await startEtcd();
    kv = await EtcdKV.connect({ endpoints: [etcd.endpoint], requestTimeoutMs: 1_500 });
  });
  after(async () => {
    await kv?.close();
    await etcd?.stop();
  });

  it('resumes a watch after kill -9 and restart with no gap and no duplicate', async () => {
    const prefix = b('/resume/');
    const req = { key: prefix, rangeEnd: prefixRangeEnd(prefix), prevKv: true };
    const writes: number[] = [];
    const got = await readWatch(kv, req, (rs) => events(rs).length >= 20, {
      timeoutMs: 60_000,
      onReady: async () => {
        await new Promise((r) => setTimeout(r, 200));
        for (let i = 0; i < 10; i++) writes.push((await kv.put({ key: b(`/resume/${i}`), value: b(`v${i}`) })).header.revision);
        // Let the watch see some of them, then kill etcd under it.
        await new Promise((r) => setTimeout(r, 100));
        await etcd.kill9();
        await rejectsWith(kv.put({ key: b('/resume/x'), value: b('lost') }), 'Unavailable');
        await etcd.restart();
        for (let i = 10; i < 20; i++) {
          writes.push((await kv.put({ key: b(`/resume/${i}`), value: b(`v${i}`) })).header.revision);
        }
      },
    });
    const evs = events(got);
    assert.deepEqual(
      evs.map((e) => e.kv.modRevision),
      writes,
      'every write exactly once, in order',
    );
    assert.deepEqual(
      evs.map((e) => e.kv.key.toString()),
      Array.from({ length: 20 }, (_, i) => `/resume/${i}`),
    );
  });

  it('throws Unavailable within the deadline while etcd is down, and recovers after', async () => {
    await etcd.kill9();
    const started = Date.now();
    await rejectsWith(kv.range({ key: b('/x') }), 'Unavailable');
    const took = Date.now() - started;
    assert.ok(took < 3_000, `took ${took} ms`);
    await rejectsWith(kv.leaseKeepAlive(1), 'Unavailable');
    await etcd.restart();
    const r = await kv.range({ key: b('/resume/0') });
    assert.equal(r.kvs[0]?.value.toString(), 'v0');
  });

  it('cannot connect to an endpoint where nothing listens', async () => {
    const port = await freePort();
    const started = Date.now();
    await rejectsWith(EtcdKV.connect({ endpoints: [`http://127.0.0.1:${port}`], dialTimeoutMs: 500 }), 'Unavailable');
    assert.ok(Date.now() - started < 3_000);
  });

  it('ends watches with Closed when the client is closed', async () => {
    const other = await EtcdKV.connect({ endpoints: [etcd.endpoint] });
    const ac = new AbortController();
    const done = (async () => {
      for await (const _ of other.watch({ key: b('/closed') }, ac.signal)) {
        // nothing is written
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    await other.close();
    await rejectsWith(done, 'Closed');
    await rejectsWith(other.range({ key: b('/x') }), 'Closed');
    ac.abort();
  });
});

describe('EtcdKV over TLS with client certificates', { skip }, () => {
  let etcd: TestEtcd;

  before(async () => {
    etcd = await startEtcd({ tls: true });
  });
  after(async () => {
    await etcd?.stop();
  });

  it('connects with the CA and a client certificate', async () => {
    assert.ok(etcd.endpoint.startsWith('https://'));
    const tls = etcd.tls!;
    const kv = await EtcdKV.connect({ endpoints: [etcd.endpoint], ...tls });
    try {
      await kv.put({ key: b('/tls/a'), value: b('secure') });
      assert.equal((await kv.range({ key: b('/tls/a') })).kvs[0]!.value.toString(), 'secure');
    } finally {
      await kv.close();
    }
  });

  it('is refused without a client certificate', async () => {
    await rejectsWith(
      EtcdKV.connect({ endpoints: [etcd.endpoint], caFile: etcd.tls!.caFile, dialTimeoutMs: 1_000 }),
      'Unavailable',
    );
  });
});
