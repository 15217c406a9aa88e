// "No node fits": the diagnosis of a failed cycle and upstream's message for it, as users read it in
// `kubectl describe pod` (`0/5 nodes are available: 2 Insufficient memory, 3 node(s) had untolerated
// taint {…}. preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling..`;
// the doubled period is upstream's too).

import type { Status } from './framework/types.js';

export interface Diagnosis {
  /** Per node, the status that rejected the pod there. */
  nodeToStatus: Map<string, Status>;
  /** Plugins that rejected the pod (their events move it back to the queue). */
  unschedulablePlugins: Set<string>;
  pendingPlugins: Set<string>;
  /** Set when PreFilter rejected the pod for every node at once. */
  preFilterMsg?: string;
  postFilterMsg?: string;
}

export class FitError extends Error {
  override readonly name = 'FitError';
  constructor(
    readonly numAllNodes: number,
    readonly diagnosis: Diagnosis,
  ) {
    super('');
    // The message follows the diagnosis, which PostFilter completes after the error is raised.
    Object.defineProperty(this, 'message', { get: () => fitErrorMessage(this.numAllNodes, this.diagnosis) });
  }
}

export function noNodeAvailable(n: number): string {
  return `0/${n} nodes are available`;
}

/** Reasons counted over nodes and sorted as upstream prints them: `2 Insufficient cpu, 3 node(s)…`. */
export function reasonHistogram(statuses: Iterable<Status>): string[] {
  const counts = new Map<string, number>();
  for (const s of statuses) for (const r of s.reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  return [...counts].map(([r, n]) => `${n} ${r}`).sort();
}

export function fitErrorMessage(numAllNodes: number, d: Pick<Diagnosis, 'nodeToStatus' | 'preFilterMsg' | 'postFilterMsg'>): string {
  let msg = `${noNodeAvailable(numAllNodes)}:`;
  if (d.preFilterMsg) {
    msg += ` ${d.preFilterMsg}.`;
  } else {
    const hist = reasonHistogram(d.nodeToStatus.values());
    if (hist.length) msg += ` ${hist.join(', ')}.`;
  }
  if (d.postFilterMsg) msg += ` ${d.postFilterMsg}.`;
  return msg;
}
