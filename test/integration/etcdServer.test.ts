// Our etcd v3 server over SqliteKV, driven by the real etcdctl (ETCDCTL_API=3) and by EtcdKV.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { isStorageError } from '../../src/storage/errors.js';
import { prefixRangeEnd, type WatchResponse } from '../../src/storage/kv.js';
import { EtcdKV } from '../../src/storage/etcd/etcdKV.js';
import { etcdMethod, type pb } from '../../src/storage/etcd/proto/etcdApi.js';
import { fixAuthority, huffmanDecode, rewriteAuthority } from '../../src/storage/etcd/authorityFilter.js';
import { startEtcdServer, type EtcdServer } from '../../src/storage/etcd/server.js';
import * as grpc from '@grpc/grpc-js';
import { SqliteKV } from '../../src/storage/sqlite/sqliteKV.js';
import { makeCertificates } from '../support/etcd.js';
import { tempDir } from '../support/tmp.js';

const ETCDCTL = '/usr/bin/etcdctl';
const skip = existsSync(ETCDCTL) ? false : `etcdctl is not installed at ${ETCDCTL} (apt-get install etcd-client)`;
const b = (s: string): Buffer => Buffer.from(s, 'utf8');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs etcdctl against `endpoint`; never throws on a non-zero exit (tests look at `code`). */
function etcdctl(endpoint: string, args: string[], opts: { input?: string; extra?: string[] } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      ETCDCTL,
      [`--endpoints=${endpoint}`, '--dial-timeout=3s', '--command-timeout=5s', ...(opts.extra ?? []), ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** `etcdctl ... ` that must succeed; returns stdout. */
async function ok(endpoint: string, args: string[], opts: { input?: string; extra?: string[] } = {}): Promise<string> {
  const r = await etcdctl(endpoint, args, opts);
  assert.equal(r.code, 0, `etcdctl ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
  return r.stdout;
}

describe('etcd server over SqliteKV, driven by etcdctl', { skip }, () => {
  let dir: ReturnType<typeof tempDir>;
  let kv: SqliteKV;
  let server: EtcdServer;
  let url: string;

  before(async () => {
    dir = tempDir('k8ts-etcd-server-');
    kv = SqliteKV.open({ path: join(dir.path, 'state.db') });
    server = await startEtcdServer(kv, { listen: 'http://127.0.0.1:0', name: 'k8ts-test' });
    url = server.url;
  });
  after(async () => {
    await server?.close();
    await kv?.close();
    dir?.remove();
  });

  it('listens on the real port it was given', () => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(url, 'http://127.0.0.1:0');
  });

  it('is healthy and reports its status', async () => {
    const health = await etcdctl(url, ['endpoint', 'health']);
    assert.equal(health.code, 0, health.stderr);
    assert.match(health.stdout + health.stderr, /is healthy: successfully committed proposal/); // 3.4 prints it on stderr
    const status = JSON.parse(await ok(url, ['endpoint', 'status', '-w', 'json'])) as Array<{
      Endpoint: string;
      Status: { version: string; dbSize: number; leader: number; header: { member_id: number } };
    }>;
    assert.equal(status.length, 1);
    assert.match(status[0]!.Status.version, /^3\.4\.\d+/);
    assert.ok(status[0]!.Status.dbSize > 0);
    assert.equal(status[0]!.Status.leader, status[0]!.Status.header.member_id);
  });

  it('puts, gets, lists keys of a prefix, and deletes', async () => {
    assert.equal((await ok(url, ['put', '/registry/pods/a', 'alpha'])).trim(), 'OK');
    await ok(url, ['put', '/registry/pods/b', 'beta']);
    await ok(url, ['put', '/registry/podsx', 'not in the prefix']);
    assert.equal(await ok(url, ['get', '/registry/pods/a']), '/registry/pods/a\nalpha\n');
    assert.equal(await ok(url, ['get', '/registry/pods/', '--prefix', '--keys-only']), '/registry/pods/a\n\n/registry/pods/b\n\n');
    assert.match(await ok(url, ['get', '/registry/pods/', '--prefix', '-w', 'fields']), /"Count" : 2/);
    assert.equal((await ok(url, ['del', '/registry/pods/a'])).trim(), '1');
    assert.equal(await ok(url, ['get', '/registry/pods/a']), '');
    assert.equal((await ok(url, ['del', '/registry/', '--prefix'])).trim(), '2');
  });

  it('reports revisions in get -w json', async () => {
    await ok(url, ['put', '/json/k', 'v1']);
    await ok(url, ['put', '/json/k', 'v2']);
    const got = JSON.parse(await ok(url, ['get', '/json/k', '-w', 'json'])) as {
      header: { revision: number };
      kvs: Array<{ key: string; value: string; create_revision: number; mod_revision: number; version: number }>;
      count: number;
    };
    const kv0 = got.kvs[0]!;
    assert.equal(Buffer.from(kv0.key, 'base64').toString(), '/json/k');
    assert.equal(Buffer.from(kv0.value, 'base64').toString(), 'v2');
    assert.equal(kv0.version, 2);
    assert.equal(kv0.mod_revision, kv0.create_revision + 1);
    assert.equal(got.header.revision, kv0.mod_revision);
    assert.equal(got.count, 1);
  });

  it('streams a put and a delete to etcdctl watch', async () => {
    const child = spawn(ETCDCTL, [`--endpoints=${url}`, 'watch', '/watched/', '--prefix', '--prev-kv'], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    const seen = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`watch saw only:\n${out}`)), 15_000);
      child.stdout.on('data', (d: string) => {
        out += d;
        if (out.includes('DELETE')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    try {
      await new Promise((r) => setTimeout(r, 500)); // let the watch be created
      await ok(url, ['put', '/watched/x', 'hello']);
      await ok(url, ['del', '/watched/x']);
      await seen;
    } finally {
      child.kill('SIGTERM');
    }
    assert.match(out, /PUT\n\/watched\/x\nhello\n/);
    // With --prev-kv, etcdctl prints the previous pair before the deleted key.
    assert.match(out, /DELETE\n\/watched\/x\nhello\n\/watched\/x\n\n/);
  });

  it('grants a lease, attaches a key, and loses the key on expiry and on revoke', async () => {
    const granted = await ok(url, ['lease', 'grant', '2']);
    const id = /lease ([0-9a-f]+) granted with TTL\(2s\)/.exec(granted)?.[1];
    assert.ok(id, granted);
    await ok(url, ['put', '--lease', id, '/leased/k', 'v']);
    assert.match(await ok(url, ['lease', 'timetolive', id, '--keys']), /attached keys\(\[\/leased\/k\]\)/);
    assert.match(await ok(url, ['lease', 'list']), new RegExp(id));
    const deadline = Date.now() + 10_000;
    while ((await ok(url, ['get', '/leased/k'])) !== '' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(await ok(url, ['get', '/leased/k']), '', 'the key expired with its lease');

    const second = /lease ([0-9a-f]+) granted/.exec(await ok(url, ['lease', 'grant', '60']))?.[1];
    assert.ok(second);
    await ok(url, ['put', '--lease', second, '/leased/r', 'v']);
    assert.match(await ok(url, ['lease', 'keep-alive', '--once', second]), /keepalived with TTL\(60\)/);
    assert.match(await ok(url, ['lease', 'revoke', second]), /revoked/);
    assert.equal(await ok(url, ['get', '/leased/r']), '');
    const again = await etcdctl(url, ['lease', 'revoke', second]);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /etcdserver: requested lease not found/);
  });

  it('runs a txn read from stdin, both branches', async () => {
    await ok(url, ['put', '/txn/k', 'old']);
    const script = 'value("/txn/k") = "old"\n\nput /txn/k new\nput /txn/other x\n\nget /txn/k\n\n';
    const first = await ok(url, ['txn'], { input: script });
    assert.match(first, /^SUCCESS\n\nOK\n\nOK\n/);
    assert.equal(await ok(url, ['get', '/txn/k', '--print-value-only']), 'new\n');
    const second = await ok(url, ['txn'], { input: script });
    assert.match(second, /^FAILURE\n\n\/txn\/k\nnew\n/);
    const dup = await etcdctl(url, ['txn'], { input: '\nput /txn/d 1\nput /txn/d 2\n\n\n' });
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /etcdserver: duplicate key given in txn request/);
  });

  it('compacts, then refuses reads of compacted revisions and future ones', async () => {
    const r1 = JSON.parse(await ok(url, ['put', '/compact/k', 'one', '-w', 'json'])) as { header: { revision: number } };
    const r2 = JSON.parse(await ok(url, ['put', '/compact/k', 'two', '-w', 'json'])) as { header: { revision: number } };
    assert.equal(await ok(url, ['get', '/compact/k', `--rev=${r1.header.revision}`, '--print-value-only']), 'one\n');
    assert.match(await ok(url, ['compaction', String(r2.header.revision)]), new RegExp(`compacted revision ${r2.header.revision}`));
    const old = await etcdctl(url, ['get', '/compact/k', `--rev=${r1.header.revision}`]);
    assert.notEqual(old.code, 0);
    assert.match(old.stderr, /etcdserver: mvcc: required revision has been compacted/);
    const future = await etcdctl(url, ['get', '/compact/k', `--rev=${r2.header.revision + 1000}`]);
    assert.notEqual(future.code, 0);
    assert.match(future.stderr, /etcdserver: mvcc: required revision is a future revision/);
    assert.equal(await ok(url, ['get', '/compact/k', '--print-value-only']), 'two\n');
  });

  it('lists itself as the one member', async () => {
    const out = await ok(url, ['member', 'list']);
    assert.match(out, new RegExp(`^[0-9a-f]+, started, k8ts-test, , ${url.replace(/\./g, '\\.')}, false\\n$`));
  });

  it('answers alarm list, defrag, hashkv and refuses snapshot clearly', async () => {
    assert.equal(await ok(url, ['alarm', 'list']), '');
    assert.match(await ok(url, ['defrag']), /Finished defragmenting etcd member/);
    assert.match(await ok(url, ['endpoint', 'hashkv']), /, \d+\n$/);
    const snap = await etcdctl(url, ['snapshot', 'save', join(dir.path, 'snap.db')]);
    assert.notEqual(snap.code, 0);
    assert.match(snap.stderr, /snapshot is not supported/);
  });

  it('refuses empty keys with etcd’s error', async () => {
    const r = await etcdctl(url, ['put', '', 'x']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /etcdserver: key is not provided/);
  });
});

describe('EtcdKV against our etcd server over SqliteKV', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: SqliteKV;
  let server: EtcdServer;
  let kv: EtcdKV;

  before(async () => {
    dir = tempDir('k8ts-etcd-roundtrip-');
    store = SqliteKV.open({ path: join(dir.path, 'state.db') });
    server = await startEtcdServer(store, { listen: `unix://${join(dir.path, 'etcd.sock')}` });
    kv = await EtcdKV.connect({ endpoints: [server.url], requestTimeoutMs: 3_000 });
  });
  after(async () => {
    await kv?.close();
    await server?.close();
    await store?.close();
    dir?.remove();
  });

  it('round-trips puts, ranges, txns and deletes', async () => {
    const p = await kv.put({ key: b('/rt/a'), value: b('1') });
    await kv.put({ key: b('/rt/b'), value: b('2') });
    const r = await kv.range({ key: b('/rt/'), rangeEnd: prefixRangeEnd(b('/rt/')), limit: 1 });
    assert.deepEqual(r.kvs.map((v) => v.value.toString()), ['1']);
    assert.equal(r.more, true);
    assert.equal(r.count, 2);
    const t = await kv.txn({
      compare: [{ key: b('/rt/a'), target: 'mod', result: 'equal', operand: p.header.revision }],
      success: [{ put: { key: b('/rt/a'), value: b('3'), prevKv: true } }, { range: { key: b('/rt/b') } }],
      failure: [],
    });
    assert.equal(t.succeeded, true);
    const [put, range] = t.responses;
    assert.ok(put && 'put' in put && put.put.prevKv?.value.toString() === '1');
    assert.ok(range && 'range' in range && range.range.kvs[0]?.value.toString() === '2');
    const d = await kv.deleteRange({ key: b('/rt/'), rangeEnd: prefixRangeEnd(b('/rt/')), prevKv: true });
    assert.equal(d.deleted, 2);
  });

  it('watches with prev_kv and reports compaction to a late watcher', async () => {
    const ac = new AbortController();
    const got: WatchResponse[] = [];
    const first = await kv.put({ key: b('/rtw/k'), value: b('a') });
    await kv.put({ key: b('/rtw/k'), value: b('b') });
    for await (const res of kv.watch({ key: b('/rtw/k'), startRevision: first.header.revision, prevKv: true }, ac.signal)) {
      got.push(res);
      if (got.flatMap((x) => x.events).length >= 2) break;
    }
    ac.abort();
    const evs = got.flatMap((x) => x.events);
    assert.deepEqual(evs.map((e) => e.kv.value.toString()), ['a', 'b']);
    assert.equal(evs[1]!.prevKv?.value.toString(), 'a');

    const latest = await kv.put({ key: b('/rtw/k'), value: b('c') });
    await kv.compact(latest.header.revision);
    const late: WatchResponse[] = [];
    for await (const res of kv.watch({ key: b('/rtw/k'), startRevision: first.header.revision }, AbortSignal.timeout(5_000))) {
      late.push(res);
    }
    assert.equal(late.length, 1);
    assert.equal(late[0]!.compactRevision, latest.header.revision);
    await assert.rejects(kv.range({ key: b('/rtw/k'), revision: first.header.revision }), (err: unknown) => {
      assert.ok(isStorageError(err, 'TooOldRevision'));
      assert.equal(err.compactRevision, latest.header.revision);
      return true;
    });
  });

  it('gets progress notifications through the server', async () => {
    const { header } = await kv.put({ key: b('/rtp/k'), value: b('x') });
    let progress: WatchResponse | undefined;
    for await (const res of kv.watch({ key: b('/rtp/'), rangeEnd: prefixRangeEnd(b('/rtp/')), progressNotifyMs: 200 }, AbortSignal.timeout(5_000))) {
      if (res.events.length === 0) {
        progress = res;
        break;
      }
    }
    assert.ok(progress, 'no progress notification');
    assert.ok(progress.header.revision >= header.revision);
  });

  it('keeps leases alive over the keepalive stream and reports unknown ones', async () => {
    const lease = await kv.leaseGrant(30);
    await kv.put({ key: b('/rtl/k'), value: b('v'), lease: lease.id });
    assert.equal((await kv.leaseKeepAlive(lease.id)).ttl, 30);
    assert.deepEqual((await kv.leaseTimeToLive(lease.id, true)).keys.map((k) => k.toString()), ['/rtl/k']);
    await kv.leaseRevoke(lease.id);
    await assert.rejects(kv.leaseKeepAlive(lease.id), (err: unknown) => isStorageError(err, 'LeaseNotFound'));
    assert.equal((await kv.leaseTimeToLive(lease.id)).ttl, -1);
  });

  it('maps a too large value and a missing key for ignore_value', async () => {
    await assert.rejects(kv.put({ key: b('/rtx/big'), value: Buffer.alloc(1_600_000) }), (err: unknown) =>
      isStorageError(err, 'ValueTooLarge'),
    );
    await assert.rejects(kv.put({ key: b('/rtx/none'), value: b(''), ignoreValue: true }), (err: unknown) =>
      isStorageError(err, 'KeyNotFound'),
    );
  });

  it('reports the store status', async () => {
    const s = await kv.status();
    assert.match(s.version, /^3\.4\./);
    assert.ok(s.dbSize > 0);
    assert.ok(s.compactRevision > 0);
  });
});

describe('etcd server over TLS with client certificates', { skip }, () => {
  let dir: ReturnType<typeof tempDir>;
  let store: SqliteKV;
  let server: EtcdServer;
  let certs: Awaited<ReturnType<typeof makeCertificates>>;

  before(async () => {
    dir = tempDir('k8ts-etcd-tls-');
    certs = await makeCertificates(dir.path);
    store = SqliteKV.open({ path: join(dir.path, 'state.db') });
    server = await startEtcdServer(store, {
      listen: 'https://127.0.0.1:0',
      tls: { certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.caFile },
    });
  });
  after(async () => {
    await server?.close();
    await store?.close();
    dir?.remove();
  });

  it('serves etcdctl and EtcdKV that present a client certificate, and refuses one without', async () => {
    const tlsArgs = [`--cacert=${certs.caFile}`, `--cert=${certs.certFile}`, `--key=${certs.keyFile}`];
    await ok(server.url, ['put', '/tls/k', 'v'], { extra: tlsArgs });
    assert.equal(await ok(server.url, ['get', '/tls/k', '--print-value-only'], { extra: tlsArgs }), 'v\n');
    const kv = await EtcdKV.connect({ endpoints: [server.url], caFile: certs.caFile, certFile: certs.certFile, keyFile: certs.keyFile });
    try {
      assert.equal((await kv.range({ key: b('/tls/k') })).kvs[0]?.value.toString(), 'v');
    } finally {
      await kv.close();
    }
    const refused = await etcdctl(server.url, ['get', '/tls/k'], { extra: [`--cacert=${certs.caFile}`] });
    assert.notEqual(refused.code, 0);
  });
});

describe('the :authority filter for etcdctl 3.4 maintenance calls', () => {
  const huffman: Array<[string, string, string | undefined]> = [
    ['decodes RFC 7541 C.4.1', 'f1e3c2e5f23a6ba0ab90f4ff', 'www.example.com'],
    ['decodes RFC 7541 C.4.2', 'a8eb10649cbf', 'no-cache'],
    ['decodes RFC 7541 C.4.3 name', '25a849e95ba97d7f', 'custom-key'],
    ['decodes RFC 7541 C.4.3 value', '25a849e95bb8e8b4bf', 'custom-value'],
    ['gives up on padding that is not all ones', 'f1e3c2e5f23a6ba0ab90f4fe', undefined],
    ['gives up on a symbol longer than 15 bits', 'fffe', undefined],
  ];
  for (const [name, hex, want] of huffman) {
    it(`Huffman: ${name}`, () => assert.equal(huffmanDecode(Buffer.from(hex, 'hex')), want));
  }

  const authorities: Array<[string, string]> = [
    ['127.0.0.1:2379', '127.0.0.1:2379'],
    ['http://127.0.0.1:2379', '127.0.0.1:2379'],
    ['https://etcd.example:2379/', 'etcd.example:2379'],
    ['unix:///run/k8ts/etcd.sock', 'localhost'],
    ['[::1]:2379', '[::1]:2379'],
  ];
  for (const [given, want] of authorities) {
    it(`authority ${given} becomes ${want}`, () => assert.equal(fixAuthority(given), want));
  }

  it('rewrites a raw :authority literal and keeps the fields around it', () => {
    const value = Buffer.from('http://h:1');
    // :method GET (indexed 2), :authority literal with incremental indexing (0x41), :path / (indexed 4)
    const block = Buffer.concat([Buffer.from([0x82, 0x41, value.length]), value, Buffer.from([0x84])]);
    assert.deepEqual(rewriteAuthority(block), Buffer.concat([Buffer.from([0x82, 0x41, 3]), Buffer.from('h:1'), Buffer.from([0x84])]));
    const fine = Buffer.concat([Buffer.from([0x82, 0x41, 3]), Buffer.from('h:1')]);
    assert.equal(rewriteAuthority(fine), undefined);
  });
});

describe('etcd server robustness', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: SqliteKV;
  let server: EtcdServer;

  before(async () => {
    dir = tempDir('k8ts-etcd-garbage-');
    store = SqliteKV.open({ path: join(dir.path, 'state.db') });
    server = await startEtcdServer(store, { listen: 'http://127.0.0.1:0' });
  });
  after(async () => {
    await server?.close();
    await store?.close();
    dir?.remove();
  });

  it('serves several watchers on one stream, with ids, filters, cancel and progress', async () => {
    const port = Number(new URL(server.url).port);
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const w = etcdMethod<pb.WatchRequest, pb.WatchResponse>('Watch', 'Watch');
    const call = client.makeBidiStreamRequest(w.path, w.serialize, w.deserialize, new grpc.Metadata());
    const got: pb.WatchResponse[] = [];
    const waitFor = async (pred: () => boolean): Promise<void> => {
      const deadline = Date.now() + 5_000;
      while (!pred() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(pred(), `stream got: ${JSON.stringify(got.map((r) => [r.watch_id, r.created, r.canceled, r.events.map((e) => e.type)]))}`);
    };
    call.on('data', (r: pb.WatchResponse) => got.push(r));
    call.on('error', () => {});
    try {
      const range = { key: b('/multi/'), range_end: prefixRangeEnd(b('/multi/')) };
      call.write({ create_request: { ...range, watch_id: 7 } });
      call.write({ create_request: { ...range, filters: ['NOPUT'], prev_kv: true } });
      call.write({ create_request: { ...range, watch_id: 7 } });
      await waitFor(() => got.filter((r) => r.created).length === 3);
      const created = got.filter((r) => r.created);
      assert.deepEqual(created.map((r) => [r.watch_id, r.canceled]), [['7', false], ['0', false], ['-1', true]]);
      assert.match(created[2]!.cancel_reason, /duplicate watch ID/);
      const kv = await EtcdKV.connect({ endpoints: [server.url] });
      try {
        await kv.put({ key: b('/multi/a'), value: b('1') });
        await kv.deleteRange({ key: b('/multi/a') });
        await waitFor(() => got.filter((r) => r.watch_id === '7' && r.events.length > 0).flatMap((r) => r.events).length === 2);
        await waitFor(() => got.some((r) => r.watch_id === '0' && r.events.length > 0));
        const deletesOnly = got.filter((r) => r.watch_id === '0').flatMap((r) => r.events);
        assert.deepEqual(deletesOnly.map((e) => [e.type, e.prev_kv?.value.toString()]), [['DELETE', '1']]);
        call.write({ cancel_request: { watch_id: 7 } });
        await waitFor(() => got.some((r) => r.watch_id === '7' && r.canceled));
        call.write({ progress_request: {} });
        await waitFor(() => got.some((r) => r.watch_id === '-1' && !r.created));
        const { header } = await kv.range({ key: b('/multi/a') });
        assert.equal(Number(got.find((r) => r.watch_id === '-1' && !r.created)!.header?.revision), header.revision);
      } finally {
        await kv.close();
      }
    } finally {
      call.cancel();
      client.close();
    }
  });

  it('survives garbage on the socket and in every method, then still answers', async () => {
    const port = Number(new URL(server.url).port);
    const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
    const payloads = [
      randomBytes(4096),
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      Buffer.concat([preface, randomBytes(2048)]),
      Buffer.concat([preface, Buffer.from([0, 0, 10, 1, 4, 0, 0, 0, 1]), randomBytes(10)]),
    ];
    for (const payload of payloads) {
      await new Promise<void>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write(payload);
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 50);
        });
        socket.on('error', () => resolve());
      });
    }
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const raw = (b: Buffer): Buffer => b;
    try {
      const methods = ['KV/Range', 'KV/Put', 'KV/DeleteRange', 'KV/Txn', 'KV/Compact', 'Lease/LeaseGrant', 'Lease/LeaseRevoke',
        'Lease/LeaseTimeToLive', 'Maintenance/Status', 'Maintenance/HashKV', 'Maintenance/MoveLeader', 'Cluster/MemberList'];
      for (const m of methods) {
        for (let i = 0; i < 5; i++) {
          await new Promise<void>((resolve) =>
            client.makeUnaryRequest(`/etcdserverpb.${m}`, raw, raw, randomBytes(1 + i * 41), new grpc.Metadata(), { deadline: Date.now() + 3_000 }, () => resolve()),
          );
        }
      }
      for (const m of ['Watch/Watch', 'Lease/LeaseKeepAlive']) {
        const call = client.makeBidiStreamRequest(`/etcdserverpb.${m}`, raw, raw, new grpc.Metadata());
        const ended = new Promise<void>((resolve) => {
          call.on('error', () => resolve());
          call.on('end', () => resolve());
        });
        call.on('data', () => {});
        for (let i = 0; i < 20; i++) call.write(randomBytes(1 + i * 13));
        call.end();
        await Promise.race([ended, new Promise((r) => setTimeout(r, 3_000))]);
        call.cancel();
      }
    } finally {
      client.close();
    }
    const kv = await EtcdKV.connect({ endpoints: [server.url] });
    try {
      assert.match((await kv.status()).version, /^3\.4\./);
    } finally {
      await kv.close();
    }
  });
});
