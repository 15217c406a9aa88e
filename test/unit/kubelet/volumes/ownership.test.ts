import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ownedMode, setVolumeOwnership } from '../../../../src/kubelet/volumes/ownership.js';
import { tempDir } from '../../../support/tmp.js';

describe('fsGroup ownership (upstream SetVolumeOwnership)', () => {
  const cases: Array<[string, number, boolean, boolean, number]> = [
    ['a writable file gains group rw', 0o600, false, false, 0o660],
    ['a read-only volume file gains group r only', 0o400, false, true, 0o440],
    ['a directory gains setgid and group exec', 0o755, true, false, 0o2775],
    ['a read-only directory gains setgid, group r and x', 0o700, true, true, 0o2750],
  ];
  for (const [name, mode, isDir, ro, want] of cases) it(name, () => assert.equal(ownedMode(mode, isDir, ro), want));

  it('walks the volume: group everywhere, chmod on files and dirs, never through symlinks', async () => {
    const t = tempDir();
    try {
      mkdirSync(join(t.path, 'sub'));
      writeFileSync(join(t.path, 'sub', 'f'), 'x', { mode: 0o600 });
      const outside = join(t.path, '..', `k8ts-t-outside-${process.pid}`);
      writeFileSync(outside, 'y', { mode: 0o600 });
      symlinkSync(outside, join(t.path, 'link'));
      try {
        await setVolumeOwnership(t.path, 2345, false);
        assert.equal(statSync(join(t.path, 'sub', 'f')).gid, 2345);
        assert.equal(statSync(join(t.path, 'sub', 'f')).mode & 0o7777, 0o660);
        assert.equal(statSync(join(t.path, 'sub')).mode & 0o2000, 0o2000);
        assert.equal(lstatSync(join(t.path, 'link')).gid, 2345);
        assert.equal(statSync(outside).mode & 0o7777, 0o600, 'the symlink target keeps its mode');
        assert.notEqual(statSync(outside).gid, 2345);
      } finally {
        (await import('node:fs')).rmSync(outside, { force: true });
      }
    } finally {
      t.remove();
    }
  });

  it('OnRootMismatch skips the walk when the root already matches', async () => {
    const t = tempDir();
    try {
      writeFileSync(join(t.path, 'f'), 'x', { mode: 0o600 });
      await setVolumeOwnership(t.path, 2345, false);
      writeFileSync(join(t.path, 'g'), 'x', { mode: 0o600 });
      await setVolumeOwnership(t.path, 2345, false, 'OnRootMismatch');
      assert.equal(statSync(join(t.path, 'g')).mode & 0o777, 0o600, 'not walked');
      await setVolumeOwnership(t.path, 2345, false, 'Always');
      assert.equal(statSync(join(t.path, 'g')).mode & 0o777, 0o660);
    } finally {
      t.remove();
    }
  });
});
