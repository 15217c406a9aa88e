import assert from 'node:assert/strict';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkHostPathType } from '../../../../src/kubelet/volumes/hostPath.js';
import { tempDir } from '../../../support/tmp.js';

describe('hostPath type checks (upstream checkType)', () => {
  const t = tempDir();
  const p = (n: string) => join(t.path, n);
  const server = createServer();
  before(async () => {
    mkdirSync(p('dir'));
    writeFileSync(p('file'), 'x');
    await new Promise<void>((r) => server.listen(p('sock'), r));
  });
  after(() => {
    server.close();
    t.remove();
  });

  const cases: Array<[string, string, string | undefined, string | undefined]> = [
    ['no type checks nothing, even for a missing path', 'missing', '', undefined],
    ['Directory accepts a directory', 'dir', 'Directory', undefined],
    ['Directory refuses a missing path', 'missing', 'Directory', 'does not exist'],
    ['Directory refuses a file', 'file', 'Directory', 'is not a directory'],
    ['DirectoryOrCreate refuses an existing file', 'file', 'DirectoryOrCreate', 'is not a directory'],
    ['File accepts a file', 'file', 'File', undefined],
    ['File refuses a directory', 'dir', 'File', 'is not a file'],
    ['FileOrCreate refuses an existing directory', 'dir', 'FileOrCreate', 'is not a file'],
    ['Socket accepts a unix socket', 'sock', 'Socket', undefined],
    ['Socket refuses a file', 'file', 'Socket', 'is not a socket file'],
    ['Socket refuses a missing path', 'missing', 'Socket', 'is not a socket file'],
    ['CharDevice refuses a file', 'file', 'CharDevice', 'is not a character device'],
    ['BlockDevice refuses a directory', 'dir', 'BlockDevice', 'is not a block device'],
  ];
  for (const [name, target, type, fails] of cases) {
    it(name, async () => {
      const path = p(target);
      if (fails) await assert.rejects(checkHostPathType(path, type), { message: `hostPath type check failed: ${path} ${fails}` });
      else await checkHostPathType(path, type);
    });
  }

  it('CharDevice accepts /dev/null', async () => checkHostPathType('/dev/null', 'CharDevice'));

  it('DirectoryOrCreate creates missing parents with mode 0755 and FileOrCreate an empty 0644 file', async () => {
    await checkHostPathType(p('new/a/b'), 'DirectoryOrCreate');
    assert.equal(statSync(p('new/a/b')).isDirectory(), true);
    await checkHostPathType(p('dir/created'), 'FileOrCreate');
    const st = statSync(p('dir/created'));
    assert.equal(st.isFile() && st.size, 0);
  });

  it('an unknown type is refused with upstream\'s message', async () => {
    await assert.rejects(checkHostPathType(p('dir'), 'Fifo'), { message: 'Fifo is an invalid volume type' });
  });
});
