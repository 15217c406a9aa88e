// A child process for the crash test: writes keys as fast as it can with several writers and
// prints "ack <n> <revision>" for each write only after the store acknowledged it (durable).
// The parent kill -9s it at a random moment. Args: <db path> <first n> <writers>.
import { writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { SqliteKV } from '../../src/storage/sqlite/sqliteKV.js';
import { KVStore } from '../../src/storage/store.js';

export function crashValue(n: number): Buffer {
  const body = `${n}:${'x'.repeat(200 + (n % 700))}`;
  return Buffer.from(`${body}|${createHash('sha256').update(body).digest('hex')}`);
}

export function crashValueIntact(value: Buffer): boolean {
  const text = value.toString('utf8');
  const bar = text.lastIndexOf('|');
  return bar > 0 && createHash('sha256').update(text.slice(0, bar)).digest('hex') === text.slice(bar + 1);
}

async function run(path: string, first: number, writers: number): Promise<void> {
  const store = new KVStore(SqliteKV.open({ path }), { compaction: false });
  writeSync(1, 'ready\n');
  let next = first;
  const writer = async () => {
    for (;;) {
      const n = next++;
      const r = await store.create(`/registry/crash/k${n}`, crashValue(n));
      if (!r.ok) throw new Error(`k${n} already existed`);
      writeSync(1, `ack ${n} ${r.object.modRevision}\n`);
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const [path, first, writers] = process.argv.slice(2);
  run(path!, Number(first), Number(writers)).catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(2);
  });
}
