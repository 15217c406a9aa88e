// VolumeZone, after upstream's plugins/volumezone: a pod's bound PersistentVolumes labelled with a
// zone or region can only be used from nodes in that zone or region.

import type { PersistentVolume, PersistentVolumeClaim, Pod } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import type { CycleState, StateData } from '../framework/cycleState.js';
import type { NodeInfo } from '../framework/nodeInfo.js';
import {
  ActionType,
  skip,
  unresolvable,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type FrameworkHandle,
  type MaybeStatus,
  type PluginFactory,
  type PreFilterPlugin,
  type PreFilterResult,
  type Status,
} from '../framework/types.js';
import { claimClass, claimNotFound } from './helpers/volumes.js';

export const NAME = 'VolumeZone';

export const ErrReasonConflict = 'node(s) had no available volume zone';

const LABEL_BETA_ZONE = 'failure-domain.beta.kubernetes.io/zone';
const LABEL_BETA_REGION = 'failure-domain.beta.kubernetes.io/region';
const LABEL_ZONE = 'topology.kubernetes.io/zone';
const LABEL_REGION = 'topology.kubernetes.io/region';
const TOPOLOGY_LABELS = [LABEL_BETA_ZONE, LABEL_BETA_REGION, LABEL_ZONE, LABEL_REGION];

const PRE_FILTER_KEY = `PreFilter${NAME}`;

/** One zone/region label of a PV: the node must carry the same key (or its GA twin) with one of the values. */
export interface PVTopology {
  readonly pvName: string;
  readonly key: string;
  readonly values: ReadonlySet<string>;
}

class StateData_ implements StateData {
  constructor(readonly topologies: readonly PVTopology[]) {}
  clone(): StateData_ {
    return this;
  }
}

function toGALabel(label: string): string {
  if (label === LABEL_BETA_REGION) return LABEL_REGION;
  if (label === LABEL_BETA_ZONE) return LABEL_ZONE;
  return label;
}

/** A multi-zone label value (`a__b`) as a set; undefined when it holds an empty zone. */
export function labelZonesToSet(value: string): Set<string> | undefined {
  const zones = value.split('__').flatMap((z) => z.split(',')).map((z) => z.trim());
  if (zones.some((z) => z === '')) return undefined;
  return new Set(zones);
}

/** The PV's zone/region labels; unparsable values are ignored, as upstream. */
export function pvTopologies(pv: Readonly<PersistentVolume>): PVTopology[] {
  const out: PVTopology[] = [];
  for (const key of TOPOLOGY_LABELS) {
    const value = pv.metadata?.labels?.[key];
    if (value === undefined) continue;
    const values = labelZonesToSet(value);
    if (values) out.push({ pvName: pv.metadata?.name ?? '', key, values });
  }
  return out;
}

class VolumeZonePlugin implements PreFilterPlugin, FilterPlugin, EnqueueExtensions {
  readonly name = NAME;

  constructor(private readonly handle: FrameworkHandle) {}

  /** The topologies of the pod's bound PVs, or the status that stops the pod. */
  private topologiesOf(pod: Readonly<Pod>): { topologies?: PVTopology[]; status?: Status } {
    const ns = pod.metadata?.namespace ?? '';
    const out: PVTopology[] = [];
    for (const v of pod.spec?.volumes ?? []) {
      if (!v.persistentVolumeClaim) continue;
      const name = v.persistentVolumeClaim.claimName;
      if (name === '') return { status: unresolvable('PersistentVolumeClaim had no name') };
      const pvc: Readonly<PersistentVolumeClaim> | undefined = this.handle.persistentVolumeClaims.get(ns, name);
      if (!pvc) return { status: unresolvable(claimNotFound(name)) };
      const pvName = pvc.spec?.volumeName ?? '';
      if (pvName === '') {
        const scName = claimClass(pvc);
        if (scName === '') return { status: unresolvable('PersistentVolumeClaim had no pv name and storageClass name') };
        const sc: Readonly<StorageClass> | undefined = this.handle.storageClasses.get(undefined, scName);
        if (!sc) return { status: unresolvable(`storageclass.storage.k8s.io "${scName}" not found`) };
        if (!sc.volumeBindingMode) return { status: unresolvable(`VolumeBindingMode not set for StorageClass "${scName}"`) };
        // Not bound yet, by design: VolumeBinding picks a volume for the node.
        if (sc.volumeBindingMode === 'WaitForFirstConsumer') continue;
        return { status: unresolvable('PersistentVolume had no name') };
      }
      const pv = this.handle.persistentVolumes.get(undefined, pvName);
      if (!pv) return { status: unresolvable(`persistentvolume "${pvName}" not found`) };
      out.push(...pvTopologies(pv));
    }
    return { topologies: out };
  }

  preFilter(state: CycleState, pod: Readonly<Pod>, _nodes: readonly NodeInfo[]): { result?: PreFilterResult; status?: Status } {
    const { topologies, status } = this.topologiesOf(pod);
    if (status) return { status };
    if (!topologies || topologies.length === 0) return { status: skip() };
    state.write(PRE_FILTER_KEY, new StateData_(topologies));
    return {};
  }

  filter(state: CycleState, pod: Readonly<Pod>, nodeInfo: NodeInfo): MaybeStatus {
    if ((pod.spec?.volumes ?? []).length === 0) return undefined;
    let topologies = state.read<StateData_>(PRE_FILTER_KEY)?.topologies;
    if (!topologies) {
      const r = this.topologiesOf(pod);
      if (r.status) return r.status;
      topologies = r.topologies ?? [];
    }
    const labels = nodeInfo.node?.metadata?.labels ?? {};
    const has = (k: string) => Object.prototype.hasOwnProperty.call(labels, k);
    // A node without any zone/region label is fine: single-zone clusters often do not label nodes.
    if (!TOPOLOGY_LABELS.some(has)) return undefined;
    for (const t of topologies) {
      const value = has(t.key) ? labels[t.key] : labels[toGALabel(t.key)];
      if (value === undefined || !t.values.has(value)) return unresolvable(ErrReasonConflict);
    }
    return undefined;
  }

  eventsToRegister(): readonly ClusterEventWithHint[] {
    const claimOfPod = (pod: Readonly<Pod>, obj: unknown): 'Queue' | 'QueueSkip' => {
      const pvc = obj as PersistentVolumeClaim | undefined;
      if (!pvc || pvc.metadata?.namespace !== pod.metadata?.namespace) return 'QueueSkip';
      return (pod.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === pvc.metadata?.name) ? 'Queue' : 'QueueSkip';
    };
    return [
      // A new WaitForFirstConsumer class lets an unbound claim through (the mode is immutable).
      { event: { resource: 'StorageClass', actionType: ActionType.Add }, hint: (_pod, _o, n) => ((n as StorageClass | undefined)?.volumeBindingMode === 'WaitForFirstConsumer' ? 'Queue' : 'QueueSkip') },
      { event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel | ActionType.UpdateNodeTaint } },
      // The claim appearing or getting its volume name.
      { event: { resource: 'PersistentVolumeClaim', actionType: ActionType.Add | ActionType.Update }, hint: (pod, _o, n) => claimOfPod(pod, n) },
      // A PV appearing or its zone labels changing.
      {
        event: { resource: 'PersistentVolume', actionType: ActionType.Add | ActionType.Update },
        hint: (_pod, o, n) => (o === undefined || JSON.stringify(pvTopologies(o as PersistentVolume), setReplacer) !== JSON.stringify(pvTopologies(n as PersistentVolume), setReplacer) ? 'Queue' : 'QueueSkip'),
      },
    ];
  }
}

function setReplacer(_k: string, v: unknown): unknown {
  return v instanceof Set ? [...v].sort() : v;
}

export const VolumeZone: PluginFactory = {
  name: NAME,
  create(_args, handle) {
    return new VolumeZonePlugin(handle);
  },
};
