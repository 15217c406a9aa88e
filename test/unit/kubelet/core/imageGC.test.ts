import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ImageGCManager, imagesToCollect } from '../../../../src/kubelet/imageGC.js';
import type { Image } from '../../../../src/kubelet/runtime/types.js';

const img = (id: string, size: number, pinned = false): Image => ({ id, repoTags: [`x/${id}:1`], repoDigests: [], size: BigInt(size), username: '', pinned });

describe('image garbage collection', () => {
  it('does nothing under the high threshold', () => assert.deepEqual(imagesToCollect([{ image: img('a', 10), firstSeenMs: 0, lastUsedMs: 0 }], new Set(), 84, 100, 1e9), []));
  it('frees least recently used unused images down to the low threshold, keeping pinned, in-use and young ones', () => {
    const recs = [
      { image: img('old', 3), firstSeenMs: 0, lastUsedMs: 10 },
      { image: img('older', 3), firstSeenMs: 0, lastUsedMs: 5 },
      { image: img('newer', 3), firstSeenMs: 0, lastUsedMs: 50 },
      { image: img('pause', 3, true), firstSeenMs: 0, lastUsedMs: 0 },
      { image: img('running', 3), firstSeenMs: 0, lastUsedMs: 0 },
      { image: img('young', 3), firstSeenMs: 1e9 - 1000, lastUsedMs: 0 },
    ];
    const out = imagesToCollect(recs, new Set(['running']), 90, 100, 1e9);
    // 90% used needs 10 bytes freed: every eligible image goes, oldest use first; pinned, running and young ones stay.
    assert.deepEqual(
      out.map((i) => i.id),
      ['older', 'old', 'newer'],
    );
    assert.deepEqual(imagesToCollect(recs, new Set(['running']), 86, 100, 1e9).map((i) => i.id), ['older', 'old'], 'stops once under the low threshold');
  });
  it('tracks use across observations', () => {
    let t = 1000;
    const m = new ImageGCManager({ highThresholdPercent: 85, lowThresholdPercent: 80, minAgeMs: 0 }, () => t);
    m.observe([img('a', 20), img('b', 20)], new Set(['a']));
    t = 2000;
    m.observe([img('a', 20), img('b', 20)], new Set());
    assert.deepEqual(m.plan(new Set(), 90, 100).map((i) => i.id), ['b']);
  });
});
