// Which pods a ReplicaSet deletes first when scaling down: upstream's ActivePodsWithRanks ordering,
// as a pure comparison so it can be tested as a table.

import type { Pod } from 'kubernetes-types/core/v1.js';

const PHASE_RANK: Readonly<Record<string, number>> = { Pending: 0, Unknown: 1, Running: 2 };

function readySince(p: Readonly<Pod>): number | undefined {
  const c = p.status?.conditions?.find((x) => x.type === 'Ready' && x.status === 'True');
  if (!c) return undefined;
  const t = Date.parse(c.lastTransitionTime ?? '');
  return Number.isFinite(t) ? t : 0;
}

function restarts(p: Readonly<Pod>): number {
  return Math.max(0, ...(p.status?.containerStatuses ?? []).map((c) => c.restartCount ?? 0));
}

function deletionCost(p: Readonly<Pod>): number {
  const v = Number(p.metadata?.annotations?.['controller.kubernetes.io/pod-deletion-cost'] ?? 0);
  return Number.isFinite(v) ? v : 0;
}

/**
 * Negative when `a` should be deleted before `b`: unscheduled before scheduled; Pending before
 * Unknown before Running; not ready before ready; lower pod-deletion-cost first; pods doubled up
 * on a node (higher `rank`) first; ready for less time first; more restarts first; newer first.
 */
export function compareForDeletion(a: Readonly<Pod>, b: Readonly<Pod>, rankA = 0, rankB = 0): number {
  const sa = a.spec?.nodeName ? 1 : 0;
  const sb = b.spec?.nodeName ? 1 : 0;
  if (sa !== sb) return sa - sb;
  const pa = PHASE_RANK[a.status?.phase ?? 'Pending'] ?? 0;
  const pb = PHASE_RANK[b.status?.phase ?? 'Pending'] ?? 0;
  if (pa !== pb) return pa - pb;
  const ra = readySince(a);
  const rb = readySince(b);
  if ((ra === undefined) !== (rb === undefined)) return ra === undefined ? -1 : 1;
  const ca = deletionCost(a);
  const cb = deletionCost(b);
  if (ca !== cb) return ca - cb;
  if (rankA !== rankB) return rankB - rankA;
  if (ra !== undefined && rb !== undefined && ra !== rb) return rb - ra;
  const xa = restarts(a);
  const xb = restarts(b);
  if (xa !== xb) return xb - xa;
  const ta = Date.parse(a.metadata?.creationTimestamp ?? '') || 0;
  const tb = Date.parse(b.metadata?.creationTimestamp ?? '') || 0;
  return tb - ta;
}

/**
 * The `n` pods to delete: ranked by how many pods related to the same owner(s) share their node
 * (`related`), so doubled-up nodes give up pods first.
 */
export function podsToDelete(pods: readonly Readonly<Pod>[], related: readonly Readonly<Pod>[], n: number): Readonly<Pod>[] {
  if (n >= pods.length) return [...pods];
  const perNode = new Map<string, number>();
  for (const p of related) {
    const node = p.spec?.nodeName;
    if (node && !p.metadata?.deletionTimestamp) perNode.set(node, (perNode.get(node) ?? 0) + 1);
  }
  const rank = (p: Readonly<Pod>) => (p.spec?.nodeName ? (perNode.get(p.spec.nodeName) ?? 0) : 0);
  return [...pods].sort((a, b) => compareForDeletion(a, b, rank(a), rank(b))).slice(0, n);
}
