import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { timestampedDirName, validatePayloadPath, writeAtomically, type FileProjection } from '../../../../src/kubelet/volumes/atomicWriter.js';
import { tempDir } from '../../../support/tmp.js';

const file = (text: string, mode = 0o644): FileProjection => ({ data: Buffer.from(text), mode });

describe('atomic writer path validation (upstream validatePath)', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['a plain file name is valid', 'config.yaml', undefined],
    ['a nested path is valid', 'dir/sub/file', undefined],
    ['a bare .. is refused', '..', "invalid path: must not contain '..': .."],
    ['an empty path is refused', '', 'invalid path: must not be empty: ""'],
    ['an absolute path is refused', '/etc/passwd', 'invalid path: must be relative path: /etc/passwd'],
    ['a path escaping with .. is refused', 'a/../../etc', "invalid path: must not contain '..': a/../../etc"],
    ['a top-level name starting with .. (like ..data) is refused', '..data/x', "invalid path: must not start with '..': ..data/x"],
    ['a file name longer than 255 characters is refused', 'x'.repeat(256), 'invalid path: filenames must be less than or equal to 255 characters'],
    ['a path longer than 4096 characters is refused', 'a/'.repeat(2049), 'invalid path: must be less than or equal to 4096 characters'],
  ];
  for (const [name, path, want] of cases) it(name, () => assert.equal(validatePayloadPath(path), want));

  it('names timestamped directories like upstream (..YYYY_MM_DD_HH_MM_SS.<digits>)', () => {
    assert.equal(timestampedDirName(new Date(Date.UTC(2016, 1, 1, 15, 4, 5)), 12345678), '..2016_02_01_15_04_05.12345678');
  });
});

describe('atomic writer layout and updates', () => {
  it('writes files into a timestamped dir behind ..data with user-visible symlinks and exact modes', async () => {
    const t = tempDir();
    try {
      const r = await writeAtomically(
        t.path,
        new Map([
          ['podName', file('web-1', 0o600)],
          ['user/labels', file('app="web"')],
        ]),
      );
      assert.equal(r.written, true);
      const ts = readlinkSync(join(t.path, '..data'));
      assert.match(ts, /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+$/);
      assert.equal(readlinkSync(join(t.path, 'podName')), '..data/podName');
      assert.equal(readlinkSync(join(t.path, 'user')), '..data/user');
      assert.equal(readFileSync(join(t.path, 'user/labels'), 'utf8'), 'app="web"');
      assert.equal(statSync(join(t.path, 'podName')).mode & 0o777, 0o600);
      assert.equal(statSync(join(t.path, ts)).mode & 0o777, 0o755);
      assert.deepEqual(readdirSync(t.path).sort(), ['..data', ts, 'podName', 'user'].sort());
    } finally {
      t.remove();
    }
  });

  it('swaps in new contents, removes names no longer in the payload and the old timestamped dir', async () => {
    const t = tempDir();
    try {
      await writeAtomically(t.path, new Map([['a', file('1')], ['b', file('2')]]));
      const first = readlinkSync(join(t.path, '..data'));
      const r = await writeAtomically(t.path, new Map([['a', file('changed')], ['c', file('3')]]));
      assert.equal(r.written, true);
      const second = readlinkSync(join(t.path, '..data'));
      assert.notEqual(second, first);
      assert.equal(existsSync(join(t.path, first)), false);
      assert.equal(readFileSync(join(t.path, 'a'), 'utf8'), 'changed');
      assert.equal(existsSync(join(t.path, 'b')), false);
      assert.equal(lstatSync(join(t.path, 'c')).isSymbolicLink(), true);
      assert.deepEqual(readdirSync(t.path).sort(), ['..data', second, 'a', 'c'].sort());
    } finally {
      t.remove();
    }
  });

  it('writes nothing when the same files hold the same bytes (modes are not compared, as upstream)', async () => {
    const t = tempDir();
    try {
      await writeAtomically(t.path, new Map([['a', file('1')]]));
      const first = readlinkSync(join(t.path, '..data'));
      assert.equal((await writeAtomically(t.path, new Map([['a', file('1')]]))).written, false);
      assert.equal(readlinkSync(join(t.path, '..data')), first);
      assert.equal((await writeAtomically(t.path, new Map([['a', file('1', 0o400)]]))).written, false);
      assert.equal((await writeAtomically(t.path, new Map([['a', file('1')], ['b', file('')]]))).written, true, 'a new file is a change');
    } finally {
      t.remove();
    }
  });

  it('refuses a payload with an escaping path before touching the directory', async () => {
    const t = tempDir();
    try {
      await assert.rejects(writeAtomically(t.path, new Map([['../evil', file('x')]])), { name: 'PayloadPathError' });
      assert.deepEqual(readdirSync(t.path), []);
    } finally {
      t.remove();
    }
  });

  it('replaces a plain file left under a user-visible name by a symlink', async () => {
    const t = tempDir();
    try {
      mkdirSync(t.path, { recursive: true });
      writeFileSync(join(t.path, 'a'), 'stale');
      await writeAtomically(t.path, new Map([['a', file('fresh')]]));
      assert.equal(lstatSync(join(t.path, 'a')).isSymbolicLink(), true);
      assert.equal(readFileSync(join(t.path, 'a'), 'utf8'), 'fresh');
    } finally {
      t.remove();
    }
  });
});
