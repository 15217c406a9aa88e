import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PrioritySort } from '../../../../src/scheduler/plugins/prioritySort.js';
import type { QueueSortPlugin, QueuedPodInfo } from '../../../../src/scheduler/framework/types.js';
import { makePod, newPlugin } from './builders.js';

const queued = (priority: number | undefined, timestamp: number, initialAttemptTimestamp = timestamp): QueuedPodInfo => ({
  pod: makePod(priority === undefined ? {} : { priority }),
  timestamp,
  initialAttemptTimestamp,
  attempts: 0,
  unschedulablePlugins: new Set(),
  pendingPlugins: new Set(),
});

describe('PrioritySort', () => {
  const p = newPlugin<QueueSortPlugin>(PrioritySort);
  const cases: Array<[string, QueuedPodInfo, QueuedPodInfo, boolean]> = [
    ['the higher priority goes first', queued(100, 2), queued(10, 1), true],
    ['the lower priority goes later', queued(10, 1), queued(100, 2), false],
    ['among equal priorities the earlier queued goes first', queued(5, 1), queued(5, 2), true],
    ['among equal priorities the later queued goes later', queued(5, 2), queued(5, 1), false],
    ['a pod without priority counts as priority 0', queued(undefined, 1), queued(0, 2), true],
    ['a negative priority goes after a pod without one', queued(-1, 1), queued(undefined, 2), false],
    ['equal pods are not less than each other', queued(5, 1), queued(5, 1), false],
    ['ties go by the latest queueing time, not the first attempt', queued(5, 2, 0), queued(5, 1, 1), false],
  ];
  for (const [name, a, b, want] of cases) it(name, () => assert.equal(p.less(a, b), want));
});
