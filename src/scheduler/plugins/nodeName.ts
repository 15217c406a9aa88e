// NodeName: a pod that names its node (`spec.nodeName`) may only go there. PreFilter narrows the
// candidates to that one node; Filter rejects any other.

import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import type { NodeInfo } from '../framework/nodeInfo.js';
import type { CycleState } from '../framework/cycleState.js';
import {
  ActionType,
  skip,
  unresolvable,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type MaybeStatus,
  type PluginFactory,
  type PreFilterPlugin,
  type PreFilterResult,
  type QueueingHint,
  type Status,
} from '../framework/types.js';

export const NAME = 'NodeName';
export const REASON_NODE_NAME = "node(s) didn't match the requested node name";

/** Whether `pod` may run on the node named `nodeName` (true when the pod names no node). */
export function fitsNodeName(pod: Readonly<Pod>, nodeName: string): boolean {
  const wanted = pod.spec?.nodeName ?? '';
  return wanted === '' || wanted === nodeName;
}

class NodeNamePlugin implements PreFilterPlugin, FilterPlugin, EnqueueExtensions {
  readonly name = NAME;

  preFilter(_state: CycleState, pod: Readonly<Pod>): { result?: PreFilterResult; status?: Status } {
    const wanted = pod.spec?.nodeName ?? '';
    if (wanted === '') return { status: skip() };
    return { result: { nodeNames: new Set([wanted]) } };
  }

  filter(_state: CycleState, pod: Readonly<Pod>, nodeInfo: NodeInfo): MaybeStatus {
    return fitsNodeName(pod, nodeInfo.name) ? undefined : unresolvable(REASON_NODE_NAME);
  }

  eventsToRegister(): readonly ClusterEventWithHint[] {
    return [{ event: { resource: 'Node', actionType: ActionType.Add }, hint: isSchedulableAfterNodeAdd }];
  }
}

/** Only the arrival of the node the pod names helps. */
function isSchedulableAfterNodeAdd(pod: Readonly<Pod>, _oldObj: unknown, newObj: unknown): QueueingHint {
  const added = newObj as Readonly<Node> | undefined;
  return fitsNodeName(pod, added?.metadata?.name ?? '') ? 'Queue' : 'QueueSkip';
}

export const NodeName: PluginFactory = {
  name: NAME,
  create: () => new NodeNamePlugin(),
};
