// VolumeBinding, after upstream's plugins/volumebinding (without the external-provisioner and CSI
// storage-capacity machinery). PreFilter sorts the pod's claims into bound and delayed-binding
// (WaitForFirstConsumer) ones and rejects unbound immediate claims; Filter checks bound PVs' node
// affinity and finds, per node, an available PV for each delayed claim or accepts dynamic
// provisioning; Reserve/Unreserve assume the chosen bindings in memory so later cycles do not pick
// the same PV; PreBind asks an injected VolumeBinder to write what the API must learn.
//
// Not done (compared with upstream 1.32):
// - PreBind does not wait for the PV controller to complete bindings (bindTimeoutSeconds is only
//   validated), and static PV bindings are written only if the binder implements `bindVolume`.
// - No CSIStorageCapacity/CSIDriver capacity check ("did not have enough free storage" is never
//   returned), no in-tree→CSI PV translation, no VolumeCapacityPriority scoring (alpha upstream).
// - Assumed bindings live in this plugin instance, not in an informer-backed assume cache: an entry
//   is dropped on Unreserve or once the listers show the written binding.

import type { PersistentVolume, PersistentVolumeClaim, Pod } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import { quantityValue } from '../../api/quantity.js';
import type { CycleState, StateData } from '../framework/cycleState.js';
import type { NodeInfo } from '../framework/nodeInfo.js';
import {
  ActionType,
  ConfigError,
  errorStatus,
  skip,
  unresolvable,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type FrameworkHandle,
  type MaybeStatus,
  type PluginFactory,
  type PreBindPlugin,
  type PreFilterPlugin,
  type PreFilterResult,
  type ReservePlugin,
  type Status,
} from '../framework/types.js';
import { fromLabelSelector, matches } from '../../api/labels.js';
import { ANN_BIND_COMPLETED, ANN_SELECTED_NODE, claimClass, claimNotFound, pvNodeAffinityMatches, volumeClaimName, volumeClass } from './helpers/volumes.js';

export const NAME = 'VolumeBinding';

export const ErrReasonBindConflict = "node(s) didn't find available persistent volumes to bind";
export const ErrReasonNodeConflict = 'node(s) had volume node affinity conflict';
export const ErrReasonNotEnoughSpace = 'node(s) did not have enough free storage';
export const ErrReasonPVNotExist = 'node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)';
export const ErrReasonUnboundImmediateClaims = 'pod has unbound immediate PersistentVolumeClaims';

/** A StorageClass provisioner meaning "no dynamic provisioning". */
const NOT_SUPPORTED_PROVISIONER = 'kubernetes.io/no-provisioner';
const LABEL_HOSTNAME = 'kubernetes.io/hostname';

export interface ClaimRef {
  readonly namespace: string;
  readonly name: string;
}

/**
 * The API writes VolumeBinding's PreBind needs, injected so the plugin stays free of I/O.
 * `setSelectedNode` must set the annotation `volume.kubernetes.io/selected-node: <nodeName>` on the
 * claim, which tells its provisioner where to create the volume. `bindVolume`, if present, must
 * pre-bind the PV to the claim (its `spec.claimRef`), leaving the rest to the PV controller.
 */
export interface VolumeBinder {
  setSelectedNode(claim: ClaimRef, nodeName: string, signal?: AbortSignal): Promise<void>;
  bindVolume?(pvName: string, claim: ClaimRef, signal?: AbortSignal): Promise<void>;
}

/** A VolumeBinder that records the writes; for tests and the simulated cluster. */
export class InMemoryVolumeBinder implements VolumeBinder {
  /** `namespace/name` → node. */
  readonly selectedNodes = new Map<string, string>();
  /** PV name → `namespace/name`. */
  readonly boundVolumes = new Map<string, string>();
  /** When set, every call rejects with it. */
  failWith: Error | undefined;

  async setSelectedNode(claim: ClaimRef, nodeName: string): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.selectedNodes.set(`${claim.namespace}/${claim.name}`, nodeName);
  }

  async bindVolume(pvName: string, claim: ClaimRef): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.boundVolumes.set(pvName, `${claim.namespace}/${claim.name}`);
  }
}

export interface VolumeBindingArgs {
  bindTimeoutSeconds: number;
}

interface StaticBinding {
  readonly pv: Readonly<PersistentVolume>;
  readonly pvc: Readonly<PersistentVolumeClaim>;
}

/** What the pod's unbound claims need on one node. */
export interface PodVolumes {
  readonly staticBindings: readonly StaticBinding[];
  readonly dynamicProvisions: readonly Readonly<PersistentVolumeClaim>[];
}

interface PodVolumeClaims {
  readonly bound: readonly Readonly<PersistentVolumeClaim>[];
  /** Unbound WaitForFirstConsumer claims: the scheduler's to bind. */
  readonly delayed: readonly Readonly<PersistentVolumeClaim>[];
}

const STATE_KEY = NAME;

class VolumeBindingState implements StateData {
  allBound = false;
  /** Filter's findings per feasible node; Reserve and PreBind use the chosen node's. */
  readonly podVolumesByNode = new Map<string, PodVolumes>();

  constructor(readonly claims: PodVolumeClaims | undefined) {}

  /** Shared, as upstream: preemption's copies only add entries for more nodes. */
  clone(): VolumeBindingState {
    return this;
  }
}

function claimKey(pvc: Readonly<PersistentVolumeClaim>): string {
  return `${pvc.metadata?.namespace ?? ''}/${pvc.metadata?.name ?? ''}`;
}

function requestedStorage(pvc: Readonly<PersistentVolumeClaim>): number {
  return quantityValue(pvc.spec?.resources?.requests?.storage as string | undefined);
}

function isFullyBound(pvc: Readonly<PersistentVolumeClaim>): boolean {
  return !!pvc.spec?.volumeName && pvc.metadata?.annotations?.[ANN_BIND_COMPLETED] !== undefined;
}

/** StorageClass allowedTopologies: any term whose every expression has the node's label value. */
function allowedTopologiesMatch(sc: Readonly<StorageClass>, labels: Readonly<Record<string, string>>): boolean {
  const terms = sc.allowedTopologies ?? [];
  if (terms.length === 0) return true;
  return terms.some((t) => (t.matchLabelExpressions ?? []).every((e) => Object.prototype.hasOwnProperty.call(labels, e.key) && e.values.includes(labels[e.key]!)));
}

/**
 * Node names a PV's required node affinity pins it to through `kubernetes.io/hostname In (...)`, as
 * upstream's GetLocalPersistentVolumeNodeNames (terms are ORed, expressions within a term ANDed).
 */
export function pvHostnameNodeNames(pv: Readonly<PersistentVolume>): string[] {
  const terms = pv.spec?.nodeAffinity?.required?.nodeSelectorTerms;
  if (!terms) return [];
  const result = new Set<string>();
  for (const t of terms) {
    let nodes: Set<string> | undefined;
    for (const e of t.matchExpressions ?? []) {
      if (e.key !== LABEL_HOSTNAME || e.operator !== 'In') continue;
      const values = new Set(e.values ?? []);
      nodes = nodes ? new Set([...nodes].filter((n) => values.has(n))) : values;
    }
    for (const n of nodes ?? []) result.add(n);
  }
  return [...result].sort();
}

class VolumeBindingPlugin implements PreFilterPlugin, FilterPlugin, ReservePlugin, PreBindPlugin, EnqueueExtensions {
  readonly name = NAME;
  /** PV name → `namespace/claim` it is assumed bound to (chosen in Reserve, not yet visible in the lister). */
  private readonly assumedVolumes = new Map<string, string>();
  /** `namespace/claim` → node assumed selected for its provisioning. */
  private readonly assumedSelectedNodes = new Map<string, string>();

  constructor(
    private readonly handle: FrameworkHandle,
    private readonly binder: VolumeBinder,
  ) {}

  /** The claim a PV is bound to, counting assumed bindings not yet visible in the lister. */
  private claimRefOf(pv: Readonly<PersistentVolume>): { namespace: string; name: string; uid?: string } | undefined {
    const name = pv.metadata?.name ?? '';
    const ref = pv.spec?.claimRef;
    if (ref) {
      this.assumedVolumes.delete(name);
      return { namespace: ref.namespace ?? '', name: ref.name ?? '', ...(ref.uid ? { uid: ref.uid } : {}) };
    }
    const assumed = this.assumedVolumes.get(name);
    if (!assumed) return undefined;
    const i = assumed.indexOf('/');
    return { namespace: assumed.slice(0, i), name: assumed.slice(i + 1) };
  }

  private selectedNodeOf(pvc: Readonly<PersistentVolumeClaim>): string | undefined {
    const key = claimKey(pvc);
    const annotated = pvc.metadata?.annotations?.[ANN_SELECTED_NODE];
    if (annotated !== undefined) {
      this.assumedSelectedNodes.delete(key);
      return annotated;
    }
    return this.assumedSelectedNodes.get(key);
  }

  private boundTo(pv: Readonly<PersistentVolume>, pvc: Readonly<PersistentVolumeClaim>): boolean {
    const ref = this.claimRefOf(pv);
    if (!ref || ref.name !== (pvc.metadata?.name ?? '') || ref.namespace !== (pvc.metadata?.namespace ?? '')) return false;
    return !ref.uid || ref.uid === pvc.metadata?.uid;
  }

  /** Sorts the pod's claims, or says why the pod cannot be scheduled at all. */
  private podClaims(pod: Readonly<Pod>): { claims?: PodVolumeClaims; status?: Status } {
    const ns = pod.metadata?.namespace ?? '';
    const bound: Readonly<PersistentVolumeClaim>[] = [];
    const delayed: Readonly<PersistentVolumeClaim>[] = [];
    let immediate = 0;
    for (const v of pod.spec?.volumes ?? []) {
      const ref = volumeClaimName(pod, v);
      if (!ref) continue;
      const pvc = this.handle.persistentVolumeClaims.get(ns, ref.name);
      if (!pvc) {
        // Normal for a moment after creating a pod with generic ephemeral volumes.
        const msg = ref.ephemeral ? `waiting for ephemeral volume controller to create the persistentvolumeclaim "${ref.name}"` : claimNotFound(ref.name);
        return { status: unresolvable(msg) };
      }
      if (pvc.status?.phase === 'Lost') return { status: unresolvable(`persistentvolumeclaim "${ref.name}" bound to non-existent persistentvolume "${pvc.spec?.volumeName ?? ''}"`) };
      if (pvc.metadata?.deletionTimestamp) return { status: unresolvable(`persistentvolumeclaim "${ref.name}" is being deleted`) };
      if (ref.ephemeral) {
        const owner = (pvc.metadata?.ownerReferences ?? []).find((o) => o.controller === true);
        if (!owner || owner.uid !== pod.metadata?.uid) {
          return { status: unresolvable(`PVC ${ns}/${ref.name} was not created for pod ${ns}/${pod.metadata?.name ?? ''} (pod is not owner)`) };
        }
      }
      if (isFullyBound(pvc)) {
        bound.push(pvc);
        continue;
      }
      const delay = this.isDelayBinding(pvc);
      if (delay instanceof Error) return { status: errorStatus(delay) };
      // A claim naming its volume but not yet bound is the PV controller's (immediate) business.
      if (delay && !pvc.spec?.volumeName) delayed.push(pvc);
      else immediate++;
    }
    if (bound.length + delayed.length + immediate === 0) return {};
    if (immediate > 0) return { status: unresolvable(ErrReasonUnboundImmediateClaims) };
    return { claims: { bound, delayed } };
  }

  private isDelayBinding(pvc: Readonly<PersistentVolumeClaim>): boolean | Error {
    const className = claimClass(pvc);
    if (className === '') return false;
    const sc = this.handle.storageClasses.get(undefined, className);
    if (!sc) return false;
    if (!sc.volumeBindingMode) return new Error(`VolumeBindingMode not set for StorageClass "${className}"`);
    return sc.volumeBindingMode === 'WaitForFirstConsumer';
  }

  preFilter(state: CycleState, pod: Readonly<Pod>, _nodes: readonly NodeInfo[]): { result?: PreFilterResult; status?: Status } {
    const hasClaims = (pod.spec?.volumes ?? []).some((v) => volumeClaimName(pod, v) !== undefined);
    if (!hasClaims) {
      state.write(STATE_KEY, new VolumeBindingState(undefined));
      return { status: skip() };
    }
    const { claims, status } = this.podClaims(pod);
    if (status) return { status };
    state.write(STATE_KEY, new VolumeBindingState(claims));
    const eligible = this.eligibleNodes(claims?.bound ?? []);
    return eligible ? { result: { nodeNames: eligible } } : {};
  }

  /** Bound PVs pinned to hostnames narrow the nodes worth filtering; undefined means no narrowing. */
  private eligibleNodes(bound: readonly Readonly<PersistentVolumeClaim>[]): Set<string> | undefined {
    let eligible: Set<string> | undefined;
    for (const pvc of bound) {
      const pv = this.handle.persistentVolumes.get(undefined, pvc.spec?.volumeName ?? '');
      if (!pv) return undefined;
      const names = pvHostnameNodeNames(pv);
      if (names.length === 0) continue;
      eligible = eligible ? new Set(names.filter((n) => eligible!.has(n))) : new Set(names);
    }
    return eligible;
  }

  filter(state: CycleState, _pod: Readonly<Pod>, nodeInfo: NodeInfo): MaybeStatus {
    const node = nodeInfo.node;
    if (!node) return errorStatus(new Error('node not found'));
    const s = state.read<VolumeBindingState>(STATE_KEY);
    if (!s) return errorStatus(new Error(`reading "${STATE_KEY}" from cycleState: not found`));
    if (!s.claims) return undefined;
    const found = this.findPodVolumes(s.claims, nodeInfo);
    if (found instanceof Error) return errorStatus(found);
    if (found.reasons.length > 0) return unresolvable(...found.reasons);
    s.podVolumesByNode.set(nodeInfo.name, found.podVolumes);
    return undefined;
  }

  /** upstream's FindPodVolumes: why the node cannot serve the pod's claims, or what binding it needs. */
  private findPodVolumes(claims: PodVolumeClaims, nodeInfo: NodeInfo): { podVolumes: PodVolumes; reasons: string[] } | Error {
    const labels = nodeInfo.node?.metadata?.labels ?? {};
    let boundSatisfied = true;
    let boundPVsFound = true;
    let unboundSatisfied = true;
    const staticBindings: StaticBinding[] = [];
    let dynamicProvisions: Readonly<PersistentVolumeClaim>[] = [];
    for (const pvc of claims.bound) {
      const pv = this.handle.persistentVolumes.get(undefined, pvc.spec?.volumeName ?? '');
      if (!pv) {
        boundPVsFound = false;
        break;
      }
      if (!pvNodeAffinityMatches(pv, labels)) {
        boundSatisfied = false;
        break;
      }
    }
    const reasons = (): string[] => [
      ...(boundSatisfied ? [] : [ErrReasonNodeConflict]),
      ...(unboundSatisfied ? [] : [ErrReasonBindConflict]),
      ...(boundPVsFound ? [] : [ErrReasonPVNotExist]),
    ];
    const toFind: Readonly<PersistentVolumeClaim>[] = [];
    const toProvision: Readonly<PersistentVolumeClaim>[] = [];
    for (const pvc of claims.delayed) {
      const selected = this.selectedNodeOf(pvc);
      if (selected === undefined) toFind.push(pvc);
      else if (selected === nodeInfo.name) toProvision.push(pvc);
      else {
        // Already being provisioned for another node.
        unboundSatisfied = false;
        return { podVolumes: { staticBindings: [], dynamicProvisions: [] }, reasons: reasons() };
      }
    }
    if (toFind.length > 0) {
      const chosen = new Set<string>();
      // Smallest requests first, so each gets the smallest PV that fits.
      for (const pvc of [...toFind].sort((a, b) => requestedStorage(a) - requestedStorage(b))) {
        const pv = this.findMatchingVolume(pvc, nodeInfo, chosen);
        if (!pv) {
          toProvision.push(pvc);
          unboundSatisfied = false;
          continue;
        }
        chosen.add(pv.metadata?.name ?? '');
        staticBindings.push({ pv, pvc });
      }
    }
    if (toProvision.length > 0) {
      const r = this.checkVolumeProvisions(toProvision, labels);
      if (r instanceof Error) return r;
      unboundSatisfied = r !== undefined;
      dynamicProvisions = r ?? [];
    }
    return { podVolumes: { staticBindings, dynamicProvisions }, reasons: reasons() };
  }

  /** upstream's FindMatchingVolume on the scheduler path: a PV pre-bound to the claim, or the smallest available one that fits. */
  private findMatchingVolume(pvc: Readonly<PersistentVolumeClaim>, nodeInfo: NodeInfo, excluded: ReadonlySet<string>): Readonly<PersistentVolume> | undefined {
    const requested = requestedStorage(pvc);
    const className = claimClass(pvc);
    const selector = pvc.spec?.selector ? fromLabelSelector(pvc.spec.selector) : undefined;
    const claimMode = pvc.spec?.volumeMode ?? 'Filesystem';
    const labels = nodeInfo.node?.metadata?.labels ?? {};
    let smallest: Readonly<PersistentVolume> | undefined;
    let smallestSize = 0;
    for (const pv of this.handle.persistentVolumes.list()) {
      const name = pv.metadata?.name ?? '';
      // Upstream lists only the claim's class's PVs from its cache.
      if (volumeClass(pv) !== className) continue;
      if (excluded.has(name)) continue;
      if (this.claimRefOf(pv) && !this.boundTo(pv, pvc)) continue;
      const size = quantityValue(pv.spec?.capacity?.storage as string | undefined);
      if (size < requested) continue;
      if ((pv.spec?.volumeMode ?? 'Filesystem') !== claimMode) continue;
      if (pv.metadata?.deletionTimestamp) continue;
      const affinityOk = pvNodeAffinityMatches(pv, labels);
      // A PV pre-bound to this claim is the answer, if the node can reach it.
      if (this.boundTo(pv, pvc)) return affinityOk ? pv : undefined;
      if (pv.status?.phase !== 'Available') continue;
      if (selector && !matches(selector, pv.metadata?.labels)) continue;
      if (!affinityOk) continue;
      const modes = pv.spec?.accessModes ?? [];
      if (!(pvc.spec?.accessModes ?? []).every((m) => modes.includes(m))) continue;
      if (!smallest || size < smallestSize) {
        smallest = pv;
        smallestSize = size;
      }
    }
    return smallest;
  }

  /** The claims if all can be provisioned dynamically for a node with these labels; undefined if not. */
  private checkVolumeProvisions(claims: readonly Readonly<PersistentVolumeClaim>[], labels: Readonly<Record<string, string>>): Readonly<PersistentVolumeClaim>[] | undefined | Error {
    for (const pvc of claims) {
      const className = claimClass(pvc);
      if (className === '') return new Error(`no class for claim "${claimKey(pvc)}"`);
      const sc = this.handle.storageClasses.get(undefined, className);
      if (!sc) return new Error(`failed to find storage class "${className}"`);
      if (!sc.provisioner || sc.provisioner === NOT_SUPPORTED_PROVISIONER) return undefined;
      if (!allowedTopologiesMatch(sc, labels)) return undefined;
    }
    return [...claims];
  }

  reserve(state: CycleState, _pod: Readonly<Pod>, nodeName: string): MaybeStatus {
    const s = state.read<VolumeBindingState>(STATE_KEY);
    if (!s) return errorStatus(new Error(`reading "${STATE_KEY}" from cycleState: not found`));
    const pv = s.podVolumesByNode.get(nodeName);
    if (!pv || (pv.staticBindings.length === 0 && pv.dynamicProvisions.length === 0)) {
      s.allBound = true;
      return undefined;
    }
    for (const b of pv.staticBindings) {
      const name = b.pv.metadata?.name ?? '';
      const holder = this.assumedVolumes.get(name);
      if (holder !== undefined && holder !== claimKey(b.pvc)) {
        this.unassume(pv);
        return errorStatus(new Error(`volume "${name}" already assumed bound to claim "${holder}"`));
      }
      if (!b.pv.spec?.claimRef) this.assumedVolumes.set(name, claimKey(b.pvc));
    }
    for (const c of pv.dynamicProvisions) this.assumedSelectedNodes.set(claimKey(c), nodeName);
    s.allBound = false;
    return undefined;
  }

  unreserve(state: CycleState, _pod: Readonly<Pod>, nodeName: string): void {
    const pv = state.read<VolumeBindingState>(STATE_KEY)?.podVolumesByNode.get(nodeName);
    if (pv) this.unassume(pv);
  }

  private unassume(pv: PodVolumes): void {
    for (const b of pv.staticBindings) {
      const name = b.pv.metadata?.name ?? '';
      if (this.assumedVolumes.get(name) === claimKey(b.pvc)) this.assumedVolumes.delete(name);
    }
    for (const c of pv.dynamicProvisions) this.assumedSelectedNodes.delete(claimKey(c));
  }

  async preBind(state: CycleState, _pod: Readonly<Pod>, nodeName: string, signal?: AbortSignal): Promise<MaybeStatus> {
    const s = state.read<VolumeBindingState>(STATE_KEY);
    if (!s) return errorStatus(new Error(`reading "${STATE_KEY}" from cycleState: not found`));
    if (s.allBound) return undefined;
    const pv = s.podVolumesByNode.get(nodeName);
    if (!pv) return errorStatus(new Error(`no pod volumes found for node "${nodeName}"`));
    const ref = (c: Readonly<PersistentVolumeClaim>): ClaimRef => ({ namespace: c.metadata?.namespace ?? '', name: c.metadata?.name ?? '' });
    try {
      if (this.binder.bindVolume) for (const b of pv.staticBindings) await this.binder.bindVolume(b.pv.metadata?.name ?? '', ref(b.pvc), signal);
      for (const c of pv.dynamicProvisions) await this.binder.setSelectedNode(ref(c), nodeName, signal);
    } catch (e) {
      return errorStatus(e);
    }
    return undefined;
  }

  /** Assumed bindings, for tests and debugging. */
  assumed(): { volumes: ReadonlyMap<string, string>; selectedNodes: ReadonlyMap<string, string> } {
    return { volumes: this.assumedVolumes, selectedNodes: this.assumedSelectedNodes };
  }

  eventsToRegister(): readonly ClusterEventWithHint[] {
    const claimOfPod = (pod: Readonly<Pod>, obj: unknown): 'Queue' | 'QueueSkip' => {
      const pvc = obj as PersistentVolumeClaim | undefined;
      if (!pvc || pvc.metadata?.namespace !== pod.metadata?.namespace) return 'QueueSkip';
      return (pod.spec?.volumes ?? []).some((v) => volumeClaimName(pod, v)?.name === pvc.metadata?.name) ? 'Queue' : 'QueueSkip';
    };
    return [
      // A missing or mis-configured class (allowedTopologies, binding mode) may be fixed.
      {
        event: { resource: 'StorageClass', actionType: ActionType.Add | ActionType.Update },
        hint: (_pod, o, n) => (o === undefined || JSON.stringify((o as StorageClass).allowedTopologies ?? []) !== JSON.stringify((n as StorageClass | undefined)?.allowedTopologies ?? []) ? 'Queue' : 'QueueSkip'),
      },
      // Claims and volumes getting created or bound.
      { event: { resource: 'PersistentVolumeClaim', actionType: ActionType.Add | ActionType.Update }, hint: (pod, _o, n) => claimOfPod(pod, n) },
      { event: { resource: 'PersistentVolume', actionType: ActionType.Add | ActionType.Update } },
      // New or relabelled nodes may satisfy PV node affinity or class topologies.
      { event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel | ActionType.UpdateNodeTaint } },
      { event: { resource: 'CSINode', actionType: ActionType.Add | ActionType.Update } },
    ];
  }
}

function isVolumeBinder(v: unknown): v is VolumeBinder {
  return typeof v === 'object' && v !== null && typeof (v as { setSelectedNode?: unknown }).setSelectedNode === 'function';
}

/** A binder for a scheduler nobody wired: PreBind fails for pods that need a provisioning decision written. */
const UNWIRED_BINDER: VolumeBinder = {
  async setSelectedNode(claim) {
    throw new Error(`cannot select a node for claim "${claim.namespace}/${claim.name}": no VolumeBinder configured`);
  },
};

function parseArgs(args: Record<string, unknown> | undefined): VolumeBindingArgs {
  const t = args?.bindTimeoutSeconds ?? 600;
  if (typeof t !== 'number' || t < 0) throw new ConfigError('bindTimeoutSeconds', `Invalid value: ${String(t)}: invalid BindTimeoutSeconds, should not be a negative value`);
  return { bindTimeoutSeconds: t };
}

/** A VolumeBinding factory whose plugins write through `binder`. */
export function volumeBindingWith(binder: VolumeBinder): PluginFactory {
  return {
    name: NAME,
    defaultArgs: () => ({ bindTimeoutSeconds: 600 }),
    create(args, handle) {
      parseArgs(args);
      return new VolumeBindingPlugin(handle, binder);
    },
  };
}

/** VolumeBinding; the binder comes from `args.binder` (not part of the configuration file) or is unwired. */
export const VolumeBinding: PluginFactory = {
  name: NAME,
  defaultArgs: () => ({ bindTimeoutSeconds: 600 }),
  create(args, handle) {
    parseArgs(args);
    const binder = args?.binder;
    return new VolumeBindingPlugin(handle, isVolumeBinder(binder) ? binder : UNWIRED_BINDER);
  },
};

export type { VolumeBindingPlugin };
