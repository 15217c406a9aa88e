// Taints and tolerations as upstream's core/v1 helpers match them; shared by the scheduler's
// TaintToleration and NodeUnschedulable plugins and by controllers that honour taints.

import type { Taint, Toleration } from 'kubernetes-types/core/v1.js';

/**
 * Whether one toleration tolerates `taint`, as upstream's Toleration.ToleratesTaint:
 * an empty effect matches every effect, an empty key matches every key (API validation allows
 * that only with `Exists`), operator `Exists` ignores the value, `Equal` (or none) compares it.
 */
export function toleratesTaint(toleration: Readonly<Toleration>, taint: Readonly<Taint>): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  switch (toleration.operator ?? '') {
    case '':
    case 'Equal':
      return (toleration.value ?? '') === (taint.value ?? '');
    case 'Exists':
      return true;
    default:
      return false;
  }
}

/** Whether any of `tolerations` tolerates `taint`. */
export function tolerationsTolerateTaint(tolerations: readonly Readonly<Toleration>[] | undefined, taint: Readonly<Taint>): boolean {
  return (tolerations ?? []).some((t) => toleratesTaint(t, taint));
}

/** The taints that keep pods off a node at scheduling time: NoSchedule and NoExecute. */
export function isDoNotScheduleTaint(taint: Readonly<Taint>): boolean {
  return taint.effect === 'NoSchedule' || taint.effect === 'NoExecute';
}

/**
 * The first taint (in the node's order) that passes `filter` and that no toleration tolerates,
 * as upstream's FindMatchingUntoleratedTaint; undefined when every such taint is tolerated.
 */
export function findMatchingUntoleratedTaint(
  taints: readonly Readonly<Taint>[] | undefined,
  tolerations: readonly Readonly<Toleration>[] | undefined,
  filter: (taint: Readonly<Taint>) => boolean = () => true,
): Readonly<Taint> | undefined {
  return (taints ?? []).find((taint) => filter(taint) && !tolerationsTolerateTaint(tolerations, taint));
}
