// kill -9 the process that writes to the SQLite store at random moments: every write it
// acknowledged must be there, whole, after reopening, and revisions must only grow.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { SqliteKV } from '../../../src/storage/sqlite/sqliteKV.js';
import { KVStore } from '../../../src/storage/store.js';
import { crashValueIntact } from '../../support/crashWriter.js';
import { tempDir } from '../../support/tmp.js';

const writerScript = fileURLToPath(new URL('../../support/crashWriter.js', import.meta.url));

/** Runs the writer until a random moment, kills it with SIGKILL and returns the acks it printed. */
async function writeUntilKilled(path: string, first: number, writers: number, killAfterMs: number): Promise<Map<number, number>> {
  const child = spawn(process.execPath, [writerScript, path, String(first), String(writers)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acks = new Map<number, number>();
  let buffered = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const ready = new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!; // a line cut by the kill is not an ack
      for (const line of lines) {
        if (line === 'ready') resolve();
        const m = /^ack (\d+) (\d+)$/.exec(line);
        if (m) acks.set(Number(m[1]), Number(m[2]));
      }
    });
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await ready;
  await new Promise((r) => setTimeout(r, killAfterMs));
  child.kill('SIGKILL');
  await exited;
  assert.equal(stderr, '', 'the writer failed by itself');
  return acks;
}

it('keeps every acknowledged write, whole, across kill -9 of the writing process', async () => {
  const dir = tempDir();
  const path = join(dir.path, 'state.db');
  try {
    let first = 0;
    let lastRevision = 0;
    let totalAcked = 0;
    for (let round = 0; round < 8; round++) {
      const acks = await writeUntilKilled(path, first, 1 + (round % 4) * 8, 100 + Math.floor(Math.random() * 400));
      assert.ok(acks.size > 0, `round ${round}: the writer acknowledged nothing`);
      totalAcked += acks.size;
      const kv = SqliteKV.open({ path });
      const store = new KVStore(kv, { compaction: false });
      try {
        for (const [n, rev] of acks) {
          const got = await store.get(`/registry/crash/k${n}`);
          assert.ok(got, `round ${round}: acknowledged k${n} (revision ${rev}) is missing`);
          assert.equal(got.modRevision, rev);
          assert.ok(crashValueIntact(got.value), `k${n} is damaged`);
        }
        // Nothing that is there is half there, acknowledged or not.
        const all = await store.list('/registry/crash/');
        for (const item of all.items) assert.ok(crashValueIntact(item.value), `${item.key} is damaged`);
        const revs = [...acks.values()];
        assert.ok(Math.min(...revs) > lastRevision, 'revisions went backwards across a restart');
        const current = await store.currentRevision();
        assert.ok(current >= Math.max(...revs));
        lastRevision = current;
        first = Math.max(...acks.keys(), first) + 100_000; // new keys each round
      } finally {
        await store.close();
      }
    }
    assert.ok(totalAcked > 100, `only ${totalAcked} writes were acknowledged in all rounds`);
  } finally {
    dir.remove();
  }
});
