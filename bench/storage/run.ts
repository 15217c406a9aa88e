// Storage benchmark: the SQLite store (in process, and behind our etcd v3 server), a real etcd 3.4
// behind the same Store, and raw better-sqlite3 inserts (the floor of what SQLite can do durably), side by side in one run.
// Usage: node dist/bench/storage/run.js [--repeat 3] [--seconds 2] [--quick]
// Prints a markdown report (medians of the repeats) to stdout.

import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { EtcdKV } from '../../src/storage/etcd/etcdKV.js';
import { startEtcdServer } from '../../src/storage/etcd/server.js';
import { SqliteKV } from '../../src/storage/sqlite/sqliteKV.js';
import { KVStore, type Store } from '../../src/storage/store.js';
import { startEtcd, type TestEtcd } from '../../test/support/etcd.js';
import { tempDir } from '../../test/support/tmp.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const quick = args.includes('--quick');
const REPEAT = arg('repeat', quick ? 1 : 3);
const SECONDS = arg('seconds', quick ? 0.5 : 2);
const LIST_KEYS = quick ? 2000 : 10_000;
const UPDATES = quick ? 10_000 : 100_000;
const UPDATE_KEYS = 1000;
const CONCURRENCY = [1, 16, 64];
const VALUE = Buffer.alloc(1024, 0x61);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const now = (): number => performance.now();

interface Backend {
  name: string;
  store: Store;
  close(): Promise<void>;
}

/** Runs `op` with `c` concurrent loops for `seconds`; returns operations per second. */
async function rate(c: number, seconds: number, op: (worker: number, i: number) => Promise<void>): Promise<number> {
  let done = 0;
  const end = now() + seconds * 1000;
  const start = now();
  await Promise.all(
    Array.from({ length: c }, async (_, w) => {
      for (let i = 0; now() < end; i++) {
        await op(w, i);
        done++;
      }
    }),
  );
  return done / ((now() - start) / 1000);
}

let run = 0;
async function measureStore(b: Backend): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const s = b.store;
  run++;
  for (const c of CONCURRENCY) {
    const p = `/registry/bench${run}/c${c}/`;
    out[`create/${c}`] = await rate(c, SECONDS, async (w, i) => {
      const r = await s.create(`${p}w${w}-${i}`, VALUE);
      if (!r.ok) throw new Error('create failed');
    });
    // CAS updates: each writer updates its own key with the revision it last wrote.
    const revs = await Promise.all(
      Array.from({ length: c }, async (_, w) => {
        const r = await s.create(`${p}u${w}`, VALUE);
        if (!r.ok) throw new Error('create failed');
        return r.object.modRevision;
      }),
    );
    out[`update/${c}`] = await rate(c, SECONDS, async (w) => {
      const r = await s.update(`${p}u${w}`, VALUE, revs[w]!);
      if (!r.ok) throw new Error(`update failed: ${r.reason}`);
      revs[w] = r.object.modRevision;
    });
    out[`get/${c}`] = await rate(c, SECONDS, async (w) => {
      if (!(await s.get(`${p}u${w}`))) throw new Error('get failed');
    });
  }
  return out;
}

async function measureLists(b: Backend): Promise<Record<string, number>> {
  const p = `/registry/benchlist${++run}/`;
  const batch = 64;
  for (let i = 0; i < LIST_KEYS; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, LIST_KEYS - i) }, (_, j) => b.store.create(`${p}k${String(i + j).padStart(6, '0')}`, VALUE)));
  }
  const full: number[] = [];
  const paged: number[] = [];
  for (let r = 0; r < 5; r++) {
    let t = now();
    const all = await b.store.list(p);
    if (all.items.length !== LIST_KEYS) throw new Error(`listed ${all.items.length}`);
    full.push(now() - t);
    t = now();
    let token: string | undefined;
    let n = 0;
    do {
      const page = await b.store.list(p, { limit: 500, continueFrom: token });
      n += page.items.length;
      token = page.continue;
    } while (token);
    if (n !== LIST_KEYS) throw new Error(`paged ${n}`);
    paged.push(now() - t);
  }
  return { 'list-full-ms': median(full), 'list-paged500-ms': median(paged) };
}

/** Watch delivery: time from issuing a create to its event reaching a watcher, 16 writers. */
async function measureWatch(b: Backend): Promise<Record<string, number>> {
  const p = `/registry/benchwatch${++run}/`;
  const issued = new Map<string, number>();
  const latencies: number[] = [];
  const ac = new AbortController();
  const from = await b.store.currentRevision();
  const total = quick ? 500 : 3000;
  const watching = (async () => {
    for await (const e of b.store.watch(p, from, ac.signal)) {
      if (e.type !== 'created') continue;
      const t = issued.get(e.object.key);
      if (t !== undefined) latencies.push(now() - t);
      if (latencies.length >= total) break;
    }
  })();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < total) {
        const key = `${p}k${next++}`;
        issued.set(key, now());
        await b.store.create(key, VALUE);
      }
    }),
  );
  await Promise.race([watching, new Promise((r) => setTimeout(r, 10_000))]);
  ac.abort();
  return { 'watch-p50-ms': pct(latencies, 50), 'watch-p99-ms': pct(latencies, 99), 'watch-events': latencies.length };
}

/**
 * 100k CAS updates of 1k keys by 64 writers. With compaction on, it compacts to the current
 * revision every 1,024 updates (what the automatic compactor does once the retention has passed);
 * off, history piles up. Reports the database file, its WAL and the pages in use.
 */
async function measureSize(compaction: boolean): Promise<Record<string, number>> {
  const dir = tempDir('k8ts-bench-size-');
  const kv = SqliteKV.open({ path: join(dir.path, 'state.db') });
  const store = new KVStore(kv, { compaction: false });
  try {
    const p = '/registry/benchsize/';
    const revs = new Map<number, number>();
    for (let i = 0; i < UPDATE_KEYS; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, async (_, j) => {
          const r = await store.create(`${p}k${String(i + j).padStart(4, '0')}`, VALUE);
          if (r.ok) revs.set(i + j, r.object.modRevision);
        }),
      );
    }
    let peakDb = 0;
    let peakWal = 0;
    const sample = () => {
      peakDb = Math.max(peakDb, fileSize(join(dir.path, 'state.db')));
      peakWal = Math.max(peakWal, fileSize(join(dir.path, 'state.db-wal')));
    };
    for (let done = 0; done < UPDATES; done += 64) {
      await Promise.all(
        Array.from({ length: 64 }, async (_, j) => {
          const k = (done + j) % UPDATE_KEYS;
          const r = await store.update(`${p}k${String(k).padStart(4, '0')}`, VALUE, revs.get(k)!);
          if (!r.ok) throw new Error(`update failed: ${r.reason}`);
          revs.set(k, r.object.modRevision);
        }),
      );
      if (compaction && done % 1024 === 0) await store.compact(kv.revision);
      sample();
    }
    await new Promise((r) => setTimeout(r, 300));
    sample();
    const live = UPDATE_KEYS * (VALUE.length + `${p}k0000`.length);
    const st = await kv.status();
    return { live, peakDb, peakWal, inUse: st.dbSizeInUse };
  } finally {
    await store.close();
    dir.remove();
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The floor: durable better-sqlite3 inserts, one transaction per `c` rows (ideal group commit). */
function rawSqlite(dir: string, c: number, seconds: number): number {
  const db = new Database(join(dir, `raw-${c}-${++run}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, key BLOB NOT NULL, value BLOB)');
  const ins = db.prepare('INSERT INTO t (key, value) VALUES (?, ?)');
  const tx = db.transaction((base: number) => {
    for (let j = 0; j < c; j++) ins.run(Buffer.from(`/registry/raw/k${base + j}`), VALUE);
  });
  let n = 0;
  const end = now() + seconds * 1000;
  const start = now();
  while (now() < end) {
    tx(n);
    n += c;
  }
  const r = n / ((now() - start) / 1000);
  db.close();
  return r;
}

async function main(): Promise<void> {
  const dir = tempDir('k8ts-bench-');
  let etcd: TestEtcd | undefined;
  try {
    etcd = await startEtcd();
    const openSqlite = (): Backend & { kv: SqliteKV } => {
      const kv = SqliteKV.open({ path: join(dir.path, `sqlite-${++run}.db`) });
      const store = new KVStore(kv, { compaction: false });
      return { name: 'SQLite store', kv, store, close: () => store.close() };
    };
    const openEtcd = async (): Promise<Backend> => {
      const kv = await EtcdKV.connect({ endpoints: [etcd!.endpoint] });
      const store = new KVStore(kv, { compaction: false });
      return { name: 'etcd 3.4 store', store, close: () => store.close() };
    };
    // The SQLite engine behind our etcd v3 server, reached over gRPC like etcd: same transport, other engine.
    const openServed = async (): Promise<Backend> => {
      const engine = SqliteKV.open({ path: join(dir.path, `served-${++run}.db`) });
      const server = await startEtcdServer(engine, { listen: 'http://127.0.0.1:0' });
      const kv = await EtcdKV.connect({ endpoints: [server.url] });
      const store = new KVStore(kv, { compaction: false });
      return {
        name: 'SQLite via k8ts etcd server',
        store,
        close: async () => {
          await store.close();
          await server.close();
          await engine.close();
        },
      };
    };
    const rows = new Map<string, Record<string, number[]>>();
    const add = (backend: string, res: Record<string, number>) => {
      const row = rows.get(backend) ?? {};
      for (const [k, v] of Object.entries(res)) (row[k] ??= []).push(v);
      rows.set(backend, row);
    };
    for (let r = 0; r < REPEAT; r++) {
      // Interleave the backends in every repeat so that machine noise hits them alike.
      const sq = openSqlite();
      add(sq.name, await measureStore(sq));
      add(sq.name, await measureLists(sq));
      add(sq.name, await measureWatch(sq));
      await sq.close();
      const et = await openEtcd();
      add(et.name, await measureStore(et));
      add(et.name, await measureLists(et));
      add(et.name, await measureWatch(et));
      await et.close();
      const sv = await openServed();
      add(sv.name, await measureStore(sv));
      add(sv.name, await measureLists(sv));
      add(sv.name, await measureWatch(sv));
      await sv.close();
      const raw: Record<string, number> = {};
      for (const c of CONCURRENCY) raw[`create/${c}`] = rawSqlite(dir.path, c, SECONDS);
      add('raw better-sqlite3 (floor)', raw);
      process.stderr.write(`repeat ${r + 1}/${REPEAT} done\n`);
    }
    const sizeOn = await measureSize(true);
    const sizeOff = await measureSize(false);

    const med = (backend: string, k: string): number => median(rows.get(backend)?.[k] ?? []);
    const fmt = (x: number, digits = 0): string => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits }) : '—');
    const backends = [...rows.keys()];
    const lines: string[] = [];
    lines.push(`Storage benchmark, ${new Date().toISOString()}, node ${process.version}, ${REPEAT} repeat(s) of ${SECONDS}s per cell, medians; 1 KiB values.`);
    lines.push('');
    lines.push(`| operation | ${backends.join(' | ')} | SQLite ÷ etcd |`);
    lines.push(`|---|${backends.map(() => '---:').join('|')}|---:|`);
    for (const op of ['create', 'update', 'get']) {
      for (const c of CONCURRENCY) {
        const k = `${op}/${c}`;
        const ratio = med('SQLite store', k) / med('etcd 3.4 store', k);
        lines.push(`| ${op} ops/s, ${c} writer(s) | ${backends.map((b) => fmt(med(b, k))).join(' | ')} | ${fmt(ratio, 2)}× |`);
      }
    }
    for (const [k, label] of [
      ['list-full-ms', `list ${LIST_KEYS} keys, ms`],
      ['list-paged500-ms', `list ${LIST_KEYS} keys in pages of 500, ms`],
      ['watch-p50-ms', 'watch delivery p50, ms (16 writers)'],
      ['watch-p99-ms', 'watch delivery p99, ms (16 writers)'],
    ] as const) {
      const ratio = med('SQLite store', k) / med('etcd 3.4 store', k);
      lines.push(`| ${label} | ${backends.map((b) => fmt(med(b, k), 2)).join(' | ')} | ${fmt(ratio, 2)}× |`);
    }
    lines.push('');
    const kib = (n: number): string => `${fmt(n / 1024)} KiB`;
    lines.push(`Database size, SQLite, after ${UPDATES.toLocaleString('en-US')} CAS updates of ${UPDATE_KEYS} keys by 64 writers (live data ${kib(sizeOn.live!)}):`);
    lines.push('');
    lines.push('| compaction | peak db file | peak WAL | pages in use at end | peak db file ÷ live |');
    lines.push('|---|---:|---:|---:|---:|');
    for (const [label, z] of [['on (every 1,024 updates)', sizeOn], ['off', sizeOff]] as const) {
      lines.push(`| ${label} | ${kib(z.peakDb!)} | ${kib(z.peakWal!)} | ${kib(z.inUse!)} | ${fmt(z.peakDb! / z.live!, 2)}× |`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await etcd?.stop();
    dir.remove();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
