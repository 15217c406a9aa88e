// Pure parts of taint-based eviction (upstream's NoExecuteTaintManager): which NoExecute taints a
// pod tolerates, and when it must go — now, after its shortest tolerationSeconds, or never.

import type { Taint, Toleration } from 'kubernetes-types/core/v1.js';
import { toleratesTaint } from '../../api/taints.js';

export function noExecuteTaints(taints: readonly Readonly<Taint>[] | undefined): Taint[] {
  return (taints ?? []).filter((t) => t.effect === 'NoExecute');
}

/**
 * Upstream's GetMatchingTolerations: whether every taint is tolerated, and the toleration used
 * for each (the first that matches).
 */
export function matchingTolerations(taints: readonly Readonly<Taint>[], tolerations: readonly Readonly<Toleration>[] | undefined): [allTolerated: boolean, used: Toleration[]] {
  if (taints.length === 0) return [true, []];
  const tols = tolerations ?? [];
  if (tols.length === 0) return [false, []];
  const used: Toleration[] = [];
  for (const taint of taints) {
    const t = tols.find((x) => toleratesTaint(x, taint));
    if (!t) return [false, []];
    used.push(t);
  }
  return [true, used];
}

/** Upstream's getMinTolerationTime in ms: 0 with no tolerations, -1 for "forever". */
export function minTolerationTimeMs(tolerations: readonly Readonly<Toleration>[]): number {
  if (tolerations.length === 0) return 0;
  let min = -1;
  for (const t of tolerations) {
    if (t.tolerationSeconds === undefined || t.tolerationSeconds === null) continue;
    if (t.tolerationSeconds <= 0) return 0;
    if (min === -1 || t.tolerationSeconds < min) min = t.tolerationSeconds;
  }
  return min === -1 ? -1 : min * 1000;
}

export type EvictionDecision = { kind: 'cancel' } | { kind: 'evictNow' } | { kind: 'evictAt'; at: number };

/**
 * What to do with a pod on a node with these taints at `now`: cancel any planned eviction (no
 * taints, or all tolerated forever), evict now (some taint not tolerated), or evict at the end of
 * the shortest tolerationSeconds of the tolerations in use.
 */
export function evictionDecision(taints: readonly Readonly<Taint>[], tolerations: readonly Readonly<Toleration>[] | undefined, now: number): EvictionDecision {
  const nx = noExecuteTaints(taints);
  if (nx.length === 0) return { kind: 'cancel' };
  const [all, used] = matchingTolerations(nx, tolerations);
  if (!all) return { kind: 'evictNow' };
  const min = minTolerationTimeMs(used);
  if (min < 0) return { kind: 'cancel' };
  return { kind: 'evictAt', at: now + min };
}
