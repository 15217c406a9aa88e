// The scheduling framework's contract, after upstream's pkg/scheduler/framework/interface.go: one
// small interface per extension point, so a plugin implements only the points it needs and the type
// checker proves it. Expected outcomes (unschedulable, skip, wait) are returned `Status` values;
// exceptions are for bugs and infrastructure.

import type { Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, ReplicationController, Service } from 'kubernetes-types/core/v1.js';
import type { ReplicaSet, StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { CSINode, StorageClass } from 'kubernetes-types/storage/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import type { Lister } from '../../client/lister.js';
import type { NodeInfo } from './nodeInfo.js';
import type { CycleState } from './cycleState.js';

/** Status codes as upstream's framework.Code; the numbers are upstream's too. */
export const enum Code {
  Success = 0,
  /** An internal error: the pod is retried with back-off, not marked unschedulable. */
  Error = 1,
  /** The pod does not fit now; preemption may help. */
  Unschedulable = 2,
  /** The pod does not fit and preemption cannot help on this node (e.g. a node selector mismatch). */
  UnschedulableAndUnresolvable = 3,
  /** Permit: wait for an allow/reject. */
  Wait = 4,
  /** The plugin has nothing to do for this pod: its later extension points are skipped. */
  Skip = 5,
  /** PreEnqueue/Permit: waiting on something external, not a scheduling failure. */
  Pending = 6,
}

export interface Status {
  readonly code: Code;
  /** Human reasons, aggregated into the FailedScheduling message (`Insufficient memory`). */
  readonly reasons: readonly string[];
  /** The plugin that returned it; set by the framework runner. */
  plugin?: string;
  readonly error?: Error;
}

/** A filter or extension point that has no opinion returns `undefined`, which means Success. */
export type MaybeStatus = Status | undefined;

export const MAX_NODE_SCORE = 100;
export const MIN_NODE_SCORE = 0;

export interface NodeScore {
  readonly name: string;
  score: number;
}

/** PreFilter may narrow the nodes worth filtering (NodeName, NodeAffinity); undefined = all. */
export interface PreFilterResult {
  readonly nodeNames?: ReadonlySet<string>;
}

/** The cluster as the scheduler sees it for one cycle: one snapshot, taken once. */
export interface NodeInfoLister {
  list(): readonly NodeInfo[];
  get(nodeName: string): NodeInfo | undefined;
  /** Nodes that hold at least one pod with (anti-)affinity terms. */
  havePodsWithAffinityList(): readonly NodeInfo[];
  /** Nodes that hold at least one pod with required anti-affinity terms. */
  havePodsWithRequiredAntiAffinityList(): readonly NodeInfo[];
}

/** What plugins may read besides the snapshot. Every lister is an informer cache. */
export interface FrameworkHandle {
  snapshot(): NodeInfoLister;
  readonly namespaces: Lister<Namespace>;
  readonly services: Lister<Service>;
  readonly replicationControllers: Lister<ReplicationController>;
  readonly replicaSets: Lister<ReplicaSet>;
  readonly statefulSets: Lister<StatefulSet>;
  readonly persistentVolumeClaims: Lister<PersistentVolumeClaim>;
  readonly persistentVolumes: Lister<PersistentVolume>;
  readonly storageClasses: Lister<StorageClass>;
  readonly csiNodes: Lister<CSINode>;
  readonly podDisruptionBudgets: Lister<PodDisruptionBudget>;
  /** Runs the framework's filters of a profile on one node (preemption's what-if). */
  runFilterPluginsWithNominatedPods?(state: CycleState, pod: Pod, nodeInfo: NodeInfo): MaybeStatus;
}

export interface Plugin {
  /** Upstream's plugin name (`TaintToleration`); config and statuses refer to it. */
  readonly name: string;
}

export interface PreEnqueuePlugin extends Plugin {
  /** Called before a pod enters the active queue; non-success keeps it out (schedulingGates). */
  preEnqueue(pod: Readonly<Pod>): MaybeStatus;
}

export interface QueuedPodInfo {
  readonly pod: Readonly<Pod>;
  /** When the pod was first added to the queue (ms since epoch); ties in priority go to the oldest. */
  readonly initialAttemptTimestamp: number;
  /** When it was last (re)added to the queue. */
  timestamp: number;
  attempts: number;
  /** Plugins that rejected it in its last attempt; only their events move it back. */
  unschedulablePlugins: Set<string>;
  pendingPlugins: Set<string>;
}

export interface QueueSortPlugin extends Plugin {
  less(a: QueuedPodInfo, b: QueuedPodInfo): boolean;
}

export interface PreFilterExtensions {
  /** Preemption's what-if: account for `podToAdd` now being on `nodeInfo`. */
  addPod(state: CycleState, podToSchedule: Readonly<Pod>, podToAdd: PodInfoRef, nodeInfo: NodeInfo): MaybeStatus;
  /** Preemption's what-if: account for `podToRemove` no longer being on `nodeInfo`. */
  removePod(state: CycleState, podToSchedule: Readonly<Pod>, podToRemove: PodInfoRef, nodeInfo: NodeInfo): MaybeStatus;
}

/** A pod on a node as NodeInfo holds it (see nodeInfo.ts PodInfo). */
export type PodInfoRef = import('./nodeInfo.js').PodInfo;

export interface PreFilterPlugin extends Plugin {
  /** Computes per-cycle state into `state`; Skip skips this plugin's Filter for the pod. */
  preFilter(state: CycleState, pod: Readonly<Pod>, nodes: readonly NodeInfo[]): { result?: PreFilterResult; status?: Status };
  preFilterExtensions?(): PreFilterExtensions | undefined;
}

export interface FilterPlugin extends Plugin {
  /** Whether the pod can run on the node. Must not change `state` (it runs once per node). */
  filter(state: CycleState, pod: Readonly<Pod>, nodeInfo: NodeInfo): MaybeStatus;
}

/** Per node, the status that rejected the pod there; PostFilter and the event message use it. */
export type NodeToStatus = ReadonlyMap<string, Status>;

export interface PostFilterResult {
  readonly nominatedNodeName?: string;
}

export interface PostFilterPlugin extends Plugin {
  /** Runs when no node fits (preemption). */
  postFilter(state: CycleState, pod: Readonly<Pod>, filteredNodeStatus: NodeToStatus, signal?: AbortSignal): Promise<{ result?: PostFilterResult; status: Status }>;
}

export interface PreScorePlugin extends Plugin {
  /** Per-cycle state for Score over the feasible `nodes`; Skip skips this plugin's Score. */
  preScore(state: CycleState, pod: Readonly<Pod>, nodes: readonly NodeInfo[]): MaybeStatus;
}

export interface ScorePlugin extends Plugin {
  /** A score for the node, or a Status on error. Scores are normalized to 0..MAX_NODE_SCORE. */
  score(state: CycleState, pod: Readonly<Pod>, nodeInfo: NodeInfo): number | Status;
  /** Rescales the raw scores in place to 0..MAX_NODE_SCORE. */
  normalizeScore?(state: CycleState, pod: Readonly<Pod>, scores: NodeScore[]): MaybeStatus;
}

export interface ReservePlugin extends Plugin {
  reserve(state: CycleState, pod: Readonly<Pod>, nodeName: string): MaybeStatus | Promise<MaybeStatus>;
  /** Undo reserve; must be idempotent and may be called without a matching reserve. */
  unreserve(state: CycleState, pod: Readonly<Pod>, nodeName: string): void | Promise<void>;
}

export interface PermitPlugin extends Plugin {
  /** Success, Wait (with a timeout) or a rejection. */
  permit(state: CycleState, pod: Readonly<Pod>, nodeName: string): { status?: Status; timeoutMs?: number };
}

export interface PreBindPlugin extends Plugin {
  preBind(state: CycleState, pod: Readonly<Pod>, nodeName: string, signal?: AbortSignal): Promise<MaybeStatus>;
}

export interface BindPlugin extends Plugin {
  /** Skip lets the next bind plugin handle the pod. */
  bind(state: CycleState, pod: Readonly<Pod>, nodeName: string, signal?: AbortSignal): Promise<MaybeStatus>;
}

export interface PostBindPlugin extends Plugin {
  postBind(state: CycleState, pod: Readonly<Pod>, nodeName: string): void;
}

/** Kinds of objects whose changes can make a pod schedulable. */
export type EventResource =
  | 'Pod'
  | 'AssignedPod'
  | 'UnscheduledPod'
  | 'Node'
  | 'PersistentVolume'
  | 'PersistentVolumeClaim'
  | 'StorageClass'
  | 'CSINode'
  | 'Namespace'
  | 'Service'
  | 'WildCard';

/** Action bits as upstream's framework.ActionType. */
export const ActionType = {
  Add: 1,
  Delete: 2,
  UpdateNodeAllocatable: 4,
  UpdateNodeLabel: 8,
  UpdateNodeTaint: 16,
  UpdateNodeCondition: 32,
  UpdateNodeAnnotation: 64,
  UpdatePodLabel: 128,
  UpdatePodScaleDown: 256,
  UpdatePodTolerations: 512,
  UpdatePodSchedulingGatesEliminated: 1024,
  /** Any update of a kind that has no finer bits (PVC, PV, StorageClass…). */
  UpdateOther: 2048,
  Update: 4 | 8 | 16 | 32 | 64 | 128 | 256 | 512 | 1024 | 2048,
  All: 0xffff,
} as const;

export interface ClusterEvent {
  readonly resource: EventResource;
  /** A mask of ActionType bits. */
  readonly actionType: number;
}

export type QueueingHint = 'Queue' | 'QueueSkip';

export interface ClusterEventWithHint {
  readonly event: ClusterEvent;
  /** Whether this particular change may make `pod` schedulable; absent = always Queue. */
  readonly hint?: (pod: Readonly<Pod>, oldObj: unknown, newObj: unknown) => QueueingHint;
}

export interface EnqueueExtensions {
  /** The cluster events after which a pod this plugin rejected is worth retrying. */
  eventsToRegister(): readonly ClusterEventWithHint[];
}

/** Builds a plugin from its (already defaulted) args; throws ConfigError on bad args. */
export interface PluginFactory {
  readonly name: string;
  /** The plugin's default args as KubeSchedulerConfiguration v1 defaults them; undefined if it takes none. */
  defaultArgs?(): Record<string, unknown>;
  create(args: Record<string, unknown> | undefined, handle: FrameworkHandle): Plugin;
}

/** A scheduler configuration error, naming the field as upstream's validation does. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

// Status builders: one place, so plugins do not spell objects by hand.
const SUCCESS: Status = Object.freeze({ code: Code.Success, reasons: Object.freeze([]) as readonly string[] });

export function success(): Status {
  return SUCCESS;
}

export function unschedulable(...reasons: string[]): Status {
  return { code: Code.Unschedulable, reasons };
}

export function unresolvable(...reasons: string[]): Status {
  return { code: Code.UnschedulableAndUnresolvable, reasons };
}

export function skip(): Status {
  return { code: Code.Skip, reasons: [] };
}

export function errorStatus(error: unknown): Status {
  const err = error instanceof Error ? error : new Error(String(error));
  return { code: Code.Error, reasons: [err.message], error: err };
}

export function isSuccess(s: MaybeStatus): boolean {
  return s === undefined || s.code === Code.Success;
}

/** Unschedulable or UnschedulableAndUnresolvable: the pod is rejected, not failed. */
export function isRejected(s: MaybeStatus): boolean {
  return s !== undefined && (s.code === Code.Unschedulable || s.code === Code.UnschedulableAndUnresolvable);
}

export function isPlugin<K extends keyof AllExtensionPoints>(p: Plugin, point: K): p is Plugin & AllExtensionPoints[K] {
  return typeof (p as unknown as Record<string, unknown>)[METHOD_OF[point]] === 'function';
}

export interface AllExtensionPoints {
  preEnqueue: PreEnqueuePlugin;
  queueSort: QueueSortPlugin;
  preFilter: PreFilterPlugin;
  filter: FilterPlugin;
  postFilter: PostFilterPlugin;
  preScore: PreScorePlugin;
  score: ScorePlugin;
  reserve: ReservePlugin;
  permit: PermitPlugin;
  preBind: PreBindPlugin;
  bind: BindPlugin;
  postBind: PostBindPlugin;
  enqueue: EnqueueExtensions;
}

const METHOD_OF: Record<keyof AllExtensionPoints, string> = {
  preEnqueue: 'preEnqueue',
  queueSort: 'less',
  preFilter: 'preFilter',
  filter: 'filter',
  postFilter: 'postFilter',
  preScore: 'preScore',
  score: 'score',
  reserve: 'reserve',
  permit: 'permit',
  preBind: 'preBind',
  bind: 'bind',
  postBind: 'postBind',
  enqueue: 'eventsToRegister',
};
