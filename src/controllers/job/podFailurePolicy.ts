// Matching a failed pod against a Job's podFailurePolicy (upstream pod_failure_policy.go): the
// first rule whose exit codes or pod conditions match decides FailJob, FailIndex, Ignore or Count.

import type { PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement } from 'kubernetes-types/batch/v1.js';
import type { ContainerStatus, Pod, PodStatus } from 'kubernetes-types/core/v1.js';

export type PodFailurePolicyAction = 'FailJob' | 'FailIndex' | 'Ignore' | 'Count';

export interface PodFailurePolicyMatch {
  /** Set when a FailJob rule matched: the Job's failure message. */
  failJobMessage?: string;
  /** Whether the failure counts towards backoffLimit (false only for Ignore). */
  countFailed: boolean;
  /** The action of the matching rule, if any rule matched. */
  action?: PodFailurePolicyAction;
}

/** Upstream's matchPodFailurePolicy; no policy or no matching rule counts the failure. */
export function matchPodFailurePolicy(policy: Readonly<PodFailurePolicy> | undefined, pod: Readonly<Pod>): PodFailurePolicyMatch {
  if (!policy) return { countFailed: true };
  const status = pod.status ?? {};
  for (const [index, rule] of (policy.rules ?? []).entries()) {
    const action = rule.action as PodFailurePolicyAction;
    if (rule.onExitCodes) {
      const cs = matchOnExitCodes(status, rule.onExitCodes);
      if (!cs) continue;
      const r = outcome(action);
      if (!r) continue;
      if (action === 'FailJob') {
        r.failJobMessage = `Container ${cs.name} for pod ${pod.metadata?.namespace}/${pod.metadata?.name} failed with exit code ${cs.state!.terminated!.exitCode} matching FailJob rule at index ${index}`;
      }
      return r;
    }
    if (rule.onPodConditions) {
      const cond = (status.conditions ?? []).find((c) => rule.onPodConditions!.some((p) => p.type === c.type && (p.status ?? 'True') === c.status));
      if (!cond) continue;
      const r = outcome(action);
      if (!r) continue;
      if (action === 'FailJob') r.failJobMessage = `Pod ${pod.metadata?.namespace}/${pod.metadata?.name} has condition ${cond.type} matching FailJob rule at index ${index}`;
      return r;
    }
  }
  return { countFailed: true };
}

function outcome(action: PodFailurePolicyAction): PodFailurePolicyMatch | undefined {
  switch (action) {
    case 'Ignore':
      return { countFailed: false, action };
    case 'Count':
    case 'FailIndex':
    case 'FailJob':
      return { countFailed: true, action };
    default:
      // An unknown action (from a newer API) matches nothing, as upstream's switch falls through.
      return undefined;
  }
}

function matchOnExitCodes(status: Readonly<PodStatus>, req: Readonly<PodFailurePolicyOnExitCodesRequirement>): ContainerStatus | undefined {
  return matchingContainer(status.containerStatuses, req) ?? matchingContainer(status.initContainerStatuses, req);
}

function matchingContainer(statuses: readonly ContainerStatus[] | undefined, req: Readonly<PodFailurePolicyOnExitCodesRequirement>): ContainerStatus | undefined {
  for (const cs of statuses ?? []) {
    const t = cs.state?.terminated;
    // A container still terminating has no exit code yet; exit code 0 is never a failure.
    if (!t || t.exitCode === 0) continue;
    if (req.containerName !== undefined && req.containerName !== cs.name) continue;
    const listed = req.values.includes(t.exitCode);
    if ((req.operator === 'In' && listed) || (req.operator === 'NotIn' && !listed)) return cs;
  }
  return undefined;
}
