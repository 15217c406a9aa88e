// Pure rollout arithmetic of the Deployment controller (upstream deployment/util and the
// decisions of rolling.go, recreate.go, sync.go and progress.go): fenceposts, how many replicas the
// new ReplicaSet may get, how far old ones may shrink, proportional scaling, status and conditions.

import type { Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetCondition } from 'kubernetes-types/apps/v1.js';
import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';
export const DEPRECATED_ROLLBACK_TO = 'deprecated.deployment.rollback.to';
export const LAST_APPLIED_CONFIG_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
/** Upstream's cap on the revision-history annotation. */
export const MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000;

// Condition reasons (upstream deployment/util).
export const NEW_RS_REASON = 'NewReplicaSetCreated';
export const FOUND_NEW_RS_REASON = 'FoundNewReplicaSet';
export const RS_UPDATED_REASON = 'ReplicaSetUpdated';
export const NEW_RS_AVAILABLE_REASON = 'NewReplicaSetAvailable';
export const TIMED_OUT_REASON = 'ProgressDeadlineExceeded';
export const PAUSED_DEPLOY_REASON = 'DeploymentPaused';
export const RESUMED_DEPLOY_REASON = 'DeploymentResumed';
export const FAILED_RS_CREATE_REASON = 'ReplicaSetCreateError';
export const MINIMUM_REPLICAS_AVAILABLE = 'MinimumReplicasAvailable';
export const MINIMUM_REPLICAS_UNAVAILABLE = 'MinimumReplicasUnavailable';

const MAX_INT32 = 2147483647;

type RS = Readonly<ReplicaSet>;

export const specReplicas = (o: { spec?: { replicas?: number | undefined } | undefined } | undefined): number => o?.spec?.replicas ?? 1;
/** A ReplicaSet's spec.replicas; nil counts as 0 in the rollout sums (upstream dereferences a defaulted value). */
const rsReplicas = (rs: RS): number => rs.spec?.replicas ?? 0;

/** intstr.GetScaledValueFromIntOrPercent: ints as is, "N%" of total rounded up or down. */
export function scaledValue(v: number | string | undefined, total: number, roundUp: boolean): number {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (!v.endsWith('%')) throw new Error(`invalid value for IntOrString: invalid type: string is not a percentage`);
  const pct = Number.parseInt(v.slice(0, -1), 10);
  if (!Number.isFinite(pct) || !/^[+-]?\d+$/.test(v.slice(0, -1))) throw new Error(`invalid value "${v}": strconv.Atoi: parsing "${v.slice(0, -1)}": invalid syntax`);
  return roundUp ? Math.ceil((pct * total) / 100) : Math.floor((pct * total) / 100);
}

export const isRollingUpdate = (d: Readonly<Deployment>): boolean => (d.spec?.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';

/** ResolveFenceposts: surge rounds up, unavailable down; both 0 means unavailable 1. */
export function resolveFenceposts(maxSurge: number | string | undefined, maxUnavailable: number | string | undefined, desired: number): [surge: number, unavailable: number] {
  const surge = scaledValue(maxSurge ?? 0, desired, true);
  let unavailable = scaledValue(maxUnavailable ?? 0, desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return [surge, unavailable];
}

export function maxSurge(d: Readonly<Deployment>): number {
  if (!isRollingUpdate(d)) return 0;
  const ru = d.spec?.strategy?.rollingUpdate;
  return resolveFenceposts(ru?.maxSurge, ru?.maxUnavailable, specReplicas(d))[0];
}

export function maxUnavailable(d: Readonly<Deployment>): number {
  const replicas = specReplicas(d);
  if (!isRollingUpdate(d) || replicas === 0) return 0;
  const ru = d.spec?.strategy?.rollingUpdate;
  const u = resolveFenceposts(ru?.maxSurge, ru?.maxUnavailable, replicas)[1];
  return Math.min(u, replicas);
}

export const sumSpecReplicas = (rss: readonly (RS | undefined)[]): number => rss.reduce((n, rs) => n + (rs ? rsReplicas(rs) : 0), 0);
export const sumStatusReplicas = (rss: readonly (RS | undefined)[]): number => rss.reduce((n, rs) => n + (rs?.status?.replicas ?? 0), 0);
export const sumReadyReplicas = (rss: readonly (RS | undefined)[]): number => rss.reduce((n, rs) => n + (rs?.status?.readyReplicas ?? 0), 0);
export const sumAvailableReplicas = (rss: readonly (RS | undefined)[]): number => rss.reduce((n, rs) => n + (rs?.status?.availableReplicas ?? 0), 0);

export const filterActive = (rss: readonly (RS | undefined)[]): RS[] => rss.filter((rs): rs is RS => !!rs && rsReplicas(rs) > 0);

const created = (rs: RS): number => Date.parse(rs.metadata?.creationTimestamp ?? '') || 0;
/** ReplicaSetsByCreationTimestamp: oldest first, then by name. */
export function byCreation(a: RS, b: RS): number {
  const d = created(a) - created(b);
  if (d !== 0) return d;
  const an = a.metadata?.name ?? '';
  const bn = b.metadata?.name ?? '';
  return an < bn ? -1 : an > bn ? 1 : 0;
}
/** ReplicaSetsBySizeNewer: larger first, newer first among equals. */
export const bySizeNewer = (a: RS, b: RS): number => rsReplicas(b) - rsReplicas(a) || byCreation(b, a);
/** ReplicaSetsBySizeOlder: larger first, older first among equals. */
export const bySizeOlder = (a: RS, b: RS): number => rsReplicas(b) - rsReplicas(a) || byCreation(a, b);

/** The revision annotation as a number (0 when absent or not a number). */
export function revisionOf(obj: { metadata?: { annotations?: Record<string, string> | undefined } | undefined } | undefined): number {
  const v = obj?.metadata?.annotations?.[REVISION_ANNOTATION];
  if (v === undefined || !/^[+-]?\d+$/.test(v)) return 0;
  return Number(v);
}
export const maxRevision = (rss: readonly RS[]): number => rss.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
export const byRevision = (a: RS, b: RS): number => revisionOf(a) - revisionOf(b) || byCreation(a, b);

/** Templates equal once the pod-template-hash label is ignored (EqualIgnoreHash, nil = empty). */
export function equalIgnoreHash(a: Readonly<PodTemplateSpec> | undefined, b: Readonly<PodTemplateSpec> | undefined): boolean {
  const strip = (t: Readonly<PodTemplateSpec> | undefined) => {
    const c = structuredClone(t ?? {}) as PodTemplateSpec;
    if (c.metadata?.labels) delete c.metadata.labels[POD_TEMPLATE_HASH_LABEL];
    return canonical(c);
  };
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}

/** Key-sorted copy without nulls and empty lists/maps (apimachinery's semantic equality treats nil and empty alike). */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.length ? v.map(canonical) : undefined;
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const c = canonical((v as Record<string, unknown>)[k]);
      if (c !== undefined) out[k] = c;
    }
    return Object.keys(out).length ? out : undefined;
  }
  return v === null ? undefined : v;
}

/** FindNewReplicaSet: the oldest ReplicaSet whose template equals the deployment's. */
export function findNewReplicaSet(d: Readonly<Deployment>, rss: readonly RS[]): RS | undefined {
  return [...rss].sort(byCreation).find((rs) => equalIgnoreHash(rs.spec?.template, d.spec?.template));
}

/** FindOldReplicaSets: [old ones with replicas, all old ones]. */
export function findOldReplicaSets(d: Readonly<Deployment>, rss: readonly RS[]): [RS[], RS[]] {
  const newRS = findNewReplicaSet(d, rss);
  const all = rss.filter((rs) => !newRS || rs.metadata?.uid !== newRS.metadata?.uid);
  return [all.filter((rs) => rsReplicas(rs) !== 0), all];
}

/** NewRSNewReplicas: how big the new ReplicaSet may be now. */
export function newRSNewReplicas(d: Readonly<Deployment>, allRSs: readonly RS[], newRS: RS): number {
  const replicas = specReplicas(d);
  if (!isRollingUpdate(d)) return replicas;
  const surge = scaledValue(d.spec?.strategy?.rollingUpdate?.maxSurge ?? 0, replicas, true);
  const current = sumSpecReplicas(allRSs);
  const maxTotal = replicas + surge;
  if (current >= maxTotal) return rsReplicas(newRS);
  const up = Math.min(maxTotal - current, replicas - rsReplicas(newRS));
  return rsReplicas(newRS) + up;
}

/** IsSaturated: the new ReplicaSet has all replicas, desired annotation agrees, and all are available. */
export function isSaturated(d: Readonly<Deployment>, rs: RS | undefined): boolean {
  if (!rs) return false;
  const desired = rs.metadata?.annotations?.[DESIRED_REPLICAS_ANNOTATION];
  if (desired === undefined || !/^[+-]?\d+$/.test(desired)) return false;
  const replicas = specReplicas(d);
  return rsReplicas(rs) === replicas && Number(desired) === replicas && (rs.status?.availableReplicas ?? 0) === replicas;
}

/** FindActiveOrLatest: the only active ReplicaSet, the newest one if none is active, else none. */
export function findActiveOrLatest(newRS: RS | undefined, oldRSs: readonly RS[]): RS | undefined {
  if (!newRS && oldRSs.length === 0) return undefined;
  const olds = [...oldRSs].sort((a, b) => byCreation(b, a));
  const active = filterActive([...olds, newRS]);
  if (active.length === 0) return newRS ?? olds[0];
  if (active.length === 1) return active[0];
  return undefined;
}

function annotationInt(rs: RS, key: string): number | undefined {
  const v = rs.metadata?.annotations?.[key];
  return v !== undefined && /^[+-]?\d+$/.test(v) ? Number(v) : undefined;
}

/** getReplicaSetFraction: this ReplicaSet's share of a resize, relative to the max-replicas it was sized for. */
function replicaSetFraction(rs: RS, d: Readonly<Deployment>): number {
  const replicas = specReplicas(d);
  if (replicas === 0) return -rsReplicas(rs);
  const maxNow = replicas + maxSurge(d);
  let before = annotationInt(rs, MAX_REPLICAS_ANNOTATION);
  if (!before) before = d.status?.replicas ?? 0;
  if (!before) return 0;
  // math.Round: halves away from zero.
  const size = (rsReplicas(rs) * maxNow) / before;
  return Math.sign(size) * Math.round(Math.abs(size)) - rsReplicas(rs);
}

/** GetReplicaSetProportion: a share bounded by what is left to add (or remove). */
export function replicaSetProportion(rs: RS, d: Readonly<Deployment>, toAdd: number, added: number): number {
  if (rsReplicas(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  const fraction = replicaSetFraction(rs, d);
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

export interface ScaleStep {
  rs: RS;
  replicas: number;
}

/**
 * The `scale` decision of sync.go for a resize (kubectl scale) or a paused deployment: the one
 * active ReplicaSet takes the whole size; a saturated new one makes old ones go to 0; otherwise a
 * rolling deployment spreads the difference proportionally (leftovers to the largest). Returns the
 * sizes to write, in order. `proportional` steps are written even at the same size when their
 * desired/max-replicas annotations are stale (upstream's scaleReplicaSet), with `operation` in the
 * event; other steps only when the size changes (scaleReplicaSetAndRecordEvent).
 */
export function planScale(d: Readonly<Deployment>, newRS: RS | undefined, oldRSs: readonly RS[]): ScalePlan {
  const replicas = specReplicas(d);
  const aol = findActiveOrLatest(newRS, oldRSs);
  if (aol) return { steps: rsReplicas(aol) === replicas ? [] : [{ rs: aol, replicas }], proportional: false, operation: '' };
  if (isSaturated(d, newRS)) return { steps: filterActive(oldRSs).map((rs) => ({ rs, replicas: 0 })), proportional: false, operation: '' };
  if (!isRollingUpdate(d)) return { steps: [], proportional: false, operation: '' };
  const all = filterActive([...oldRSs, newRS]);
  const allowedSize = replicas > 0 ? replicas + maxSurge(d) : 0;
  const toAdd = allowedSize - sumSpecReplicas(all);
  if (toAdd > 0) all.sort(bySizeNewer);
  else if (toAdd < 0) all.sort(bySizeOlder);
  let added = 0;
  const sizes = all.map((rs) => {
    if (toAdd === 0) return rsReplicas(rs);
    const p = replicaSetProportion(rs, d, toAdd, added);
    added += p;
    return rsReplicas(rs) + p;
  });
  if (toAdd !== 0 && sizes.length > 0) sizes[0] = Math.max(0, sizes[0]! + toAdd - added);
  return { steps: all.map((rs, i) => ({ rs, replicas: sizes[i]! })), proportional: true, operation: toAdd > 0 ? 'up' : toAdd < 0 ? 'down' : '' };
}

export interface ScalePlan {
  steps: ScaleStep[];
  proportional: boolean;
  operation: 'up' | 'down' | '';
}

/** reconcileOldReplicaSets' bound: how many old replicas may go now (≤ 0: none). */
export function maxScaledDown(d: Readonly<Deployment>, allRSs: readonly RS[], newRS: RS): number {
  const minAvailable = specReplicas(d) - maxUnavailable(d);
  const newUnavailable = rsReplicas(newRS) - (newRS.status?.availableReplicas ?? 0);
  return sumSpecReplicas(allRSs) - minAvailable - newUnavailable;
}

/** cleanupUnhealthyReplicas: shrink old ReplicaSets by their unavailable replicas first, oldest first. */
export function planUnhealthyCleanup(oldRSs: readonly RS[], maxCleanup: number): ScaleStep[] {
  const steps: ScaleStep[] = [];
  let total = 0;
  for (const rs of [...oldRSs].sort(byCreation)) {
    if (total >= maxCleanup) break;
    const want = rsReplicas(rs);
    const avail = rs.status?.availableReplicas ?? 0;
    if (want === 0 || want === avail) continue;
    const n = Math.min(maxCleanup - total, want - avail);
    steps.push({ rs, replicas: want - n });
    total += n;
  }
  return steps;
}

/** scaleDownOldReplicaSetsForRollingUpdate: shrink old ReplicaSets while availability stays ≥ replicas − maxUnavailable. */
export function planRollingScaleDown(d: Readonly<Deployment>, allRSs: readonly RS[], oldRSs: readonly RS[]): ScaleStep[] {
  const minAvailable = specReplicas(d) - maxUnavailable(d);
  const available = sumAvailableReplicas(allRSs);
  if (available <= minAvailable) return [];
  const budget = available - minAvailable;
  const steps: ScaleStep[] = [];
  let total = 0;
  for (const rs of [...oldRSs].sort(byCreation)) {
    if (total >= budget) break;
    const want = rsReplicas(rs);
    if (want === 0) continue;
    const n = Math.min(want, budget - total);
    steps.push({ rs, replicas: want - n });
    total += n;
  }
  return steps;
}

/** cleanupDeployment: old ReplicaSets beyond revisionHistoryLimit that are empty and settled, oldest revision first. */
export function replicaSetsToCleanUp(d: Readonly<Deployment>, oldRSs: readonly RS[]): RS[] {
  const limit = d.spec?.revisionHistoryLimit;
  if (limit === undefined || limit === null) return [];
  const alive = oldRSs.filter((rs) => !rs.metadata?.deletionTimestamp);
  const diff = alive.length - limit;
  if (diff <= 0) return [];
  return [...alive]
    .sort(byRevision)
    .slice(0, diff)
    .filter((rs) => (rs.status?.replicas ?? 0) === 0 && rsReplicas(rs) === 0 && (rs.metadata?.generation ?? 0) <= (rs.status?.observedGeneration ?? 0));
}

// ---- annotations -----------------------------------------------------------------------------

const SKIPPED_ANNOTATIONS = new Set([LAST_APPLIED_CONFIG_ANNOTATION, REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION, DESIRED_REPLICAS_ANNOTATION, MAX_REPLICAS_ANNOTATION, DEPRECATED_ROLLBACK_TO]);

/** Copies the deployment's annotations (but the controller's own) onto the ReplicaSet; true if any changed. */
export function copyDeploymentAnnotations(d: Readonly<Deployment>, annotations: Record<string, string>): boolean {
  let changed = false;
  for (const [k, v] of Object.entries(d.metadata?.annotations ?? {})) {
    if (SKIPPED_ANNOTATIONS.has(k) || annotations[k] === v) continue;
    annotations[k] = v;
    changed = true;
  }
  return changed;
}

export function setReplicasAnnotations(annotations: Record<string, string>, desired: number, max: number): boolean {
  let changed = false;
  if (annotations[DESIRED_REPLICAS_ANNOTATION] !== String(desired)) {
    annotations[DESIRED_REPLICAS_ANNOTATION] = String(desired);
    changed = true;
  }
  if (annotations[MAX_REPLICAS_ANNOTATION] !== String(max)) {
    annotations[MAX_REPLICAS_ANNOTATION] = String(max);
    changed = true;
  }
  return changed;
}

export function replicasAnnotationsNeedUpdate(rs: RS, desired: number, max: number): boolean {
  const a = rs.metadata?.annotations;
  return !a || a[DESIRED_REPLICAS_ANNOTATION] !== String(desired) || a[MAX_REPLICAS_ANNOTATION] !== String(max);
}

/**
 * SetNewReplicaSetAnnotations: deployment annotations copied, revision raised to `newRevision`
 * (remembering the previous one in revision-history when an old template comes back), and for a
 * ReplicaSet about to be created the desired/max replicas. Mutates `annotations`; true if changed.
 */
export function setNewReplicaSetAnnotations(d: Readonly<Deployment>, annotations: Record<string, string>, newRevision: number, exists: boolean): boolean {
  let changed = copyDeploymentAnnotations(d, annotations);
  const had = REVISION_ANNOTATION in annotations;
  const oldRevision = annotations[REVISION_ANNOTATION] ?? '';
  let oldInt = 0;
  if (oldRevision !== '') {
    if (!/^[+-]?\d+$/.test(oldRevision)) return false;
    oldInt = Number(oldRevision);
  }
  if (oldInt < newRevision) {
    annotations[REVISION_ANNOTATION] = String(newRevision);
    changed = true;
  }
  if (had && oldInt < newRevision) {
    const history = annotations[REVISION_HISTORY_ANNOTATION] ?? '';
    const olds = history.split(',');
    if (olds[0]!.length === 0) annotations[REVISION_HISTORY_ANNOTATION] = oldRevision;
    else {
      let total = history.length + oldRevision.length + 1;
      let start = 0;
      while (total > MAX_REV_HISTORY_LENGTH_IN_CHARS && start < olds.length) {
        total -= olds[start]!.length + 1;
        start++;
      }
      if (total <= MAX_REV_HISTORY_LENGTH_IN_CHARS) annotations[REVISION_HISTORY_ANNOTATION] = [...olds.slice(start), oldRevision].join(',');
    }
  }
  const replicas = specReplicas(d);
  if (!exists && setReplicasAnnotations(annotations, replicas, replicas + maxSurge(d))) changed = true;
  return changed;
}

// ---- status and conditions -------------------------------------------------------------------

export const hasProgressDeadline = (d: Readonly<Deployment>): boolean => d.spec?.progressDeadlineSeconds !== undefined && d.spec.progressDeadlineSeconds !== null && d.spec.progressDeadlineSeconds !== MAX_INT32;

/** metav1.Time precision: seconds. */
export const nowTime = (now: number): string => new Date(Math.floor(now / 1000) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

export function newCondition(type: string, status: string, reason: string, message: string, now: number): DeploymentCondition {
  const t = nowTime(now);
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

export const getCondition = (s: Readonly<DeploymentStatus> | undefined, type: string): DeploymentCondition | undefined => s?.conditions?.find((c) => c.type === type);

/** SetDeploymentCondition: same status and reason is no change; same status keeps lastTransitionTime. */
export function setCondition(s: DeploymentStatus, c: DeploymentCondition): void {
  const cur = getCondition(s, c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return;
  const next = { ...c };
  if (cur && cur.status === c.status) next.lastTransitionTime = cur.lastTransitionTime!;
  s.conditions = [...(s.conditions ?? []).filter((x) => x.type !== c.type), next];
}

export function removeCondition(s: DeploymentStatus, type: string): void {
  const rest = (s.conditions ?? []).filter((x) => x.type !== type);
  if (rest.length) s.conditions = rest;
  else delete s.conditions;
}

/** calculateStatus: counts summed over the ReplicaSets, plus the Available condition. */
export function calculateStatus(allRSs: readonly (RS | undefined)[], newRS: RS | undefined, d: Readonly<Deployment>, now: number): DeploymentStatus {
  const available = sumAvailableReplicas(allRSs);
  const total = sumSpecReplicas(allRSs);
  const status: DeploymentStatus = {
    observedGeneration: d.metadata?.generation ?? 0,
    replicas: sumStatusReplicas(allRSs),
    updatedReplicas: sumStatusReplicas([newRS]),
    readyReplicas: sumReadyReplicas(allRSs),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, total - available),
  };
  if (d.status?.collisionCount !== undefined && d.status.collisionCount !== null) status.collisionCount = d.status.collisionCount;
  if (d.status?.conditions?.length) status.conditions = d.status.conditions.map((c) => ({ ...c }));
  if (available >= specReplicas(d) - maxUnavailable(d)) setCondition(status, newCondition('Available', 'True', MINIMUM_REPLICAS_AVAILABLE, 'Deployment has minimum availability.', now));
  else setCondition(status, newCondition('Available', 'False', MINIMUM_REPLICAS_UNAVAILABLE, 'Deployment does not have minimum availability.', now));
  return status;
}

/** DeploymentComplete: every replica updated and available, and the latest spec observed. */
export function deploymentComplete(d: Readonly<Deployment>, s: Readonly<DeploymentStatus>): boolean {
  const r = specReplicas(d);
  return (s.updatedReplicas ?? 0) === r && (s.replicas ?? 0) === r && (s.availableReplicas ?? 0) === r && (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
}

/** DeploymentProgressing: more updated/ready/available replicas, or fewer old ones, than last status. */
export function deploymentProgressing(d: Readonly<Deployment>, s: Readonly<DeploymentStatus>): boolean {
  const o = d.status ?? {};
  const oldOld = (o.replicas ?? 0) - (o.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (s.updatedReplicas ?? 0) > (o.updatedReplicas ?? 0) || newOld < oldOld || (s.readyReplicas ?? 0) > (o.readyReplicas ?? 0) || (s.availableReplicas ?? 0) > (o.availableReplicas ?? 0);
}

/** DeploymentTimedOut: the Progressing condition has not been updated for progressDeadlineSeconds. */
export function deploymentTimedOut(d: Readonly<Deployment>, s: Readonly<DeploymentStatus>, now: number): boolean {
  if (!hasProgressDeadline(d)) return false;
  const c = getCondition(s, 'Progressing');
  if (!c) return false;
  if (c.reason === NEW_RS_AVAILABLE_REASON) return false;
  if (c.reason === TIMED_OUT_REASON) return true;
  const from = Date.parse(c.lastUpdateTime ?? '');
  return Number.isFinite(from) && from + d.spec!.progressDeadlineSeconds! * 1000 < now;
}

export const replicaSetToDeploymentCondition = (c: Readonly<ReplicaSetCondition>): DeploymentCondition => ({
  type: c.type,
  status: c.status,
  ...(c.lastTransitionTime ? { lastTransitionTime: c.lastTransitionTime, lastUpdateTime: c.lastTransitionTime } : {}),
  ...(c.reason !== undefined ? { reason: c.reason } : {}),
  ...(c.message !== undefined ? { message: c.message } : {}),
});

/** syncRolloutStatus' status: calculateStatus plus the Progressing and ReplicaFailure conditions. */
export function rolloutStatus(allRSs: readonly (RS | undefined)[], newRS: RS | undefined, d: Readonly<Deployment>, now: number): DeploymentStatus {
  const s = calculateStatus(allRSs, newRS, d, now);
  if (!hasProgressDeadline(d)) removeCondition(s, 'Progressing');
  const cur = getCondition(d.status, 'Progressing');
  const isComplete = s.replicas === s.updatedReplicas && cur?.reason === NEW_RS_AVAILABLE_REASON;
  if (hasProgressDeadline(d) && !isComplete) {
    const who = newRS ? `ReplicaSet "${newRS.metadata?.name}"` : `Deployment "${d.metadata?.name}"`;
    if (deploymentComplete(d, s)) {
      setCondition(s, newCondition('Progressing', 'True', NEW_RS_AVAILABLE_REASON, `${who} has successfully progressed.`, now));
    } else if (deploymentProgressing(d, s)) {
      const c = newCondition('Progressing', 'True', RS_UPDATED_REASON, `${who} is progressing.`, now);
      if (cur) {
        if (cur.status === 'True') c.lastTransitionTime = cur.lastTransitionTime!;
        removeCondition(s, 'Progressing');
      }
      setCondition(s, c);
    } else if (deploymentTimedOut(d, s, now)) {
      setCondition(s, newCondition('Progressing', 'False', TIMED_OUT_REASON, `${who} has timed out progressing.`, now));
    }
  }
  const failure = replicaFailure(allRSs, newRS);
  if (failure) setCondition(s, failure);
  else removeCondition(s, 'ReplicaFailure');
  return s;
}

function replicaFailure(allRSs: readonly (RS | undefined)[], newRS: RS | undefined): DeploymentCondition | undefined {
  const of = (rs: RS | undefined) => rs?.status?.conditions?.find((c) => c.type === 'ReplicaFailure');
  const c = of(newRS) ?? allRSs.map(of).find((x) => x);
  return c ? replicaSetToDeploymentCondition(c) : undefined;
}

/**
 * requeueStuckDeployment: when a rollout with a deadline shows no progress, when to look again
 * (ms; 0 = now, rate-limited; undefined = no need).
 */
export function stuckRequeueAfter(d: Readonly<Deployment>, s: Readonly<DeploymentStatus>, now: number): number | undefined {
  const cur = getCondition(d.status, 'Progressing');
  if (!hasProgressDeadline(d) || !cur) return undefined;
  if (deploymentComplete(d, s) || cur.reason === TIMED_OUT_REASON) return undefined;
  const after = (Date.parse(cur.lastUpdateTime ?? '') || 0) + d.spec!.progressDeadlineSeconds! * 1000 - now;
  return after < 1000 ? 0 : after + 1000;
}

/** Status equality as reflect.DeepEqual sees it (field order and absent-vs-zero aside). */
export function sameStatus(a: Readonly<DeploymentStatus> | undefined, b: Readonly<DeploymentStatus>): boolean {
  const norm = (s: Readonly<DeploymentStatus> | undefined) =>
    JSON.stringify([
      s?.observedGeneration ?? 0,
      s?.replicas ?? 0,
      s?.updatedReplicas ?? 0,
      s?.readyReplicas ?? 0,
      s?.availableReplicas ?? 0,
      s?.unavailableReplicas ?? 0,
      s?.collisionCount ?? null,
      (s?.conditions ?? []).map((c) => [c.type, c.status, c.reason ?? '', c.message ?? '', c.lastUpdateTime ?? '', c.lastTransitionTime ?? '']),
    ]);
  return norm(a) === norm(b);
}
