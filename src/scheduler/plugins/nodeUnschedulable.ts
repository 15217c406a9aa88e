// NodeUnschedulable: cordoned nodes (`spec.unschedulable`) take no new pods, except pods that
// tolerate the `node.kubernetes.io/unschedulable:NoSchedule` taint (DaemonSet pods do).

import type { Node, Pod, Taint, Toleration } from 'kubernetes-types/core/v1.js';
import type { NodeInfo } from '../framework/nodeInfo.js';
import type { CycleState } from '../framework/cycleState.js';
import {
  ActionType,
  errorStatus,
  unresolvable,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type MaybeStatus,
  type PluginFactory,
  type QueueingHint,
} from '../framework/types.js';
import { tolerationsTolerateTaint } from '../../api/taints.js';

export const NAME = 'NodeUnschedulable';
export const REASON_UNSCHEDULABLE = 'node(s) were unschedulable';

/** The taint a cordoned node is treated as having. */
export const UNSCHEDULABLE_TAINT: Readonly<Taint> = Object.freeze({ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' });

function toleratesUnschedulable(tolerations: readonly Readonly<Toleration>[] | undefined): boolean {
  return tolerationsTolerateTaint(tolerations, UNSCHEDULABLE_TAINT);
}

class NodeUnschedulablePlugin implements FilterPlugin, EnqueueExtensions {
  readonly name = NAME;

  filter(_state: CycleState, pod: Readonly<Pod>, nodeInfo: NodeInfo): MaybeStatus {
    const node = nodeInfo.node;
    if (!node) return errorStatus('node not found');
    if (!node.spec?.unschedulable) return undefined;
    return toleratesUnschedulable(pod.spec?.tolerations) ? undefined : unresolvable(REASON_UNSCHEDULABLE);
  }

  eventsToRegister(): readonly ClusterEventWithHint[] {
    return [
      // Cordoning and uncordoning arrive as taint updates.
      { event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeTaint }, hint: isSchedulableAfterNodeChange },
      { event: { resource: 'UnscheduledPod', actionType: ActionType.UpdatePodTolerations }, hint: isSchedulableAfterPodTolerationChange },
    ];
  }
}

/** A node that became (or was added) schedulable helps. */
function isSchedulableAfterNodeChange(_pod: Readonly<Pod>, oldObj: unknown, newObj: unknown): QueueingHint {
  const original = oldObj as Readonly<Node> | undefined;
  const modified = newObj as Readonly<Node> | undefined;
  if (!modified) return 'Queue';
  const wasSchedulable = original !== undefined && !original.spec?.unschedulable;
  return !wasSchedulable && !modified.spec?.unschedulable ? 'Queue' : 'QueueSkip';
}

/** The pod itself gaining the toleration helps. */
function isSchedulableAfterPodTolerationChange(pod: Readonly<Pod>, oldObj: unknown, newObj: unknown): QueueingHint {
  const original = oldObj as Readonly<Pod> | undefined;
  const modified = newObj as Readonly<Pod> | undefined;
  if (!modified || modified.metadata?.uid !== pod.metadata?.uid) return 'QueueSkip';
  return !toleratesUnschedulable(original?.spec?.tolerations) && toleratesUnschedulable(modified.spec?.tolerations) ? 'Queue' : 'QueueSkip';
}

export const NodeUnschedulable: PluginFactory = {
  name: NAME,
  create: () => new NodeUnschedulablePlugin(),
};
