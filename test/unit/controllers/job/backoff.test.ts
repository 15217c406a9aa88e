import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { nextBackoffRecord, podFinishedTime, remainingBackoffMs } from '../../../../src/controllers/job/backoff.js';

const T = (s: string) => Date.parse(s);
function finishedPod(finishedAt: string): Pod {
  return { metadata: { creationTimestamp: '2024-01-01T00:00:00Z' }, status: { containerStatuses: [{ name: 'c', image: 'i', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 1, finishedAt } } }] } };
}

describe('pod failure back-off', () => {
  const cases: Array<{ name: string; failures: number; sinceLast: number; want: number }> = [
    { name: 'no failure, no wait', failures: 0, sinceLast: 0, want: 0 },
    { name: 'one failure: 10 s', failures: 1, sinceLast: 0, want: 10_000 },
    { name: 'two failures: 20 s', failures: 2, sinceLast: 0, want: 20_000 },
    { name: 'three failures: 40 s, minus the time already waited', failures: 3, sinceLast: 15_000, want: 25_000 },
    { name: 'doubling is capped at 10 minutes', failures: 12, sinceLast: 0, want: 600_000 },
    { name: 'a wait already over', failures: 2, sinceLast: 30_000, want: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(remainingBackoffMs(c.failures, 1_000_000, 1_000_000 + c.sinceLast), c.want));
  }
  it('honours a custom base and cap', () => assert.equal(remainingBackoffMs(5, 0, 0, 100, 1000), 1000));
});

describe('back-off record', () => {
  it('adds new failures and remembers the latest', () => {
    const r = nextBackoffRecord({ failuresAfterLastSuccess: 1, lastFailureTime: T('2024-01-01T00:00:00Z') }, [], [finishedPod('2024-01-01T00:01:00Z'), finishedPod('2024-01-01T00:00:30Z')]);
    assert.deepEqual(r, { failuresAfterLastSuccess: 3, lastFailureTime: T('2024-01-01T00:01:00Z') });
  });
  it('a success resets it', () => assert.deepEqual(nextBackoffRecord({ failuresAfterLastSuccess: 4, lastFailureTime: 5 }, [finishedPod('2024-01-01T00:01:00Z')], []), { failuresAfterLastSuccess: 0 }));
  it('only failures after the last success count', () => {
    const r = nextBackoffRecord(undefined, [finishedPod('2024-01-01T00:01:00Z')], [finishedPod('2024-01-01T00:00:30Z'), finishedPod('2024-01-01T00:02:00Z'), finishedPod('2024-01-01T00:03:00Z')]);
    assert.deepEqual(r, { failuresAfterLastSuccess: 2, lastFailureTime: T('2024-01-01T00:03:00Z') });
  });
  it('nothing new keeps the record', () => assert.deepEqual(nextBackoffRecord({ failuresAfterLastSuccess: 2, lastFailureTime: 7 }, [], []), { failuresAfterLastSuccess: 2, lastFailureTime: 7 }));
});

describe('podFinishedTime', () => {
  it('uses container finish, then Ready=False, then deletion minus grace, then creation', () => {
    assert.equal(podFinishedTime(finishedPod('2024-01-01T00:05:00Z')), T('2024-01-01T00:05:00Z'));
    const notReady: Pod = { metadata: { creationTimestamp: '2024-01-01T00:00:00Z' }, status: { conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: '2024-01-01T00:04:00Z' }] } };
    assert.equal(podFinishedTime(notReady), T('2024-01-01T00:04:00Z'));
    const deleted: Pod = { metadata: { creationTimestamp: '2024-01-01T00:00:00Z', deletionTimestamp: '2024-01-01T00:03:30Z', deletionGracePeriodSeconds: 30 } };
    assert.equal(podFinishedTime(deleted), T('2024-01-01T00:03:00Z'));
    assert.equal(podFinishedTime({ metadata: { creationTimestamp: '2024-01-01T00:00:00Z' } }), T('2024-01-01T00:00:00Z'));
  });
});
