// VolumeRestrictions, after upstream's plugins/volumerestrictions: in-tree disks that may be mounted
// by one pod per node (GCE PD, AWS EBS, iSCSI, RBD), and ReadWriteOncePod claims, which one pod in
// the whole cluster may use at a time.

import type { Pod, Volume } from 'kubernetes-types/core/v1.js';
import type { CycleState, StateData } from '../framework/cycleState.js';
import type { NodeInfo, PodInfo } from '../framework/nodeInfo.js';
import {
  ActionType,
  errorStatus,
  skip,
  unresolvable,
  unschedulable,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type FrameworkHandle,
  type MaybeStatus,
  type PluginFactory,
  type PreFilterExtensions,
  type PreFilterPlugin,
  type PreFilterResult,
  type Status,
} from '../framework/types.js';
import { claimNotFound } from './helpers/volumes.js';

export const NAME = 'VolumeRestrictions';

export const ErrReasonDiskConflict = 'node(s) had no available disk';
export const ErrReasonReadWriteOncePodConflict = 'node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode';

const PRE_FILTER_KEY = `PreFilter${NAME}`;

class PreFilterState implements StateData {
  constructor(
    readonly namespace: string,
    /** Names of the pod's claims with the ReadWriteOncePod access mode. */
    readonly readWriteOncePodClaims: ReadonlySet<string>,
    /** How many of those claims scheduled pods already use. */
    public conflictingClaimRefs: number,
  ) {}

  refsOf(pod: Readonly<Pod>): number {
    if ((pod.metadata?.namespace ?? '') !== this.namespace) return 0;
    let n = 0;
    for (const v of pod.spec?.volumes ?? []) if (v.persistentVolumeClaim && this.readWriteOncePodClaims.has(v.persistentVolumeClaim.claimName)) n++;
    return n;
  }

  clone(): PreFilterState {
    return new PreFilterState(this.namespace, this.readWriteOncePodClaims, this.conflictingClaimRefs);
  }
}

function needsDiskCheck(v: Readonly<Volume>): boolean {
  return !!(v.gcePersistentDisk || v.awsElasticBlockStore || v.rbd || v.iscsi);
}

function overlap(a: readonly string[], b: readonly string[]): boolean {
  return a.some((x) => b.includes(x));
}

/** Whether mounting `v` conflicts with one of `existing`'s volumes (same disk, not all read-only). */
function isVolumeConflict(v: Readonly<Volume>, existing: Readonly<Pod>): boolean {
  for (const ev of existing.spec?.volumes ?? []) {
    if (v.gcePersistentDisk && ev.gcePersistentDisk && v.gcePersistentDisk.pdName === ev.gcePersistentDisk.pdName && !(v.gcePersistentDisk.readOnly && ev.gcePersistentDisk.readOnly)) return true;
    if (v.awsElasticBlockStore && ev.awsElasticBlockStore && v.awsElasticBlockStore.volumeID === ev.awsElasticBlockStore.volumeID) return true;
    if (v.iscsi && ev.iscsi && v.iscsi.iqn === ev.iscsi.iqn && !(v.iscsi.readOnly && ev.iscsi.readOnly)) return true;
    if (
      v.rbd &&
      ev.rbd &&
      overlap(v.rbd.monitors, ev.rbd.monitors) &&
      (v.rbd.pool ?? 'rbd') === (ev.rbd.pool ?? 'rbd') &&
      v.rbd.image === ev.rbd.image &&
      !(v.rbd.readOnly && ev.rbd.readOnly)
    ) {
      return true;
    }
  }
  return false;
}

function satisfiesVolumeConflicts(pod: Readonly<Pod>, nodeInfo: NodeInfo): boolean {
  for (const v of pod.spec?.volumes ?? []) {
    if (!needsDiskCheck(v)) continue;
    for (const ev of nodeInfo.pods) if (isVolumeConflict(v, ev.pod)) return false;
  }
  return true;
}

class VolumeRestrictionsPlugin implements PreFilterPlugin, FilterPlugin, EnqueueExtensions, PreFilterExtensions {
  readonly name = NAME;

  constructor(private readonly handle: FrameworkHandle) {}

  preFilter(state: CycleState, pod: Readonly<Pod>, _nodes: readonly NodeInfo[]): { result?: PreFilterResult; status?: Status } {
    const ns = pod.metadata?.namespace ?? '';
    const needsCheck = (pod.spec?.volumes ?? []).some(needsDiskCheck);
    const rwop = new Set<string>();
    for (const v of pod.spec?.volumes ?? []) {
      if (!v.persistentVolumeClaim) continue;
      const name = v.persistentVolumeClaim.claimName;
      const pvc = this.handle.persistentVolumeClaims.get(ns, name);
      // The claim must exist to know its access modes; until then nothing but its creation helps.
      if (!pvc) return { status: unresolvable(claimNotFound(name)) };
      if (pvc.spec?.accessModes?.includes('ReadWriteOncePod')) rwop.add(name);
    }
    let conflicts = 0;
    const nodes = this.handle.snapshot().list();
    for (const name of rwop) {
      // At most one pod can use a ReadWriteOncePod claim, so one user anywhere is a conflict.
      if (nodes.some((ni) => (ni.pvcRefCounts.get(`${ns}/${name}`) ?? 0) > 0)) conflicts++;
    }
    if (!needsCheck && conflicts === 0) return { status: skip() };
    state.write(PRE_FILTER_KEY, new PreFilterState(ns, rwop, conflicts));
    return {};
  }

  preFilterExtensions(): PreFilterExtensions {
    return this;
  }

  addPod(state: CycleState, _podToSchedule: Readonly<Pod>, podToAdd: PodInfo, _nodeInfo: NodeInfo): MaybeStatus {
    const s = state.read<PreFilterState>(PRE_FILTER_KEY);
    if (s) s.conflictingClaimRefs += s.refsOf(podToAdd.pod);
    return undefined;
  }

  removePod(state: CycleState, _podToSchedule: Readonly<Pod>, podToRemove: PodInfo, _nodeInfo: NodeInfo): MaybeStatus {
    const s = state.read<PreFilterState>(PRE_FILTER_KEY);
    if (s) s.conflictingClaimRefs -= s.refsOf(podToRemove.pod);
    return undefined;
  }

  filter(state: CycleState, pod: Readonly<Pod>, nodeInfo: NodeInfo): MaybeStatus {
    if (!satisfiesVolumeConflicts(pod, nodeInfo)) return unschedulable(ErrReasonDiskConflict);
    const s = state.read<PreFilterState>(PRE_FILTER_KEY);
    if (!s) return errorStatus(new Error(`cannot read "${PRE_FILTER_KEY}" from cycleState`));
    // Preemption can evict the pod holding the claim, hence Unschedulable, not unresolvable.
    if (s.conflictingClaimRefs > 0) return unschedulable(ErrReasonReadWriteOncePodConflict);
    return undefined;
  }

  eventsToRegister(): readonly ClusterEventWithHint[] {
    return [
      // A pod holding the disk or the claim leaving frees it (pod volumes are immutable: no updates).
      { event: { resource: 'Pod', actionType: ActionType.Delete }, hint: (pod, o) => hintAfterPodDeleted(pod, o as Pod | undefined) },
      // A new node may have no conflicting pod. Label/taint updates stand in for a missed Add, as upstream.
      { event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeTaint | ActionType.UpdateNodeLabel } },
      // The claim the pod needs was created.
      { event: { resource: 'PersistentVolumeClaim', actionType: ActionType.Add }, hint: (pod, _o, n) => hintAfterClaimAdded(pod, n as { metadata?: { name?: string; namespace?: string } } | undefined) },
    ];
  }
}

function hintAfterPodDeleted(pod: Readonly<Pod>, deleted: Pod | undefined): 'Queue' | 'QueueSkip' {
  if (!deleted || deleted.metadata?.namespace !== pod.metadata?.namespace) return 'QueueSkip';
  for (const v of pod.spec?.volumes ?? []) if (needsDiskCheck(v) && isVolumeConflict(v, deleted)) return 'Queue';
  const claims = new Set((deleted.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : [])));
  return (pod.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim && claims.has(v.persistentVolumeClaim.claimName)) ? 'Queue' : 'QueueSkip';
}

function hintAfterClaimAdded(pod: Readonly<Pod>, claim: { metadata?: { name?: string; namespace?: string } } | undefined): 'Queue' | 'QueueSkip' {
  if (!claim || claim.metadata?.namespace !== pod.metadata?.namespace) return 'QueueSkip';
  return (pod.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === claim.metadata?.name) ? 'Queue' : 'QueueSkip';
}

export const VolumeRestrictions: PluginFactory = {
  name: NAME,
  create(_args, handle) {
    return new VolumeRestrictionsPlugin(handle);
  },
};
