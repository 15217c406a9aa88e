import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Job } from 'kubernetes-types/batch/v1.js';
import { timeLeft } from '../../../../src/controllers/ttlafterfinished/ttlAfterFinishedController.js';

const T = (s: string) => Date.parse(s);
const job = (ttl: number | undefined, cond?: { type: string; status: string; at?: string }, deleting = false): Job => ({
  metadata: { name: 'j', namespace: 'ns', ...(deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) },
  spec: { template: {}, ...(ttl !== undefined ? { ttlSecondsAfterFinished: ttl } : {}) },
  status: cond ? { conditions: [{ type: cond.type, status: cond.status, ...(cond.at ? { lastTransitionTime: cond.at } : {}) }] } : {},
});

describe('ttlSecondsAfterFinished', () => {
  const cases: Array<{ name: string; job: Job; now: string; want: number | undefined }> = [
    { name: 'a running Job needs no clean-up', job: job(10), now: '2024-01-01T00:00:00Z', want: undefined },
    { name: 'a finished Job without TTL is kept', job: job(undefined, { type: 'Complete', status: 'True', at: '2024-01-01T00:00:00Z' }), now: '2024-01-01T01:00:00Z', want: undefined },
    { name: 'a completed Job expires TTL after its Complete condition', job: job(100, { type: 'Complete', status: 'True', at: '2024-01-01T00:00:00Z' }), now: '2024-01-01T00:01:00Z', want: 40_000 },
    { name: 'a failed Job too, and can be overdue', job: job(0, { type: 'Failed', status: 'True', at: '2024-01-01T00:00:00Z' }), now: '2024-01-01T00:00:05Z', want: -5000 },
    { name: 'a Job being deleted is left alone', job: job(0, { type: 'Complete', status: 'True', at: '2024-01-01T00:00:00Z' }, true), now: '2024-01-01T00:01:00Z', want: undefined },
    { name: 'SuccessCriteriaMet alone is not finished', job: job(0, { type: 'SuccessCriteriaMet', status: 'True', at: '2024-01-01T00:00:00Z' }), now: '2024-01-01T00:01:00Z', want: undefined },
  ];
  for (const c of cases) it(c.name, () => assert.equal(timeLeft(c.job, T(c.now))?.remainingMs, c.want));
  it('a finished condition without a time is an error', () => assert.throws(() => timeLeft(job(1, { type: 'Complete', status: 'True' }), 0), /unable to find the time when the Job ns\/j finished/));
});
