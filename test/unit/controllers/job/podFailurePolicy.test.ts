import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PodFailurePolicy } from 'kubernetes-types/batch/v1.js';
import type { Pod, PodCondition } from 'kubernetes-types/core/v1.js';
import { matchPodFailurePolicy } from '../../../../src/controllers/job/podFailurePolicy.js';

function failedPod(exitCodes: Record<string, number | undefined>, conditions: PodCondition[] = [], init: Record<string, number> = {}): Pod {
  const cs = (m: Record<string, number | undefined>) =>
    Object.entries(m).map(([name, code]) => ({ name, image: 'i', imageID: '', ready: false, restartCount: 0, state: code === undefined ? { running: {} } : { terminated: { exitCode: code } } }));
  return { metadata: { name: 'p', namespace: 'ns' }, status: { phase: 'Failed', containerStatuses: cs(exitCodes), initContainerStatuses: cs(init), conditions } };
}

const policy: PodFailurePolicy = {
  rules: [
    { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
    { action: 'FailJob', onExitCodes: { containerName: 'main', operator: 'In', values: [42] } },
    { action: 'FailIndex', onExitCodes: { operator: 'In', values: [43] } },
    { action: 'Count', onExitCodes: { operator: 'NotIn', values: [1, 2] } },
  ],
};

describe('matchPodFailurePolicy', () => {
  const cases: Array<{ name: string; pod: Pod; policy?: PodFailurePolicy; want: ReturnType<typeof matchPodFailurePolicy> }> = [
    { name: 'no policy counts the failure', pod: failedPod({ main: 42 }), policy: undefined, want: { countFailed: true } },
    { name: 'a disruption condition is ignored', pod: failedPod({ main: 42 }, [{ type: 'DisruptionTarget', status: 'True' }]), want: { countFailed: false, action: 'Ignore' } },
    { name: 'a condition with another status does not match', pod: failedPod({ main: 1 }, [{ type: 'DisruptionTarget', status: 'False' }]), want: { countFailed: true } },
    {
      name: 'FailJob on the named container says why',
      pod: failedPod({ side: 0, main: 42 }),
      want: { countFailed: true, action: 'FailJob', failJobMessage: 'Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1' },
    },
    { name: 'FailJob for another container does not match, the next rule does', pod: failedPod({ side: 42 }), want: { countFailed: true, action: 'Count' } },
    { name: 'FailIndex', pod: failedPod({ main: 43 }), want: { countFailed: true, action: 'FailIndex' } },
    { name: 'NotIn matches codes outside the list', pod: failedPod({ main: 7 }), want: { countFailed: true, action: 'Count' } },
    { name: 'NotIn does not match listed codes: no rule, counted', pod: failedPod({ main: 2 }), want: { countFailed: true } },
    { name: 'exit code 0 and running containers never match', pod: failedPod({ main: 0, other: undefined }), want: { countFailed: true } },
    { name: 'init containers are checked after the main ones', pod: failedPod({}, [], { setup: 42 }), policy: { rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [42] } }] }, want: { countFailed: true, action: 'FailJob', failJobMessage: 'Container setup for pod ns/p failed with exit code 42 matching FailJob rule at index 0' } },
    {
      name: 'FailJob on a pod condition',
      pod: failedPod({ main: 1 }, [{ type: 'ConfigIssue', status: 'True' }]),
      policy: { rules: [{ action: 'FailJob', onPodConditions: [{ type: 'ConfigIssue', status: 'True' }] }] },
      want: { countFailed: true, action: 'FailJob', failJobMessage: 'Pod ns/p has condition ConfigIssue matching FailJob rule at index 0' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(matchPodFailurePolicy('policy' in c ? c.policy : policy, c.pod), c.want));
  }
});
