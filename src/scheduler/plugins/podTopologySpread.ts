// PodTopologySpread, after upstream's plugins/podtopologyspread: PreFilter/Filter enforce the pod's
// `DoNotSchedule` spread constraints (with PreFilterExtensions for preemption's what-if), and
// PreScore/Score/NormalizeScore prefer nodes that keep `ScheduleAnyway` constraints (or the
// cluster's default constraints) balanced.

import type { Node, Pod, TopologySpreadConstraint } from 'kubernetes-types/core/v1.js';
import { fromLabelSelector, matches, type Requirement } from '../../api/labels.js';
import type { CycleState, StateData } from '../framework/cycleState.js';
import type { NodeInfo, PodInfo } from '../framework/nodeInfo.js';
import {
  ActionType,
  ConfigError,
  MAX_NODE_SCORE,
  errorStatus,
  skip,
  unresolvable,
  unschedulable,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type FrameworkHandle,
  type MaybeStatus,
  type NodeScore,
  type PluginFactory,
  type PreFilterExtensions,
  type PreFilterPlugin,
  type PreFilterResult,
  type PreScorePlugin,
  type QueueingHint,
  type ScorePlugin,
  type Status,
} from '../framework/types.js';
import { defaultSelector } from './helpers/defaultSelector.js';
import { hasUntoleratedNoScheduleTaint, podRequiredNodeAffinityMatches } from './helpers/nodeMatchers.js';

export const NAME = 'PodTopologySpread';

export const ErrReasonConstraintsNotMatch = "node(s) didn't match pod topology spread constraints";
export const ErrReasonNodeLabelNotMatch = `${ErrReasonConstraintsNotMatch} (missing required label)`;

const LABEL_HOSTNAME = 'kubernetes.io/hostname';
const LABEL_ZONE = 'topology.kubernetes.io/zone';

/** The constraints applied to pods without their own when `defaultingType: System`. */
export const SYSTEM_DEFAULT_CONSTRAINTS: readonly TopologySpreadConstraint[] = Object.freeze([
  { topologyKey: LABEL_HOSTNAME, whenUnsatisfiable: 'ScheduleAnyway', maxSkew: 3 },
  { topologyKey: LABEL_ZONE, whenUnsatisfiable: 'ScheduleAnyway', maxSkew: 5 },
]);

type InclusionPolicy = 'Honor' | 'Ignore';

/** A constraint with its selector parsed; `selector: null` selects no pod. */
export interface SpreadConstraint {
  readonly maxSkew: number;
  readonly topologyKey: string;
  readonly selector: readonly Requirement[] | null;
  readonly minDomains: number;
  readonly nodeAffinityPolicy: InclusionPolicy;
  readonly nodeTaintsPolicy: InclusionPolicy;
}

export interface PodTopologySpreadArgs {
  defaultConstraints: TopologySpreadConstraint[];
  defaultingType: 'System' | 'List';
}

const PRE_FILTER_KEY = `PreFilter${NAME}`;
const PRE_SCORE_KEY = `PreScore${NAME}`;

function selectorMatches(sel: readonly Requirement[] | null, labels: Readonly<Record<string, string>> | undefined): boolean {
  return sel !== null && matches(sel, labels);
}

/** Whether every constraint's topology key is a label of the node. */
function nodeHasAllTopologyKeys(labels: Readonly<Record<string, string>> | undefined, constraints: readonly SpreadConstraint[]): boolean {
  return constraints.every((c) => labels !== undefined && Object.prototype.hasOwnProperty.call(labels, c.topologyKey));
}

/** nodeAffinityPolicy (default Honor) and nodeTaintsPolicy (default Ignore) decide whether a node's pods count. */
function nodeIncluded(c: SpreadConstraint, pod: Readonly<Pod>, node: Readonly<Node>): boolean {
  if (c.nodeAffinityPolicy === 'Honor' && !podRequiredNodeAffinityMatches(pod, node)) return false;
  if (c.nodeTaintsPolicy === 'Honor' && hasUntoleratedNoScheduleTaint(node, pod)) return false;
  return true;
}

/** Pods in `ns` matching `selector`, terminating pods excluded (they are about to leave). */
function countMatchingPods(pods: readonly PodInfo[], selector: readonly Requirement[] | null, ns: string): number {
  let n = 0;
  for (const p of pods) {
    if (p.pod.metadata?.deletionTimestamp || (p.pod.metadata?.namespace ?? '') !== ns) continue;
    if (selectorMatches(selector, p.pod.metadata?.labels)) n++;
  }
  return n;
}

/** Parses the pod's constraints of one `whenUnsatisfiable` kind (matchLabelKeys merged into the selector). */
export function parseConstraints(constraints: readonly TopologySpreadConstraint[], podLabels: Readonly<Record<string, string>> | undefined, action: 'DoNotSchedule' | 'ScheduleAnyway'): SpreadConstraint[] {
  const out: SpreadConstraint[] = [];
  for (const c of constraints) {
    if (c.whenUnsatisfiable !== action) continue;
    let selector: Requirement[] | null = c.labelSelector ? fromLabelSelector(c.labelSelector) : null;
    const extra: Requirement[] = [];
    for (const k of c.matchLabelKeys ?? []) {
      const v = podLabels?.[k];
      if (v !== undefined) extra.push({ key: k, op: 'Equals', values: [v] });
    }
    // As upstream: the pod's own label values join the selector (even a null one, which they replace).
    if (extra.length > 0) selector = [...extra, ...(selector ?? [])];
    out.push({
      maxSkew: c.maxSkew,
      topologyKey: c.topologyKey,
      selector,
      minDomains: c.minDomains ?? 1,
      nodeAffinityPolicy: (c.nodeAffinityPolicy as InclusionPolicy | undefined) ?? 'Honor',
      nodeTaintsPolicy: (c.nodeTaintsPolicy as InclusionPolicy | undefined) ?? 'Ignore',
    });
  }
  return out;
}

/**
 * The two smallest match counts among a constraint's domains, as upstream's criticalPaths: enough to
 * know the global minimum after preemption moves one pod in or out of one domain.
 */
class CriticalPaths {
  readonly paths: [{ value: string; num: number }, { value: string; num: number }] = [
    { value: '', num: Number.MAX_SAFE_INTEGER },
    { value: '', num: Number.MAX_SAFE_INTEGER },
  ];

  update(value: string, num: number): void {
    const p = this.paths;
    const i = value === p[0].value ? 0 : value === p[1].value ? 1 : undefined;
    if (i !== undefined) {
      p[i].num = num;
      if (p[0].num > p[1].num) [p[0], p[1]] = [p[1], p[0]];
    } else if (num < p[0].num) {
      p[1] = { ...p[0] };
      p[0] = { value, num };
    } else if (num < p[1].num) {
      p[1] = { value, num };
    }
  }

  clone(): CriticalPaths {
    const c = new CriticalPaths();
    c.paths[0] = { ...this.paths[0] };
    c.paths[1] = { ...this.paths[1] };
    return c;
  }
}

class PreFilterState implements StateData {
  constructor(
    readonly constraints: readonly SpreadConstraint[],
    /** Per constraint: topology value → matching pods in that domain. */
    readonly tpValueToMatchNum: Map<string, number>[],
    readonly criticalPaths: CriticalPaths[],
  ) {}

  /** The global minimum; 0 when fewer eligible domains exist than the constraint's minDomains. */
  minMatchNum(i: number): number {
    if (this.tpValueToMatchNum[i]!.size < this.constraints[i]!.minDomains) return 0;
    return this.criticalPaths[i]!.paths[0].num;
  }

  clone(): PreFilterState {
    return new PreFilterState(
      this.constraints,
      this.tpValueToMatchNum.map((m) => new Map(m)),
      this.criticalPaths.map((p) => p.clone()),
    );
  }
}

class PreScoreState implements StateData {
  constructor(
    readonly constraints: readonly SpreadConstraint[],
    /** Nodes without every topology key: scored 0. */
    readonly ignoredNodes: ReadonlySet<string>,
    /** Per constraint: topology value → matching pods (hostname constraints are counted per node in Score). */
    readonly topologyValueToPodCounts: readonly Map<string, number>[],
    readonly topologyNormalizingWeight: readonly number[],
  ) {}

  clone(): PreScoreState {
    return this;
  }
}

/** log(size + 2): spreads over small topologies weigh more than over large ones. */
export function topologyNormalizingWeight(size: number): number {
  return Math.log(size + 2);
}

/** `maxSkew - 1` waters down differences between domains, so larger skews are tolerated more. */
export function scoreForCount(count: number, maxSkew: number, weight: number): number {
  return count * weight + (maxSkew - 1);
}

class PodTopologySpreadPlugin implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions, PreFilterExtensions {
  readonly name = NAME;

  constructor(
    private readonly handle: FrameworkHandle,
    private readonly defaultConstraints: readonly TopologySpreadConstraint[],
    private readonly systemDefaulted: boolean,
  ) {}

  /** The pod's constraints of one kind, or the default ones (with a derived selector) when it has none. */
  constraintsFor(pod: Readonly<Pod>, action: 'DoNotSchedule' | 'ScheduleAnyway'): SpreadConstraint[] {
    const own = pod.spec?.topologySpreadConstraints ?? [];
    if (own.length > 0) return parseConstraints(own, pod.metadata?.labels, action);
    const defaults = parseConstraints(this.defaultConstraints, pod.metadata?.labels, action);
    if (defaults.length === 0) return [];
    const selector = defaultSelector(pod, this.handle);
    if (selector.length === 0) return [];
    return defaults.map((c) => ({ ...c, selector }));
  }

  preFilter(state: CycleState, pod: Readonly<Pod>, nodes: readonly NodeInfo[]): { result?: PreFilterResult; status?: Status } {
    const constraints = this.constraintsFor(pod, 'DoNotSchedule');
    if (constraints.length === 0) return { status: skip() };
    const ns = pod.metadata?.namespace ?? '';
    const counts = constraints.map(() => new Map<string, number>());
    for (const nodeInfo of nodes) {
      const node = nodeInfo.node;
      if (!node) continue;
      const labels = node.metadata?.labels;
      if (!nodeHasAllTopologyKeys(labels, constraints)) continue;
      constraints.forEach((c, i) => {
        if (!nodeIncluded(c, pod, node)) return;
        const value = labels![c.topologyKey]!;
        const m = counts[i]!;
        m.set(value, (m.get(value) ?? 0) + countMatchingPods(nodeInfo.pods, c.selector, ns));
      });
    }
    const paths = counts.map((m) => {
      const p = new CriticalPaths();
      for (const [value, num] of m) p.update(value, num);
      return p;
    });
    state.write(PRE_FILTER_KEY, new PreFilterState(constraints, counts, paths));
    return {};
  }

  preFilterExtensions(): PreFilterExtensions {
    return this;
  }

  addPod(state: CycleState, podToSchedule: Readonly<Pod>, podToAdd: PodInfo, nodeInfo: NodeInfo): MaybeStatus {
    this.updateWithPod(state, podToSchedule, podToAdd.pod, nodeInfo, 1);
    return undefined;
  }

  removePod(state: CycleState, podToSchedule: Readonly<Pod>, podToRemove: PodInfo, nodeInfo: NodeInfo): MaybeStatus {
    this.updateWithPod(state, podToSchedule, podToRemove.pod, nodeInfo, -1);
    return undefined;
  }

  private updateWithPod(state: CycleState, preemptor: Readonly<Pod>, updated: Readonly<Pod>, nodeInfo: NodeInfo, delta: 1 | -1): void {
    const s = state.read<PreFilterState>(PRE_FILTER_KEY);
    const node = nodeInfo.node;
    if (!s || !node || (updated.metadata?.namespace ?? '') !== (preemptor.metadata?.namespace ?? '')) return;
    const labels = node.metadata?.labels;
    if (!nodeHasAllTopologyKeys(labels, s.constraints)) return;
    s.constraints.forEach((c, i) => {
      if (!selectorMatches(c.selector, updated.metadata?.labels)) return;
      if (!nodeIncluded(c, preemptor, node)) return;
      const value = labels![c.topologyKey]!;
      const m = s.tpValueToMatchNum[i]!;
      const n = (m.get(value) ?? 0) + delta;
      m.set(value, n);
      s.criticalPaths[i]!.update(value, n);
    });
  }

  filter(state: CycleState, pod: Readonly<Pod>, nodeInfo: NodeInfo): MaybeStatus {
    const node = nodeInfo.node;
    if (!node) return errorStatus(new Error('node not found'));
    const s = state.read<PreFilterState>(PRE_FILTER_KEY);
    if (!s) return errorStatus(new Error(`reading "${PRE_FILTER_KEY}" from cycleState: not found`));
    const labels = node.metadata?.labels ?? {};
    for (let i = 0; i < s.constraints.length; i++) {
      const c = s.constraints[i]!;
      if (!Object.prototype.hasOwnProperty.call(labels, c.topologyKey)) return unresolvable(ErrReasonNodeLabelNotMatch);
      // existing matches in the node's domain + the pod itself (if it matches) - global minimum <= maxSkew
      const selfMatch = selectorMatches(c.selector, pod.metadata?.labels) ? 1 : 0;
      const matchNum = s.tpValueToMatchNum[i]!.get(labels[c.topologyKey]!) ?? 0;
      if (matchNum + selfMatch - s.minMatchNum(i) > c.maxSkew) return unschedulable(ErrReasonConstraintsNotMatch);
    }
    return undefined;
  }

  preScore(state: CycleState, pod: Readonly<Pod>, filteredNodes: readonly NodeInfo[]): MaybeStatus {
    const allNodes = this.handle.snapshot().list();
    if (allNodes.length === 0) return skip();
    const constraints = this.constraintsFor(pod, 'ScheduleAnyway');
    if (constraints.length === 0) return skip();
    // Only the system defaults let nodes without a zone label still be spread by hostname.
    const requireAllTopologies = (pod.spec?.topologySpreadConstraints?.length ?? 0) > 0 || !this.systemDefaulted;
    const ignored = new Set<string>();
    const counts = constraints.map(() => new Map<string, number>());
    const topoSize = constraints.map(() => 0);
    for (const nodeInfo of filteredNodes) {
      const labels = nodeInfo.node?.metadata?.labels;
      if (requireAllTopologies && !nodeHasAllTopologyKeys(labels, constraints)) {
        ignored.add(nodeInfo.name);
        continue;
      }
      constraints.forEach((c, i) => {
        if (c.topologyKey === LABEL_HOSTNAME) return;
        const value = labels?.[c.topologyKey] ?? '';
        if (!counts[i]!.has(value)) {
          counts[i]!.set(value, 0);
          topoSize[i]!++;
        }
      });
    }
    const weights = constraints.map((c, i) => topologyNormalizingWeight(c.topologyKey === LABEL_HOSTNAME ? filteredNodes.length - ignored.size : topoSize[i]!));
    const ns = pod.metadata?.namespace ?? '';
    for (const nodeInfo of allNodes) {
      const node = nodeInfo.node;
      if (!node) continue;
      const labels = node.metadata?.labels;
      if (requireAllTopologies && !nodeHasAllTopologyKeys(labels, constraints)) continue;
      constraints.forEach((c, i) => {
        if (!nodeIncluded(c, pod, node)) return;
        const value = labels?.[c.topologyKey] ?? '';
        // Only domains of candidate nodes matter; per-node (hostname) counts are taken in Score.
        const current = counts[i]!.get(value);
        if (current === undefined) return;
        counts[i]!.set(value, current + countMatchingPods(nodeInfo.pods, c.selector, ns));
      });
    }
    state.write(PRE_SCORE_KEY, new PreScoreState(constraints, ignored, counts, weights));
    return undefined;
  }

  score(state: CycleState, pod: Readonly<Pod>, nodeInfo: NodeInfo): number | Status {
    const s = state.read<PreScoreState>(PRE_SCORE_KEY);
    if (!s) return errorStatus(new Error(`error reading "${PRE_SCORE_KEY}" from cycleState: not found`));
    const node = nodeInfo.node;
    if (!node) return errorStatus(new Error('node not found'));
    if (s.ignoredNodes.has(nodeInfo.name)) return 0;
    const labels = node.metadata?.labels ?? {};
    const ns = pod.metadata?.namespace ?? '';
    let score = 0;
    s.constraints.forEach((c, i) => {
      if (!Object.prototype.hasOwnProperty.call(labels, c.topologyKey)) return;
      const count = c.topologyKey === LABEL_HOSTNAME ? countMatchingPods(nodeInfo.pods, c.selector, ns) : (s.topologyValueToPodCounts[i]!.get(labels[c.topologyKey]!) ?? 0);
      score += scoreForCount(count, c.maxSkew, s.topologyNormalizingWeight[i]!);
    });
    return Math.round(score);
  }

  /** Fewer matching pods is better: the node with the smallest raw score gets MAX_NODE_SCORE. */
  normalizeScore(state: CycleState, _pod: Readonly<Pod>, scores: NodeScore[]): MaybeStatus {
    const s = state.read<PreScoreState>(PRE_SCORE_KEY);
    if (!s) return undefined;
    let min = Number.MAX_SAFE_INTEGER;
    let max = 0;
    for (const sc of scores) {
      if (s.ignoredNodes.has(sc.name)) continue;
      min = Math.min(min, sc.score);
      max = Math.max(max, sc.score);
    }
    for (const sc of scores) {
      if (s.ignoredNodes.has(sc.name)) sc.score = 0;
      else if (max === 0) sc.score = MAX_NODE_SCORE;
      else sc.score = Math.trunc((MAX_NODE_SCORE * (max + min - sc.score)) / max);
    }
    return undefined;
  }

  eventsToRegister(): readonly ClusterEventWithHint[] {
    return [
      // An assigned pod that matches a selector appearing, changing labels or leaving changes the counts.
      { event: { resource: 'Pod', actionType: ActionType.Add | ActionType.UpdatePodLabel | ActionType.Delete }, hint: (pod, o, n) => this.hintAfterPodChange(pod, o as Pod | undefined, n as Pod | undefined) },
      // Nodes appearing, leaving or changing labels/taints change the domains.
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.Delete | ActionType.UpdateNodeLabel | ActionType.UpdateNodeTaint },
        hint: (pod, o, n) => this.hintAfterNodeChange(pod, o as Node | undefined, n as Node | undefined),
      },
    ];
  }

  private hintAfterPodChange(pod: Readonly<Pod>, oldPod: Pod | undefined, newPod: Pod | undefined): QueueingHint {
    const involved = (p: Pod) => (p.metadata?.uid !== undefined && p.metadata.uid === pod.metadata?.uid) || (!!p.spec?.nodeName && p.metadata?.namespace === pod.metadata?.namespace);
    if ((newPod && !involved(newPod)) || (oldPod && !involved(oldPod))) return 'QueueSkip';
    const constraints = this.constraintsFor(pod, 'DoNotSchedule');
    const matchesAny = (p: Pod) => constraints.some((c) => selectorMatches(c.selector, p.metadata?.labels));
    if (oldPod && newPod) {
      return constraints.some((c) => selectorMatches(c.selector, oldPod.metadata?.labels) !== selectorMatches(c.selector, newPod.metadata?.labels)) ? 'Queue' : 'QueueSkip';
    }
    const p = newPod ?? oldPod;
    return p && matchesAny(p) ? 'Queue' : 'QueueSkip';
  }

  private hintAfterNodeChange(pod: Readonly<Pod>, oldNode: Node | undefined, newNode: Node | undefined): QueueingHint {
    const constraints = this.constraintsFor(pod, 'DoNotSchedule');
    const oldOk = oldNode ? nodeHasAllTopologyKeys(oldNode.metadata?.labels, constraints) : false;
    const newOk = newNode ? nodeHasAllTopologyKeys(newNode.metadata?.labels, constraints) : false;
    if (oldNode && newNode) {
      if (oldOk !== newOk) return 'Queue';
      if (!newOk) return 'QueueSkip';
      const keyChanged = constraints.some((c) => oldNode.metadata?.labels?.[c.topologyKey] !== newNode.metadata?.labels?.[c.topologyKey]);
      const taintsChanged = JSON.stringify(oldNode.spec?.taints ?? []) !== JSON.stringify(newNode.spec?.taints ?? []);
      return keyChanged || taintsChanged ? 'Queue' : 'QueueSkip';
    }
    return (newNode ? newOk : oldOk) ? 'Queue' : 'QueueSkip';
  }
}

function parseArgs(args: Record<string, unknown> | undefined): PodTopologySpreadArgs {
  const defaultingType = args?.defaultingType ?? 'System';
  const raw = args?.defaultConstraints ?? [];
  if (!Array.isArray(raw)) throw new ConfigError('defaultConstraints', 'must be a list');
  if (defaultingType !== 'System' && defaultingType !== 'List') {
    throw new ConfigError('defaultingType', `Unsupported value: "${String(defaultingType)}": supported values: "System", "List"`);
  }
  if (defaultingType === 'System' && raw.length > 0) throw new ConfigError('defaultingType', 'Invalid value: "System": when .defaultConstraints are not empty');
  const constraints = raw as TopologySpreadConstraint[];
  const seen = new Set<string>();
  constraints.forEach((c, i) => {
    const p = `defaultConstraints[${i}]`;
    if (typeof c !== 'object' || c === null) throw new ConfigError(p, 'must be an object');
    if (typeof c.maxSkew !== 'number' || c.maxSkew <= 0) throw new ConfigError(`${p}.maxSkew`, `Invalid value: ${String(c.maxSkew)}: not in valid range [1, inf)`);
    if (typeof c.topologyKey !== 'string' || c.topologyKey === '') throw new ConfigError(`${p}.topologyKey`, 'Required value: can not be empty');
    if (c.whenUnsatisfiable !== 'DoNotSchedule' && c.whenUnsatisfiable !== 'ScheduleAnyway') {
      throw new ConfigError(`${p}.whenUnsatisfiable`, `Unsupported value: "${String(c.whenUnsatisfiable)}": supported values: "DoNotSchedule", "ScheduleAnyway"`);
    }
    if (c.labelSelector) throw new ConfigError(`${p}.labelSelector`, 'Forbidden: constraint must not define a selector, as they deduced for each pod');
    const key = `${c.topologyKey}\u0000${c.whenUnsatisfiable}`;
    if (seen.has(key)) throw new ConfigError(p, `Duplicate value: {${c.topologyKey}, ${c.whenUnsatisfiable}}`);
    seen.add(key);
  });
  return { defaultConstraints: constraints, defaultingType };
}

export const PodTopologySpread: PluginFactory = {
  name: NAME,
  defaultArgs: () => ({ defaultingType: 'System' }),
  create(args, handle) {
    const a = parseArgs(args);
    const system = a.defaultingType === 'System';
    return new PodTopologySpreadPlugin(handle, system ? SYSTEM_DEFAULT_CONSTRAINTS : a.defaultConstraints, system);
  },
};
