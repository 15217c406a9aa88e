// PrioritySort: the default QueueSort — higher `spec.priority` first; among equals, the pod that
// entered the queue earlier (its latest `timestamp`, as upstream's PrioritySort compares).

import type { Pod } from 'kubernetes-types/core/v1.js';
import type { PluginFactory, QueueSortPlugin, QueuedPodInfo } from '../framework/types.js';

export const NAME = 'PrioritySort';

/** A pod's priority; pods admitted without the Priority admission plugin count as 0. */
export function podPriority(pod: Readonly<Pod>): number {
  return pod.spec?.priority ?? 0;
}

class PrioritySortPlugin implements QueueSortPlugin {
  readonly name = NAME;

  less(a: QueuedPodInfo, b: QueuedPodInfo): boolean {
    const pa = podPriority(a.pod);
    const pb = podPriority(b.pod);
    return pa > pb || (pa === pb && a.timestamp < b.timestamp);
  }
}

export const PrioritySort: PluginFactory = {
  name: NAME,
  create: () => new PrioritySortPlugin(),
};
