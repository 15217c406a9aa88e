import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatTable, humanSize, imageRows } from '../../../../src/cli/imagesCommand.js';
import type { Image } from '../../../../src/kubelet/runtime/types.js';

describe('k8ts images ls formatting', () => {
  const sizes: [number, string][] = [
    [0, '0B'],
    [999, '999B'],
    [1_000, '1kB'],
    [727_978, '728kB'],
    [2_216_000, '2.216MB'],
    [56_700_000, '56.7MB'],
    [1_234_567_890, '1.235GB'],
  ];
  for (const [n, want] of sizes) it(`${n} bytes read as ${want}, as crictl prints them`, () => assert.equal(humanSize(n), want));

  const img = (id: string, repoTags: string[], repoDigests: string[] = []): Image => ({ id: `sha256:${id.padEnd(64, '0')}`, repoTags, repoDigests, size: 1_000n, username: '', pinned: false });
  it('prints one row per tag, and <none> for an image with only a digest', () => {
    assert.deepEqual(imageRows([img('abc', ['docker.io/library/busybox:1.36', 'localhost:5000/x:latest']), img('def', [], ['localhost/y@sha256:' + 'f'.repeat(64)])]), [
      ['docker.io/library/busybox', '1.36', 'abc0000000000', '1kB'],
      ['localhost/y', '<none>', 'def0000000000', '1kB'],
      ['localhost:5000/x', 'latest', 'abc0000000000', '1kB'],
    ]);
  });
  it('pads columns so the widest cell plus three spaces sets each width', () => {
    assert.equal(formatTable(['IMAGE', 'TAG'], [['a', 'latest']]), 'IMAGE   TAG\na       latest\n');
  });
});
