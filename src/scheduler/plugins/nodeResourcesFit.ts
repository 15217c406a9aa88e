// NodeResourcesFit: PreFilter sums the pod's requests; Filter rejects nodes without room for them;
// Score ranks the feasible nodes by a scoring strategy (LeastAllocated by default). After upstream's
// noderesources/fit.go and its least/most/requested-to-capacity-ratio scorers.

import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { NodeInfo, Resource, podRequests } from '../framework/nodeInfo.js';
import type { CycleState, StateData } from '../framework/cycleState.js';
import {
  ActionType,
  Code,
  MAX_NODE_SCORE,
  errorStatus,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type MaybeStatus,
  type PluginFactory,
  type PreFilterPlugin,
  type PreFilterResult,
  type PreScorePlugin,
  type QueueingHint,
  type ScorePlugin,
  type Status,
} from '../framework/types.js';
import { invalidValue, notSupported, required, type FieldError } from '../../apiserver/status.js';
import { qualifiedNameErrors } from '../../api/nodeSelector.js';
import { optionalArray, optionalInteger, optionalObject, optionalString, optionalStringArray, throwFirst } from './pluginArgs.js';
import {
  defaultResourceSpecs,
  mulDiv,
  parseResourceSpecs,
  podResourceRequestList,
  resourceAllocationScore,
  resourceSpecErrors,
  type ResourceScorer,
  type ResourceSpec,
} from './resourceAllocation.js';

export const NAME = 'NodeResourcesFit';
const PRE_FILTER_STATE_KEY = `PreFilter${NAME}`;
const PRE_SCORE_STATE_KEY = `PreScore${NAME}`;

export const REASON_TOO_MANY_PODS = 'Too many pods';
export const REASON_INSUFFICIENT_CPU = 'Insufficient cpu';
export const REASON_INSUFFICIENT_MEMORY = 'Insufficient memory';
export const REASON_INSUFFICIENT_EPHEMERAL_STORAGE = 'Insufficient ephemeral-storage';

/** The reason for any resource (`Insufficient example.com/gpu`). */
export function insufficientReason(resourceName: string): string {
  return `Insufficient ${resourceName}`;
}

export type ScoringStrategyType = 'LeastAllocated' | 'MostAllocated' | 'RequestedToCapacityRatio';
const SCORING_STRATEGY_TYPES: readonly ScoringStrategyType[] = ['LeastAllocated', 'MostAllocated', 'RequestedToCapacityRatio'];

/** One point of a RequestedToCapacityRatio shape: utilization 0..100 → score 0..10. */
export interface UtilizationShapePoint {
  readonly utilization: number;
  readonly score: number;
}

export interface NodeResourcesFitArgs {
  /** Extended resources the filter does not check (`example.com/foo`). */
  readonly ignoredResources: readonly string[];
  /** Extended-resource domains the filter does not check (`example.com`). */
  readonly ignoredResourceGroups: readonly string[];
  readonly scoringStrategy: {
    readonly type: string;
    readonly resources: readonly ResourceSpec[];
    readonly requestedToCapacityRatio?: { readonly shape: readonly UtilizationShapePoint[] };
  };
}

/** The highest score a RequestedToCapacityRatio shape point may give (scaled ×10 to MAX_NODE_SCORE). */
export const MAX_CUSTOM_PRIORITY_SCORE = 10;
const MAX_UTILIZATION = 100;

/** Parses args and applies KubeSchedulerConfiguration v1 defaulting (LeastAllocated over cpu+memory, weight 0 → 1). */
export function parseNodeResourcesFitArgs(raw: Record<string, unknown> | undefined): NodeResourcesFitArgs {
  const args = raw ?? {};
  const ss = optionalObject(args.scoringStrategy, 'scoringStrategy');
  const rtcr = optionalObject(ss?.requestedToCapacityRatio, 'scoringStrategy.requestedToCapacityRatio');
  const shape = optionalArray(rtcr?.shape, 'scoringStrategy.requestedToCapacityRatio.shape')?.map((p, i) => {
    const field = `scoringStrategy.requestedToCapacityRatio.shape[${i}]`;
    const o = optionalObject(p, field) ?? {};
    return { utilization: optionalInteger(o.utilization, `${field}.utilization`) ?? 0, score: optionalInteger(o.score, `${field}.score`) ?? 0 };
  });
  const resources = parseResourceSpecs(ss?.resources, 'scoringStrategy.resources');
  return {
    ignoredResources: optionalStringArray(args.ignoredResources, 'ignoredResources') ?? [],
    ignoredResourceGroups: optionalStringArray(args.ignoredResourceGroups, 'ignoredResourceGroups') ?? [],
    scoringStrategy: {
      type: ss ? optionalString(ss.type, 'scoringStrategy.type') ?? '' : 'LeastAllocated',
      resources: resources && resources.length > 0 ? resources : defaultResourceSpecs(),
      ...(rtcr ? { requestedToCapacityRatio: { shape: shape ?? [] } } : {}),
    },
  };
}

/** Upstream's ValidateNodeResourcesFitArgs, with its field paths (relative to the args) and messages. */
export function validateNodeResourcesFitArgs(args: NodeResourcesFitArgs): FieldError[] {
  const errs: FieldError[] = [];
  args.ignoredResources.forEach((r, i) => {
    for (const msg of qualifiedNameErrors(r)) errs.push(invalidValue(`ignoredResources[${i}]`, r, msg));
  });
  args.ignoredResourceGroups.forEach((g, i) => {
    const field = `ignoredResourceGroups[${i}]`;
    if (g.includes('/')) errs.push(invalidValue(field, g, "resource group name can't contain '/'"));
    for (const msg of qualifiedNameErrors(g)) errs.push(invalidValue(field, g, msg));
  });
  const ss = args.scoringStrategy;
  if (!(SCORING_STRATEGY_TYPES as readonly string[]).includes(ss.type)) {
    errs.push(notSupported('scoringStrategy.type', ss.type, [...SCORING_STRATEGY_TYPES]));
  }
  errs.push(...resourceSpecErrors(ss.resources, 'scoringStrategy.resources'));
  if (ss.requestedToCapacityRatio) {
    errs.push(...functionShapeErrors(ss.requestedToCapacityRatio.shape, 'scoringStrategy.shape'));
  } else if (ss.type === 'RequestedToCapacityRatio') {
    // Upstream would dereference a nil shape here; say what is missing instead.
    errs.push(required('scoringStrategy.shape', 'at least one point must be specified'));
  }
  return errs;
}

function functionShapeErrors(shape: readonly UtilizationShapePoint[], field: string): FieldError[] {
  if (shape.length === 0) return [required(field, 'at least one point must be specified')];
  const errs: FieldError[] = [];
  for (let i = 1; i < shape.length; i++) {
    if (shape[i - 1]!.utilization >= shape[i]!.utilization) {
      errs.push(invalidValue(`${field}[${i}].utilization`, shape[i]!.utilization, 'utilization values must be sorted in increasing order'));
      break;
    }
  }
  shape.forEach((p, i) => {
    if (p.utilization < 0 || p.utilization > MAX_UTILIZATION) {
      errs.push(invalidValue(`${field}[${i}].utilization`, p.utilization, `not in valid range [0, ${MAX_UTILIZATION}]`));
    }
    if (p.score < 0 || p.score > MAX_CUSTOM_PRIORITY_SCORE) {
      errs.push(invalidValue(`${field}[${i}].score`, p.score, `not in valid range [0, ${MAX_CUSTOM_PRIORITY_SCORE}]`));
    }
  });
  return errs;
}

// Scorers: one per strategy, each a weighted mean over the resources the node has.

function leastRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0;
  return mulDiv(capacity - requested, MAX_NODE_SCORE, capacity);
}

function mostRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0) return 0;
  // Pods without requests count as non-zero defaults, so requested may pass capacity.
  return mulDiv(Math.min(requested, capacity), MAX_NODE_SCORE, capacity);
}

function weightedMean(resources: readonly ResourceSpec[], perResource: (requested: number, capacity: number) => number): ResourceScorer {
  return (requested, allocatable) => {
    let score = 0;
    let weightSum = 0;
    for (let i = 0; i < requested.length; i++) {
      if (allocatable[i] === 0) continue;
      const weight = resources[i]!.weight;
      score += perResource(requested[i]!, allocatable[i]!) * weight;
      weightSum += weight;
    }
    return weightSum === 0 ? 0 : Math.trunc(score / weightSum);
  };
}

/** Favors nodes with the most room left: (capacity − requested) / capacity × 100 per resource. */
export function leastAllocatedScorer(resources: readonly ResourceSpec[]): ResourceScorer {
  return weightedMean(resources, leastRequestedScore);
}

/** Favors the fullest nodes (bin packing): requested / capacity × 100 per resource. */
export function mostAllocatedScorer(resources: readonly ResourceSpec[]): ResourceScorer {
  return weightedMean(resources, mostRequestedScore);
}

/**
 * A piecewise-linear function through the shape's points (utilization → score), flat before the
 * first point and after the last, in integer arithmetic as upstream's BuildBrokenLinearFunction.
 */
export function brokenLinearFunction(shape: readonly UtilizationShapePoint[]): (p: number) => number {
  return (p) => {
    for (let i = 0; i < shape.length; i++) {
      const cur = shape[i]!;
      if (p <= cur.utilization) {
        if (i === 0) return cur.score;
        const prev = shape[i - 1]!;
        return prev.score + Math.trunc(((cur.score - prev.score) * (p - prev.utilization)) / (cur.utilization - prev.utilization));
      }
    }
    return shape[shape.length - 1]!.score;
  };
}

/** Scores each resource's utilization through the configured shape (scores 0..10 scaled to 0..100). */
export function requestedToCapacityRatioScorer(resources: readonly ResourceSpec[], shape: readonly UtilizationShapePoint[]): ResourceScorer {
  const scale = MAX_NODE_SCORE / MAX_CUSTOM_PRIORITY_SCORE;
  const fn = brokenLinearFunction(shape.map((p) => ({ utilization: p.utilization, score: p.score * scale })));
  const resourceScore = (requested: number, capacity: number): number =>
    capacity === 0 || requested > capacity ? fn(MAX_UTILIZATION) : fn(mulDiv(requested, MAX_UTILIZATION, capacity));
  return (requested, allocatable) => {
    let score = 0;
    let weightSum = 0;
    for (let i = 0; i < requested.length; i++) {
      if (allocatable[i] === 0) continue;
      const weight = resources[i]!.weight;
      const s = resourceScore(requested[i]!, allocatable[i]!);
      // Upstream leaves zero-scoring resources out of the mean.
      if (s > 0) {
        score += s * weight;
        weightSum += weight;
      }
    }
    return weightSum === 0 ? 0 : Math.round(score / weightSum);
  };
}

// Filter.

/** Why a pod does not fit a node, per resource; `unresolvable` when even an empty node is too small. */
export interface InsufficientResource {
  readonly resourceName: string;
  readonly reason: string;
  readonly requested: number;
  readonly used: number;
  readonly capacity: number;
  readonly unresolvable: boolean;
}

/** Upstream's IsExtendedResourceName: a qualified name outside the kubernetes.io domains. */
export function isExtendedResourceName(name: string): boolean {
  if (!name.includes('/') || name.includes('kubernetes.io/') || name.startsWith('requests.')) return false;
  return qualifiedNameErrors(`requests.${name}`).length === 0;
}

/**
 * What the node lacks for a pod requesting `podRequest`, in upstream's order: pod count, cpu,
 * memory, ephemeral storage, then scalar resources. Ignored extended resources (by name or by
 * domain) are not checked.
 */
export function fitsRequest(
  podRequest: Resource,
  nodeInfo: NodeInfo,
  ignoredResources: ReadonlySet<string> = new Set(),
  ignoredResourceGroups: ReadonlySet<string> = new Set(),
): InsufficientResource[] {
  const out: InsufficientResource[] = [];
  const alloc = nodeInfo.allocatable;
  const used = nodeInfo.requested;
  const allowedPods = alloc.allowedPodNumber;
  if (nodeInfo.pods.length + 1 > allowedPods) {
    out.push({ resourceName: 'pods', reason: REASON_TOO_MANY_PODS, requested: 1, used: nodeInfo.pods.length, capacity: allowedPods, unresolvable: false });
  }
  if (podRequest.milliCPU === 0 && podRequest.memory === 0 && podRequest.ephemeralStorage === 0 && podRequest.scalar.size === 0) return out;

  const check = (resourceName: string, reason: string, want: number, have: number, inUse: number): void => {
    if (want > 0 && want > have - inUse) out.push({ resourceName, reason, requested: want, used: inUse, capacity: have, unresolvable: want > have });
  };
  check('cpu', REASON_INSUFFICIENT_CPU, podRequest.milliCPU, alloc.milliCPU, used.milliCPU);
  check('memory', REASON_INSUFFICIENT_MEMORY, podRequest.memory, alloc.memory, used.memory);
  check('ephemeral-storage', REASON_INSUFFICIENT_EPHEMERAL_STORAGE, podRequest.ephemeralStorage, alloc.ephemeralStorage, used.ephemeralStorage);
  for (const [name, want] of podRequest.scalar) {
    if (want === 0) continue;
    if (isExtendedResourceName(name)) {
      const group = name.slice(0, name.indexOf('/'));
      if (ignoredResources.has(name) || ignoredResourceGroups.has(group)) continue;
    }
    check(name, insufficientReason(name), want, alloc.scalar.get(name) ?? 0, used.scalar.get(name) ?? 0);
  }
  return out;
}

/** Whether `pod` fits `nodeInfo` by resources alone (what kubelet admission asks too). */
export function fits(pod: Readonly<Pod>, nodeInfo: NodeInfo): InsufficientResource[] {
  return fitsRequest(podRequests(pod), nodeInfo);
}

class PreFilterState implements StateData {
  constructor(readonly podRequest: Resource) {}
  clone(): StateData {
    return this;
  }
}

class PreScoreState implements StateData {
  constructor(readonly podRequests: readonly number[]) {}
  clone(): StateData {
    return this;
  }
}

function asNode(obj: unknown): Readonly<Node> | undefined {
  return obj && typeof obj === 'object' ? (obj as Node) : undefined;
}

function asPod(obj: unknown): Readonly<Pod> | undefined {
  return obj && typeof obj === 'object' ? (obj as Pod) : undefined;
}

function nodeInfoOf(node: Readonly<Node>): NodeInfo {
  return new NodeInfo(node);
}

/** Whether a node update grew the allocatable of anything the pod asks for, or its pod count. */
function anyRequestedResourceIncreased(pod: Readonly<Pod>, oldNode: Readonly<Node>, newNode: Readonly<Node>): boolean {
  const req = podRequests(pod);
  const before = nodeInfoOf(oldNode).allocatable;
  const after = nodeInfoOf(newNode).allocatable;
  if (after.allowedPodNumber > before.allowedPodNumber) return true;
  if (req.milliCPU === 0 && req.memory === 0 && req.ephemeralStorage === 0 && req.scalar.size === 0) return false;
  if (req.milliCPU > 0 && after.milliCPU > before.milliCPU) return true;
  if (req.memory > 0 && after.memory > before.memory) return true;
  if (req.ephemeralStorage > 0 && after.ephemeralStorage > before.ephemeralStorage) return true;
  for (const [name, want] of req.scalar) {
    if (want !== 0 && (after.scalar.get(name) ?? 0) > (before.scalar.get(name) ?? 0)) return true;
  }
  return false;
}

class Fit implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = NAME;
  private readonly ignoredResources: ReadonlySet<string>;
  private readonly ignoredResourceGroups: ReadonlySet<string>;
  private readonly resources: readonly ResourceSpec[];
  private readonly scorer: ResourceScorer;

  constructor(args: NodeResourcesFitArgs) {
    this.ignoredResources = new Set(args.ignoredResources);
    this.ignoredResourceGroups = new Set(args.ignoredResourceGroups);
    this.resources = args.scoringStrategy.resources;
    const type = args.scoringStrategy.type as ScoringStrategyType;
    this.scorer =
      type === 'MostAllocated'
        ? mostAllocatedScorer(this.resources)
        : type === 'RequestedToCapacityRatio'
          ? requestedToCapacityRatioScorer(this.resources, args.scoringStrategy.requestedToCapacityRatio?.shape ?? [])
          : leastAllocatedScorer(this.resources);
  }

  preFilter(state: CycleState, pod: Readonly<Pod>): { result?: PreFilterResult; status?: Status } {
    state.write(PRE_FILTER_STATE_KEY, new PreFilterState(podRequests(pod)));
    return {};
  }

  filter(state: CycleState, _pod: Readonly<Pod>, nodeInfo: NodeInfo): MaybeStatus {
    const s = state.read<PreFilterState>(PRE_FILTER_STATE_KEY);
    if (!s) return errorStatus(`error reading "${PRE_FILTER_STATE_KEY}" from cycleState: not found`);
    const insufficient = fitsRequest(s.podRequest, nodeInfo, this.ignoredResources, this.ignoredResourceGroups);
    if (insufficient.length === 0) return undefined;
    // Preemption cannot help where the pod asks for more than the whole node has.
    const code = insufficient.some((r) => r.unresolvable) ? Code.UnschedulableAndUnresolvable : Code.Unschedulable;
    return { code, reasons: insufficient.map((r) => r.reason) };
  }

  preScore(state: CycleState, pod: Readonly<Pod>): MaybeStatus {
    state.write(PRE_SCORE_STATE_KEY, new PreScoreState(podResourceRequestList(pod, this.resources, false)));
    return undefined;
  }

  score(state: CycleState, pod: Readonly<Pod>, nodeInfo: NodeInfo): number | Status {
    const reqs = state.read<PreScoreState>(PRE_SCORE_STATE_KEY)?.podRequests ?? podResourceRequestList(pod, this.resources, false);
    return resourceAllocationScore(nodeInfo, this.resources, reqs, false, this.scorer);
  }

  eventsToRegister(): readonly ClusterEventWithHint[] {
    return [
      { event: { resource: 'Pod', actionType: ActionType.Delete }, hint: isSchedulableAfterPodDeleted },
      { event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeAllocatable }, hint: isSchedulableAfterNodeChange },
    ];
  }
}

/** Only the deletion of a pod that held (or was nominated to) a node frees resources. */
function isSchedulableAfterPodDeleted(_pod: Readonly<Pod>, oldObj: unknown): QueueingHint {
  const deleted = asPod(oldObj);
  if (!deleted) return 'Queue';
  return deleted.spec?.nodeName || deleted.status?.nominatedNodeName ? 'Queue' : 'QueueSkip';
}

/** A new node the pod fits, or an update that grew something the pod asks for. */
function isSchedulableAfterNodeChange(pod: Readonly<Pod>, oldObj: unknown, newObj: unknown): QueueingHint {
  const modified = asNode(newObj);
  if (!modified) return 'Queue';
  if (fits(pod, nodeInfoOf(modified)).length > 0) return 'QueueSkip';
  const original = asNode(oldObj);
  if (!original) return 'Queue';
  return anyRequestedResourceIncreased(pod, original, modified) ? 'Queue' : 'QueueSkip';
}

export const NodeResourcesFit: PluginFactory = {
  name: NAME,
  defaultArgs: () => ({ scoringStrategy: { type: 'LeastAllocated', resources: defaultResourceSpecs() } }),
  create(args) {
    const parsed = parseNodeResourcesFitArgs(args);
    throwFirst(validateNodeResourcesFitArgs(parsed));
    return new Fit(parsed);
  },
};
