// The StatefulSet controller's pure helpers (upstream's stateful_set_utils.go): ordinal identities,
// stable storage from volumeClaimTemplates, PVC ownership for the retention policy, revisions and
// the status rules.

import type { ControllerRevision, StatefulSet, StatefulSetStatus } from 'kubernetes-types/apps/v1.js';
import type { PersistentVolumeClaim, Pod, Volume } from 'kubernetes-types/core/v1.js';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { KubeObject } from '../../client/resourceClient.js';
import { controllerRef, isPodAvailable, isPodReady, podFromTemplate, podsPrefix, type Owner } from '../controllerRef.js';
import { newControllerRevision, templateFromRevision, templatePatch, type Revision } from '../history/controllerHistory.js';
import { scaledValueFromIntOrPercent } from '../daemonset/intOrPercent.js';

export type STS = StatefulSet & KubeObject;
export type PVC = PersistentVolumeClaim & KubeObject;

/** The label with the pod's name (apps/v1 StatefulSetPodNameLabel). */
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
/** The label with the pod's ordinal (apps/v1 PodIndexLabel, on by default since 1.28). */
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';
/** The label with the pod's revision (apps/v1 StatefulSetRevisionLabel). */
export const REVISION_LABEL = 'controller-revision-hash';

const STATEFUL_POD_NAME = /^(.*)-([0-9]+)$/;

/** The parent name and ordinal a pod's name encodes; ordinal -1 when it has none. */
export function parentNameAndOrdinal(pod: Readonly<Pod>): { parent: string; ordinal: number } {
  const m = STATEFUL_POD_NAME.exec(pod.metadata?.name ?? '');
  if (!m) return { parent: '', ordinal: -1 };
  const n = Number(m[2]);
  return { parent: m[1]!, ordinal: Number.isSafeInteger(n) && n <= 2 ** 31 - 1 ? n : -1 };
}

export const ordinalOf = (pod: Readonly<Pod>): number => parentNameAndOrdinal(pod).ordinal;

export function startOrdinal(set: Readonly<StatefulSet>): number {
  return set.spec?.ordinals?.start ?? 0;
}

export function replicasOf(set: Readonly<StatefulSet>): number {
  return set.spec?.replicas ?? 1;
}

export function endOrdinal(set: Readonly<StatefulSet>): number {
  return startOrdinal(set) + replicasOf(set) - 1;
}

export function podInOrdinalRange(pod: Readonly<Pod>, set: Readonly<StatefulSet>): boolean {
  const o = ordinalOf(pod);
  return o >= startOrdinal(set) && o <= endOrdinal(set);
}

export const podName = (set: Readonly<StatefulSet>, ordinal: number): string => `${set.metadata?.name}-${ordinal}`;

/** `<template>-<set>-<ordinal>`, the stable claim name. */
export const claimName = (set: Readonly<StatefulSet>, templateName: string, ordinal: number): string => `${templateName}-${set.metadata?.name}-${ordinal}`;

export const isMemberOf = (set: Readonly<StatefulSet>, pod: Readonly<Pod>): boolean => parentNameAndOrdinal(pod).parent === set.metadata?.name;

/** The pod has its identity: name, namespace and pod-name label of the set's member. */
export function identityMatches(set: Readonly<StatefulSet>, pod: Readonly<Pod>): boolean {
  const { parent, ordinal } = parentNameAndOrdinal(pod);
  return (
    ordinal >= 0 &&
    parent === set.metadata?.name &&
    pod.metadata?.name === podName(set, ordinal) &&
    pod.metadata?.namespace === set.metadata?.namespace &&
    pod.metadata?.labels?.[POD_NAME_LABEL] === pod.metadata?.name
  );
}

/** Every volumeClaimTemplate is mounted from the pod's own claim. */
export function storageMatches(set: Readonly<StatefulSet>, pod: Readonly<Pod>): boolean {
  const ordinal = ordinalOf(pod);
  if (ordinal < 0) return false;
  const volumes = new Map((pod.spec?.volumes ?? []).map((v) => [v.name, v]));
  for (const t of set.spec?.volumeClaimTemplates ?? []) {
    const v = volumes.get(t.metadata?.name ?? '');
    if (v?.persistentVolumeClaim?.claimName !== claimName(set, t.metadata?.name ?? '', ordinal)) return false;
  }
  return true;
}

/** The claims a member needs, named for its ordinal, labelled with the selector's matchLabels. */
export function claimsForPod(set: Readonly<StatefulSet>, pod: Readonly<Pod>): Map<string, PVC> {
  const ordinal = ordinalOf(pod);
  const out = new Map<string, PVC>();
  for (const t of set.spec?.volumeClaimTemplates ?? []) {
    const { status: _status, ...rest } = structuredClone(t) as PVC;
    const claim = rest as PVC;
    claim.apiVersion = 'v1';
    claim.kind = 'PersistentVolumeClaim';
    claim.metadata = { ...(claim.metadata ?? {}), name: claimName(set, t.metadata?.name ?? '', ordinal), namespace: set.metadata?.namespace, labels: { ...(claim.metadata?.labels ?? {}), ...(set.spec?.selector?.matchLabels ?? {}) } };
    out.set(t.metadata?.name ?? '', claim);
  }
  return out;
}

/** Points the template volumes at the member's claims, keeping the pod's other volumes. Edits `pod`. */
export function updateStorage(set: Readonly<StatefulSet>, pod: Pod): void {
  const claims = claimsForPod(set, pod);
  const volumes: Volume[] = [...claims].map(([name, c]) => ({ name, persistentVolumeClaim: { claimName: c.metadata!.name! } }));
  for (const v of pod.spec?.volumes ?? []) if (!claims.has(v.name)) volumes.push(v);
  pod.spec = { ...(pod.spec ?? { containers: [] }), volumes };
}

/** Name, namespace and identity labels (upstream's updateIdentity). Edits `pod`. */
export function updateIdentity(set: Readonly<StatefulSet>, pod: Pod): void {
  const ordinal = ordinalOf(pod);
  pod.metadata = { ...(pod.metadata ?? {}), name: podName(set, ordinal), namespace: set.metadata?.namespace };
  pod.metadata.labels = { ...(pod.metadata.labels ?? {}), [POD_NAME_LABEL]: pod.metadata.name!, [POD_INDEX_LABEL]: String(ordinal) };
}

export const isCreated = (p: Readonly<Pod>): boolean => (p.status?.phase ?? '') !== '';
export const isPending = (p: Readonly<Pod>): boolean => p.status?.phase === 'Pending';
export const isFailed = (p: Readonly<Pod>): boolean => p.status?.phase === 'Failed';
export const isSucceeded = (p: Readonly<Pod>): boolean => p.status?.phase === 'Succeeded';
export const isTerminating = (p: Readonly<Pod>): boolean => !!p.metadata?.deletionTimestamp;
export const isRunningAndReady = (p: Readonly<Pod>): boolean => p.status?.phase === 'Running' && isPodReady(p);
export const isRunningAndAvailable = (p: Readonly<Pod>, minReadySeconds: number, now: number): boolean => isPodAvailable(p, minReadySeconds, now);
export const isHealthy = (p: Readonly<Pod>): boolean => isRunningAndReady(p) && !isTerminating(p);
/** Not available (for minReadySeconds) or terminating. */
export const isUnavailable = (p: Readonly<Pod>, minReadySeconds: number, now: number): boolean => !isRunningAndAvailable(p, minReadySeconds, now) || isTerminating(p);
/** Parallel pod management lifts the ordering guarantees. */
export const allowsBurst = (set: Readonly<StatefulSet>): boolean => set.spec?.podManagementPolicy === 'Parallel';
export const podRevision = (p: Readonly<Pod>): string => p.metadata?.labels?.[REVISION_LABEL] ?? '';

export function ownerOf(set: Readonly<StatefulSet>): Owner {
  return { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: set.metadata! };
}

/** A new member for `ordinal` from the set's template (upstream's newStatefulSetPod). */
export function newStatefulSetPod(set: Readonly<StatefulSet>, ordinal: number): Pod {
  const pod = podFromTemplate(set.spec!.template, ownerOf(set), podsPrefix(set.metadata!.name!));
  pod.metadata!.name = podName(set, ordinal);
  updateIdentity(set, pod);
  // Hostname and subdomain are set only at creation: they are immutable afterwards.
  pod.spec = { ...pod.spec!, hostname: pod.metadata!.name!, ...(set.spec?.serviceName ? { subdomain: set.spec.serviceName } : {}) };
  updateStorage(set, pod);
  return pod;
}

/**
 * The pod for `ordinal` at the revision it should have: the current revision below the partition
 * (or below currentReplicas without rollingUpdate), else the update revision. Keeps upstream's
 * operator precedence.
 */
export function newVersionedStatefulSetPod(currentSet: Readonly<StatefulSet>, updateSet: Readonly<StatefulSet>, currentRevision: string, updateRevision: string, ordinal: number): Pod {
  const s = currentSet.spec?.updateStrategy;
  const useCurrent =
    (s?.type === 'RollingUpdate' && !s.rollingUpdate && ordinal < startOrdinal(currentSet) + (currentSet.status?.currentReplicas ?? 0)) ||
    (!!s?.rollingUpdate && ordinal < startOrdinal(currentSet) + (s.rollingUpdate.partition ?? 0));
  const pod = newStatefulSetPod(useCurrent ? currentSet : updateSet, ordinal);
  pod.metadata!.labels = { ...(pod.metadata!.labels ?? {}), [REVISION_LABEL]: useCurrent ? currentRevision : updateRevision };
  return pod;
}

/** The revision data of the set's template (upstream's getPatch). */
export function statefulSetPatch(set: Readonly<StatefulSet>): unknown {
  return templatePatch(set.spec?.template);
}

/** A revision for the set's current template (upstream's newRevision): annotations copied from the set. */
export function newStatefulSetRevision(set: Readonly<StatefulSet>, revision: number, collisionCount: number): Revision {
  const cr = newControllerRevision(ownerOf(set), set.spec?.template?.metadata?.labels, statefulSetPatch(set), revision, collisionCount);
  if (set.metadata?.annotations) cr.metadata!.annotations = { ...set.metadata.annotations };
  return cr;
}

/** The set with the revision's template restored (upstream's ApplyRevision). */
export function applyRevision(set: Readonly<StatefulSet>, rev: Readonly<ControllerRevision>): STS {
  const clone = structuredClone(set) as STS;
  const t = templateFromRevision(rev as Revision);
  if (t) clone.spec = { ...clone.spec!, template: t };
  return clone;
}

/** The status differs from the set's in a way worth writing. */
export function inconsistentStatus(set: Readonly<StatefulSet>, s: Readonly<StatefulSetStatus>): boolean {
  const c = set.status ?? ({} as StatefulSetStatus);
  return (
    (s.observedGeneration ?? 0) > (c.observedGeneration ?? 0) ||
    s.replicas !== (c.replicas ?? 0) ||
    (s.currentReplicas ?? 0) !== (c.currentReplicas ?? 0) ||
    (s.readyReplicas ?? 0) !== (c.readyReplicas ?? 0) ||
    (s.updatedReplicas ?? 0) !== (c.updatedReplicas ?? 0) ||
    (s.currentRevision ?? '') !== (c.currentRevision ?? '') ||
    (s.availableReplicas ?? 0) !== (c.availableReplicas ?? 0) ||
    (s.updateRevision ?? '') !== (c.updateRevision ?? '') ||
    (s.collisionCount ?? 0) !== (c.collisionCount ?? 0)
  );
}

/** When every replica is updated and ready, the update revision becomes the current one. Edits `s`. */
export function completeRollingUpdate(set: Readonly<StatefulSet>, s: StatefulSetStatus): void {
  const n = replicasOf(set);
  if (set.spec?.updateStrategy?.type === 'RollingUpdate' && s.updatedReplicas === n && s.readyReplicas === n && s.replicas === n) {
    s.currentReplicas = s.updatedReplicas;
    s.currentRevision = s.updateRevision;
  }
}

/** The counts of `pods` (upstream's computeReplicaStatus). */
export function replicaCounts(pods: readonly (Readonly<Pod> | undefined)[], minReadySeconds: number, currentRevision: string, updateRevision: string, now: number) {
  const c = { replicas: 0, readyReplicas: 0, availableReplicas: 0, currentReplicas: 0, updatedReplicas: 0 };
  for (const p of pods) {
    if (!p) continue;
    if (isCreated(p)) c.replicas++;
    if (isRunningAndReady(p)) {
      c.readyReplicas++;
      if (isRunningAndAvailable(p, minReadySeconds, now)) c.availableReplicas++;
    }
    if (isCreated(p) && !isTerminating(p)) {
      const r = podRevision(p);
      if (r === currentRevision) c.currentReplicas++;
      if (r === updateRevision) c.updatedReplicas++;
    }
  }
  return c;
}

/** maxUnavailable of a rolling update against the replica count: at least 1, percentages rounded down. */
export function statefulSetMaxUnavailable(v: number | string | undefined, replicas: number): number {
  return Math.max(1, scaledValueFromIntOrPercent(v ?? 1, replicas, false));
}

export interface RetentionPolicy {
  whenDeleted: string;
  whenScaled: string;
}

export function retentionPolicy(set: Readonly<StatefulSet>): RetentionPolicy {
  const p = set.spec?.persistentVolumeClaimRetentionPolicy;
  return { whenDeleted: p?.whenDeleted ?? 'Retain', whenScaled: p?.whenScaled ?? 'Retain' };
}

interface Named {
  metadata?: { name?: string | undefined; uid?: string | undefined } | undefined;
}

const matchesRef = (ref: Readonly<OwnerReference>, obj: Named, apiVersion: string, kind: string) => ref.apiVersion === apiVersion && ref.kind === kind && ref.name === obj.metadata?.name;
const hasOwnerRef = (claim: Readonly<PVC>, owner: Named) => !!owner.metadata?.uid && (claim.metadata?.ownerReferences ?? []).some((r) => r.uid === owner.metadata?.uid);

/** The claim has a reference to `obj` by name and kind but with another UID: a previous incarnation's. */
export function hasStaleOwnerRef(claim: Readonly<PVC>, obj: Named, apiVersion: string, kind: string): boolean {
  const ref = (claim.metadata?.ownerReferences ?? []).find((r) => matchesRef(r, obj, apiVersion, kind));
  return !!ref && ref.uid !== obj.metadata?.uid;
}

function hasUnexpectedController(claim: Readonly<PVC>, set: Readonly<StatefulSet>, pod: Readonly<Pod>): boolean {
  const policy = retentionPolicy(set);
  if (policy.whenScaled === 'Retain' && policy.whenDeleted === 'Retain') return false;
  for (const ref of claim.metadata?.ownerReferences ?? []) {
    if (matchesRef(ref, set, 'apps/v1', 'StatefulSet')) {
      if (ref.uid !== set.metadata?.uid) return true;
      continue;
    }
    if (matchesRef(ref, pod, 'v1', 'Pod')) {
      if (ref.uid !== pod.metadata?.uid) return true;
      continue;
    }
    if (ref.controller) return true;
  }
  return false;
}

function hasNonControllerOwner(claim: Readonly<PVC>, set: Readonly<StatefulSet>, pod: Readonly<Pod>): boolean {
  return (claim.metadata?.ownerReferences ?? []).some((r) => (r.uid === set.metadata?.uid || r.uid === pod.metadata?.uid) && !r.controller);
}

/**
 * Whether the claim's ownerReferences follow the retention policy (upstream's isClaimOwnerUpToDate):
 * Retain/Retain no refs; WhenDeleted=Delete a ref to the set; WhenScaled=Delete a ref to the pod once
 * it is scaled down (and then none to the set).
 */
export function isClaimOwnerUpToDate(claim: Readonly<PVC>, set: Readonly<StatefulSet>, pod: Readonly<Pod>): boolean {
  if (hasStaleOwnerRef(claim, set, 'apps/v1', 'StatefulSet') || hasStaleOwnerRef(claim, pod, 'v1', 'Pod')) return true;
  if (hasUnexpectedController(claim, set, pod)) return !(hasOwnerRef(claim, set) || hasOwnerRef(claim, pod));
  if (hasNonControllerOwner(claim, set, pod)) return false;
  const { whenScaled, whenDeleted } = retentionPolicy(set);
  const scaledDown = !podInOrdinalRange(pod, set);
  if (whenScaled === 'Delete' && whenDeleted === 'Delete') return scaledDown !== hasOwnerRef(claim, set) && scaledDown === hasOwnerRef(claim, pod);
  if (whenScaled === 'Delete') return !hasOwnerRef(claim, set) && scaledDown === hasOwnerRef(claim, pod);
  if (whenDeleted === 'Delete') return hasOwnerRef(claim, set) && !hasOwnerRef(claim, pod);
  return !hasOwnerRef(claim, set) && !hasOwnerRef(claim, pod);
}

/** The claim's ownerReferences rewritten for the retention policy (upstream's updateClaimOwnerRefForSetAndPod). */
export function claimOwnerRefsFor(claim: Readonly<PVC>, set: Readonly<StatefulSet>, pod: Readonly<Pod>): OwnerReference[] {
  const unexpected = hasUnexpectedController(claim, set, pod);
  let refs = (claim.metadata?.ownerReferences ?? []).filter((r) => !matchesRef(r, set, 'apps/v1', 'StatefulSet') && !matchesRef(r, pod, 'v1', 'Pod'));
  if (unexpected) return refs;
  const add = (owner: Owner) => {
    if (!refs.some((r) => r.uid === owner.metadata.uid)) refs = [...refs, controllerRef(owner)];
  };
  const podOwner: Owner = { apiVersion: 'v1', kind: 'Pod', metadata: pod.metadata ?? {} };
  const { whenScaled, whenDeleted } = retentionPolicy(set);
  const scaledDown = !podInOrdinalRange(pod, set);
  if (whenScaled === 'Delete' && scaledDown && pod.metadata?.uid) add(podOwner);
  if (whenDeleted === 'Delete' && !(whenScaled === 'Delete' && scaledDown)) add(ownerOf(set));
  return refs;
}
