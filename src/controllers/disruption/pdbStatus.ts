// Pure PodDisruptionBudget arithmetic, as upstream's disruption controller: desired healthy pods
// from minAvailable / maxUnavailable (ints or percentages of the controllers' scale), current
// healthy pods (ready, not being deleted, not recently evicted), and the resulting status.

import type { Condition } from 'kubernetes-types/meta/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { PodDisruptionBudget, PodDisruptionBudgetStatus } from 'kubernetes-types/policy/v1.js';
import { isPodReady } from '../controllerRef.js';

/** Upstream's DeletionTimeout: how long an evicted pod is expected to take to go. */
export const DELETION_TIMEOUT_MS = 2 * 60_000;
export const DISRUPTION_ALLOWED_CONDITION = 'DisruptionAllowed';
export const SUFFICIENT_PODS = 'SufficientPods';
export const INSUFFICIENT_PODS = 'InsufficientPods';
export const SYNC_FAILED = 'SyncFailed';

/** Upstream's intstr.GetScaledValueFromIntOrPercent. */
export function scaledValue(v: number | string, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return v;
  if (!v.endsWith('%')) throw new Error('invalid value for IntOrString: invalid type: string is not a percentage');
  const n = Number(v.slice(0, -1));
  if (!/^-?\d+$/.test(v.slice(0, -1))) throw new Error(`invalid value "${v}": strconv.Atoi: parsing "${v.slice(0, -1)}": invalid syntax`);
  return roundUp ? Math.ceil((n * total) / 100) : Math.floor((n * total) / 100);
}

/**
 * Upstream's getExpectedPodCount given a way to get the controllers' total scale (called only
 * when needed: maxUnavailable, or a percentage minAvailable).
 */
export function expectedPodCount(pdb: Readonly<PodDisruptionBudget>, podCount: number, scale: () => number): { expectedCount: number; desiredHealthy: number } {
  const spec = pdb.spec ?? {};
  if (spec.maxUnavailable !== undefined && spec.maxUnavailable !== null) {
    const expected = scale();
    const maxUnavailable = scaledValue(spec.maxUnavailable, expected, true);
    return { expectedCount: expected, desiredHealthy: Math.max(0, expected - maxUnavailable) };
  }
  if (spec.minAvailable !== undefined && spec.minAvailable !== null) {
    if (typeof spec.minAvailable === 'number') return { expectedCount: podCount, desiredHealthy: spec.minAvailable };
    const expected = scale();
    return { expectedCount: expected, desiredHealthy: scaledValue(spec.minAvailable, expected, true) };
  }
  return { expectedCount: 0, desiredHealthy: 0 };
}

/**
 * Upstream's buildDisruptedPodMap: the evicted pods still expected to go (with the earliest time a
 * recheck is due), and those overdue (to be reported as NotDeleted).
 */
export function disruptedPodMap(pdb: Readonly<PodDisruptionBudget>, pods: readonly Readonly<Pod>[], now: number): { disrupted: Record<string, string>; recheckAt?: number; overdue: Readonly<Pod>[] } {
  const recorded = pdb.status?.disruptedPods;
  const disrupted: Record<string, string> = {};
  const overdue: Readonly<Pod>[] = [];
  let recheckAt: number | undefined;
  if (!recorded) return { disrupted, overdue };
  for (const p of pods) {
    if (p.metadata?.deletionTimestamp) continue;
    const at = recorded[p.metadata?.name ?? ''];
    if (at === undefined) continue;
    const expected = (Date.parse(at) || 0) + DELETION_TIMEOUT_MS;
    if (expected < now) overdue.push(p);
    else {
      if (recheckAt === undefined || expected < recheckAt) recheckAt = expected;
      disrupted[p.metadata!.name!] = at;
    }
  }
  return recheckAt === undefined ? { disrupted, overdue } : { disrupted, recheckAt, overdue };
}

/** Upstream's countHealthyPods: ready, not being deleted, not evicted in the last two minutes. */
export function countHealthyPods(pods: readonly Readonly<Pod>[], disrupted: Readonly<Record<string, string>>, now: number): number {
  let n = 0;
  for (const p of pods) {
    if (p.metadata?.deletionTimestamp) continue;
    const at = disrupted[p.metadata?.name ?? ''];
    if (at !== undefined && (Date.parse(at) || 0) + DELETION_TIMEOUT_MS > now) continue;
    if (isPodReady(p)) n++;
  }
  return n;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/** apimeta.SetStatusCondition: the transition time moves only when the status changes. */
export function setStatusCondition(conditions: readonly Condition[] | undefined, c: Omit<Condition, 'lastTransitionTime'>, now: number): Condition[] {
  const out = [...(conditions ?? [])];
  const i = out.findIndex((x) => x.type === c.type);
  if (i < 0) {
    out.push({ ...c, lastTransitionTime: iso(now) });
    return out;
  }
  const old = out[i]!;
  out[i] = { ...old, ...c, lastTransitionTime: old.status === c.status ? old.lastTransitionTime : iso(now) };
  return out;
}

/** pdbhelper.ConditionsAreUpToDate. */
function conditionsUpToDate(pdb: Readonly<PodDisruptionBudget>): boolean {
  const c = pdb.status?.conditions?.find((x) => x.type === DISRUPTION_ALLOWED_CONDITION);
  if (!c) return false;
  if ((pdb.status?.observedGeneration ?? 0) !== (pdb.metadata?.generation ?? 0)) return false;
  if ((pdb.status?.disruptionsAllowed ?? 0) > 0) return c.status === 'True' && c.reason === SUFFICIENT_PODS;
  return c.status === 'False' && c.reason === INSUFFICIENT_PODS;
}

/**
 * Upstream's updatePdbStatus: the status to write, or undefined when the stored one already
 * says it. disruptionsAllowed is 0 while no pods are expected (a safe start for new budgets).
 */
export function pdbStatus(pdb: Readonly<PodDisruptionBudget>, currentHealthy: number, desiredHealthy: number, expectedCount: number, disrupted: Readonly<Record<string, string>>, now: number): PodDisruptionBudgetStatus | undefined {
  let allowed = currentHealthy - desiredHealthy;
  if (expectedCount <= 0 || allowed <= 0) allowed = 0;
  const s = pdb.status;
  const sameDisrupted = JSON.stringify(Object.entries(s?.disruptedPods ?? {}).sort()) === JSON.stringify(Object.entries(disrupted).sort());
  if (
    s &&
    s.currentHealthy === currentHealthy &&
    s.desiredHealthy === desiredHealthy &&
    s.expectedPods === expectedCount &&
    s.disruptionsAllowed === allowed &&
    sameDisrupted &&
    (s.observedGeneration ?? 0) === (pdb.metadata?.generation ?? 0) &&
    conditionsUpToDate(pdb)
  ) {
    return undefined;
  }
  const observedGeneration = pdb.metadata?.generation ?? 0;
  const status: PodDisruptionBudgetStatus = { currentHealthy, desiredHealthy, expectedPods: expectedCount, disruptionsAllowed: allowed, observedGeneration };
  if (Object.keys(disrupted).length) status.disruptedPods = { ...disrupted };
  status.conditions = setStatusCondition(
    s?.conditions,
    allowed > 0
      ? { type: DISRUPTION_ALLOWED_CONDITION, status: 'True', reason: SUFFICIENT_PODS, message: '', observedGeneration }
      : { type: DISRUPTION_ALLOWED_CONDITION, status: 'False', reason: INSUFFICIENT_PODS, message: '', observedGeneration },
    now,
  );
  return status;
}

/** Upstream's failSafe: no disruptions, and why. */
export function failSafeStatus(pdb: Readonly<PodDisruptionBudget>, err: string, now: number): PodDisruptionBudgetStatus {
  const s = pdb.status ?? { currentHealthy: 0, desiredHealthy: 0, expectedPods: 0, disruptionsAllowed: 0 };
  return {
    ...s,
    disruptionsAllowed: 0,
    conditions: setStatusCondition(s.conditions, { type: DISRUPTION_ALLOWED_CONDITION, status: 'False', reason: SYNC_FAILED, message: err, observedGeneration: s.observedGeneration ?? 0 }, now),
  };
}
