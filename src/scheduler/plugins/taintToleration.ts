// TaintToleration: Filter keeps pods off nodes with a NoSchedule/NoExecute taint they do not
// tolerate; Score prefers nodes with fewer untolerated PreferNoSchedule taints.

import type { Node, Pod, Taint, Toleration } from 'kubernetes-types/core/v1.js';
import type { NodeInfo } from '../framework/nodeInfo.js';
import type { CycleState, StateData } from '../framework/cycleState.js';
import {
  ActionType,
  MAX_NODE_SCORE,
  errorStatus,
  unresolvable,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type MaybeStatus,
  type NodeScore,
  type PluginFactory,
  type PreScorePlugin,
  type QueueingHint,
  type ScorePlugin,
  type Status,
} from '../framework/types.js';
import { findMatchingUntoleratedTaint, isDoNotScheduleTaint, tolerationsTolerateTaint } from '../../api/taints.js';
import { defaultNormalizeScore } from './normalizeScore.js';

export { toleratesTaint, tolerationsTolerateTaint } from '../../api/taints.js';

export const NAME = 'TaintToleration';
const PRE_SCORE_STATE_KEY = `PreScore${NAME}`;

/** The reason for the first untolerated taint, as upstream prints it: `{key: value}` (`{a: }` without a value). */
export function untoleratedTaintReason(taint: Readonly<Taint>): string {
  return `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`;
}

class PreScoreState implements StateData {
  constructor(readonly tolerationsPreferNoSchedule: readonly Readonly<Toleration>[]) {}
  clone(): StateData {
    return this;
  }
}

/** Tolerations that can tolerate a PreferNoSchedule taint (that effect, or any effect). */
function preferNoScheduleTolerations(tolerations: readonly Readonly<Toleration>[] | undefined): Readonly<Toleration>[] {
  return (tolerations ?? []).filter((t) => !t.effect || t.effect === 'PreferNoSchedule');
}

/** How many of the node's PreferNoSchedule taints none of `tolerations` tolerates. */
export function countIntolerableTaintsPreferNoSchedule(taints: readonly Readonly<Taint>[] | undefined, tolerations: readonly Readonly<Toleration>[]): number {
  let n = 0;
  for (const taint of taints ?? []) if (taint.effect === 'PreferNoSchedule' && !tolerationsTolerateTaint(tolerations, taint)) n++;
  return n;
}

function untolerated(node: Readonly<Node>, pod: Readonly<Pod>): Readonly<Taint> | undefined {
  return findMatchingUntoleratedTaint(node.spec?.taints, pod.spec?.tolerations, isDoNotScheduleTaint);
}

class TaintTolerationPlugin implements FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = NAME;

  filter(_state: CycleState, pod: Readonly<Pod>, nodeInfo: NodeInfo): MaybeStatus {
    const node = nodeInfo.node;
    if (!node) return errorStatus('node not found');
    const taint = untolerated(node, pod);
    return taint ? unresolvable(untoleratedTaintReason(taint)) : undefined;
  }

  preScore(state: CycleState, pod: Readonly<Pod>, nodes: readonly NodeInfo[]): MaybeStatus {
    if (nodes.length === 0) return undefined;
    state.write(PRE_SCORE_STATE_KEY, new PreScoreState(preferNoScheduleTolerations(pod.spec?.tolerations)));
    return undefined;
  }

  score(state: CycleState, _pod: Readonly<Pod>, nodeInfo: NodeInfo): number | Status {
    const node = nodeInfo.node;
    if (!node) return errorStatus('node not found');
    const s = state.read<PreScoreState>(PRE_SCORE_STATE_KEY);
    if (!s) return errorStatus(`error reading "${PRE_SCORE_STATE_KEY}" from cycleState: not found`);
    return countIntolerableTaintsPreferNoSchedule(node.spec?.taints, s.tolerationsPreferNoSchedule);
  }

  normalizeScore(_state: CycleState, _pod: Readonly<Pod>, scores: NodeScore[]): MaybeStatus {
    // Fewer intolerable taints is better.
    defaultNormalizeScore(MAX_NODE_SCORE, true, scores);
    return undefined;
  }

  eventsToRegister(): readonly ClusterEventWithHint[] {
    return [
      { event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeTaint }, hint: isSchedulableAfterNodeChange },
      { event: { resource: 'UnscheduledPod', actionType: ActionType.UpdatePodTolerations }, hint: isSchedulableAfterPodTolerationChange },
    ];
  }
}

/** A node whose last blocking taint went away (or a new node without one) helps. */
function isSchedulableAfterNodeChange(pod: Readonly<Pod>, oldObj: unknown, newObj: unknown): QueueingHint {
  const original = oldObj as Readonly<Node> | undefined;
  const modified = newObj as Readonly<Node> | undefined;
  if (!modified) return 'Queue';
  const wasUntolerated = original === undefined || untolerated(original, pod) !== undefined;
  return wasUntolerated && untolerated(modified, pod) === undefined ? 'Queue' : 'QueueSkip';
}

/** Tolerations can only be added to a pod; its own update may make it tolerate a taint. */
function isSchedulableAfterPodTolerationChange(pod: Readonly<Pod>, _oldObj: unknown, newObj: unknown): QueueingHint {
  const modified = newObj as Readonly<Pod> | undefined;
  return modified?.metadata?.uid === pod.metadata?.uid ? 'Queue' : 'QueueSkip';
}

export const TaintToleration: PluginFactory = {
  name: NAME,
  create: () => new TaintTolerationPlugin(),
};
