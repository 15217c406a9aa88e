// SchedulingGates: a pod with `spec.schedulingGates` stays out of the active queue until every gate
// is removed; an update that removes the last gate brings it back.

import type { Pod } from 'kubernetes-types/core/v1.js';
import {
  ActionType,
  unresolvable,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type MaybeStatus,
  type PluginFactory,
  type PreEnqueuePlugin,
  type QueueingHint,
} from '../framework/types.js';

export const NAME = 'SchedulingGates';

/** The reason, naming the gates as upstream prints a Go slice: `waiting for scheduling gates: [a b]`. */
export function waitingForGatesReason(gates: readonly string[]): string {
  return `waiting for scheduling gates: [${gates.join(' ')}]`;
}

class SchedulingGatesPlugin implements PreEnqueuePlugin, EnqueueExtensions {
  readonly name = NAME;

  preEnqueue(pod: Readonly<Pod>): MaybeStatus {
    const gates = pod.spec?.schedulingGates ?? [];
    if (gates.length === 0) return undefined;
    return unresolvable(waitingForGatesReason(gates.map((g) => g.name)));
  }

  eventsToRegister(): readonly ClusterEventWithHint[] {
    return [{ event: { resource: 'UnscheduledPod', actionType: ActionType.UpdatePodSchedulingGatesEliminated }, hint: isSchedulableAfterGatesRemoved }];
  }
}

/** Only the gated pod's own update can ungate it. */
function isSchedulableAfterGatesRemoved(pod: Readonly<Pod>, _oldObj: unknown, newObj: unknown): QueueingHint {
  const modified = newObj as Readonly<Pod> | undefined;
  return modified?.metadata?.uid === pod.metadata?.uid ? 'Queue' : 'QueueSkip';
}

export const SchedulingGates: PluginFactory = {
  name: NAME,
  create: () => new SchedulingGatesPlugin(),
};
