// Pods nominated to a node by preemption (`status.nominatedNodeName`) while their victims terminate.
// Filters count them on that node so lower-priority pods do not take the room freed for them.

import type { Pod } from 'kubernetes-types/core/v1.js';
import { podKey } from './framework/nodeInfo.js';

const NONE: readonly Readonly<Pod>[] = Object.freeze([]);

export class Nominator {
  private readonly byNode = new Map<string, Map<string, Readonly<Pod>>>();
  private readonly nodeOf = new Map<string, string>();

  /** Records `pod` as nominated to `nodeName` (or to its status' nominatedNodeName); clears it if none. */
  set(pod: Readonly<Pod>, nodeName: string | undefined = pod.status?.nominatedNodeName): void {
    this.delete(pod);
    if (!nodeName || pod.spec?.nodeName) return;
    const key = podKey(pod);
    let m = this.byNode.get(nodeName);
    if (!m) this.byNode.set(nodeName, (m = new Map()));
    m.set(key, pod);
    this.nodeOf.set(key, nodeName);
  }

  delete(pod: Readonly<Pod>): void {
    const key = podKey(pod);
    const node = this.nodeOf.get(key);
    if (node === undefined) return;
    this.nodeOf.delete(key);
    const m = this.byNode.get(node);
    m?.delete(key);
    if (m && m.size === 0) this.byNode.delete(node);
  }

  nominatedNodeOf(pod: Readonly<Pod>): string | undefined {
    return this.nodeOf.get(podKey(pod));
  }

  podsFor(nodeName: string): readonly Readonly<Pod>[] {
    const m = this.byNode.get(nodeName);
    return m ? [...m.values()] : NONE;
  }
}
