// The scheduler's view of the cluster: every node with the pods on it, including pods it has
// *assumed* onto a node (decided, binding in flight) so that the next cycle already counts them.
// A scheduling cycle runs synchronously on one turn of the event loop, so the cache's NodeInfos
// serve as the cycle's snapshot directly; what changes between cycles is tracked by a dirty flag
// and the derived lists are rebuilt only then.

import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { NodeInfo, podKey, type ImageStateSummary } from './framework/nodeInfo.js';
import type { NodeInfoLister } from './framework/types.js';

interface PodState {
  pod: Readonly<Pod>;
  nodeName: string;
  assumed: boolean;
  /** Binding finished; the informer's confirmation is awaited (or the deadline passes). */
  bindingFinished: boolean;
  deadline?: number;
}

export class SchedulerCache implements NodeInfoLister {
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly pods = new Map<string, PodState>();
  /** image name → node names holding it, for ImageLocality's spread. */
  private readonly imageNodes = new Map<string, Set<string>>();
  private listCache: NodeInfo[] = [];
  private affinityList: NodeInfo[] = [];
  private antiAffinityList: NodeInfo[] = [];
  private dirty = true;

  constructor(private readonly now: () => number = Date.now) {}

  // --- NodeInfoLister (the cycle's snapshot) ---

  list(): readonly NodeInfo[] {
    this.refresh();
    return this.listCache;
  }

  get(nodeName: string): NodeInfo | undefined {
    const n = this.nodes.get(nodeName);
    return n?.node ? n : undefined;
  }

  havePodsWithAffinityList(): readonly NodeInfo[] {
    this.refresh();
    return this.affinityList;
  }

  havePodsWithRequiredAntiAffinityList(): readonly NodeInfo[] {
    this.refresh();
    return this.antiAffinityList;
  }

  private refresh(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const all = [...this.nodes.values()].filter((n) => n.node !== undefined);
    this.listCache = all;
    this.affinityList = all.filter((n) => n.podsWithAffinity.length > 0);
    this.antiAffinityList = all.filter((n) => n.podsWithRequiredAntiAffinity.length > 0);
  }

  get nodeCount(): number {
    return this.list().length;
  }

  // --- nodes ---

  addOrUpdateNode(node: Readonly<Node>): void {
    const name = node.metadata?.name ?? '';
    let ni = this.nodes.get(name);
    if (!ni) this.nodes.set(name, (ni = new NodeInfo()));
    const oldImages = ni.node ? imageNames(ni.node) : [];
    ni.setNode(node);
    this.updateImages(name, ni, oldImages, imageNames(node), node);
    this.dirty = true;
  }

  removeNode(node: Readonly<Node>): void {
    const name = node.metadata?.name ?? '';
    const ni = this.nodes.get(name);
    if (!ni) return;
    this.updateImages(name, ni, ni.node ? imageNames(ni.node) : [], [], undefined);
    // Pods still bound to it keep an imaginary node until they are deleted, as upstream.
    if (ni.pods.length === 0) this.nodes.delete(name);
    else ni.node = undefined;
    this.dirty = true;
  }

  private updateImages(name: string, ni: NodeInfo, before: string[], after: string[], node: Readonly<Node> | undefined): void {
    for (const img of before) {
      const s = this.imageNodes.get(img);
      s?.delete(name);
      if (s && s.size === 0) this.imageNodes.delete(img);
    }
    for (const img of after) {
      let s = this.imageNodes.get(img);
      if (!s) this.imageNodes.set(img, (s = new Set()));
      s.add(name);
    }
    // Image states share counters across nodes through `numNodes` getters.
    const states = new Map<string, ImageStateSummary>();
    for (const image of node?.status?.images ?? []) {
      for (const n of image.names ?? []) {
        const holders = this.imageNodes;
        states.set(n, {
          size: image.sizeBytes ?? 0,
          get numNodes() {
            return holders.get(n)?.size ?? 0;
          },
        });
      }
    }
    ni.imageStates = states;
  }

  // --- pods ---

  /** The scheduler decided `pod` goes to `nodeName`; counts it there until bound or forgotten. */
  assumePod(pod: Readonly<Pod>, nodeName: string): void {
    const key = podKey(pod);
    if (this.pods.has(key)) throw new Error(`pod ${key} is in the cache, so can't be assumed`);
    const assumed: Pod = { ...pod, spec: { ...pod.spec!, nodeName } };
    this.placePod(assumed, nodeName);
    this.pods.set(key, { pod: assumed, nodeName, assumed: true, bindingFinished: false });
  }

  /** Binding was sent; the pod stays assumed until the informer reports it bound. */
  finishBinding(pod: Readonly<Pod>, ttlMs = 0): void {
    const s = this.pods.get(podKey(pod));
    if (!s?.assumed) return;
    s.bindingFinished = true;
    if (ttlMs > 0) s.deadline = this.now() + ttlMs;
  }

  /** Binding failed: the assumed pod no longer counts. */
  forgetPod(pod: Readonly<Pod>): void {
    const key = podKey(pod);
    const s = this.pods.get(key);
    if (!s?.assumed) return;
    this.unplacePod(s.pod, s.nodeName);
    this.pods.delete(key);
  }

  isAssumed(pod: Readonly<Pod>): boolean {
    return this.pods.get(podKey(pod))?.assumed ?? false;
  }

  /** The informer saw a pod bound to a node (confirming an assumed one, or another scheduler's). */
  addOrUpdatePod(pod: Readonly<Pod>): void {
    const nodeName = pod.spec?.nodeName;
    if (!nodeName) return;
    const key = podKey(pod);
    const s = this.pods.get(key);
    if (s) this.unplacePod(s.pod, s.nodeName);
    if (isTerminal(pod)) {
      this.pods.delete(key);
      return;
    }
    this.placePod(pod, nodeName);
    this.pods.set(key, { pod, nodeName, assumed: false, bindingFinished: true });
  }

  removePod(pod: Readonly<Pod>): void {
    const key = podKey(pod);
    const s = this.pods.get(key);
    if (!s) return;
    this.unplacePod(s.pod, s.nodeName);
    this.pods.delete(key);
  }

  /** Drops assumed pods whose binding finished long ago without the informer confirming it. */
  cleanupExpiredAssumedPods(): void {
    const now = this.now();
    for (const [key, s] of this.pods) {
      if (s.assumed && s.bindingFinished && s.deadline !== undefined && s.deadline < now) {
        this.unplacePod(s.pod, s.nodeName);
        this.pods.delete(key);
      }
    }
  }

  private placePod(pod: Readonly<Pod>, nodeName: string): void {
    let ni = this.nodes.get(nodeName);
    if (!ni) this.nodes.set(nodeName, (ni = new NodeInfo()));
    ni.addPod(pod);
    if (hasPodAffinity(pod)) this.dirty = true;
  }

  private unplacePod(pod: Readonly<Pod>, nodeName: string): void {
    const ni = this.nodes.get(nodeName);
    if (!ni) return;
    ni.removePod(pod);
    if (!ni.node && ni.pods.length === 0) this.nodes.delete(nodeName);
    if (hasPodAffinity(pod)) this.dirty = true;
  }

  /** Counts for debugging and metrics. */
  stats(): { nodes: number; pods: number; assumed: number } {
    let assumed = 0;
    for (const s of this.pods.values()) if (s.assumed) assumed++;
    return { nodes: this.nodeCount, pods: this.pods.size, assumed };
  }
}

function hasPodAffinity(pod: Readonly<Pod>): boolean {
  const a = pod.spec?.affinity;
  return a?.podAffinity !== undefined || a?.podAntiAffinity !== undefined;
}

function imageNames(node: Readonly<Node>): string[] {
  return (node.status?.images ?? []).flatMap((i) => i.names ?? []);
}

/** Succeeded or failed pods hold no resources. */
export function isTerminal(pod: Readonly<Pod>): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}
