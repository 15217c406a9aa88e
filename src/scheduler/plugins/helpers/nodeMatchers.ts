// The node-inclusion checks PodTopologySpread's nodeAffinityPolicy/nodeTaintsPolicy need, over the
// one node-selector and toleration implementation in src/api.

import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { podMatchesNodeSelectorAndAffinityTerms } from '../../../api/nodeSelector.js';
import { findMatchingUntoleratedTaint, isDoNotScheduleTaint } from '../../../api/taints.js';

/** The pod's `nodeSelector` and required node affinity, as upstream's nodeaffinity.GetRequiredNodeAffinity. */
export function podRequiredNodeAffinityMatches(pod: Readonly<Pod>, node: Readonly<Node>): boolean {
  return podMatchesNodeSelectorAndAffinityTerms(pod, node);
}

/** Whether the node has a NoSchedule/NoExecute taint the pod does not tolerate. */
export function hasUntoleratedNoScheduleTaint(node: Readonly<Node>, pod: Readonly<Pod>): boolean {
  return findMatchingUntoleratedTaint(node.spec?.taints, pod.spec?.tolerations, isDoNotScheduleTaint) !== undefined;
}
