// InterPodAffinity, after upstream's plugins/interpodaffinity: PreFilter counts, per topology pair,
// the existing pods whose required anti-affinity selects the incoming pod and the existing pods
// selected by the incoming pod's required (anti-)affinity; Filter checks one node against those
// counts. PreScore/Score/NormalizeScore weigh preferred terms both ways (and existing pods' required
// affinity by `hardPodAffinityWeight`).

import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { matches, type Labels } from '../../api/labels.js';
import type { CycleState, StateData } from '../framework/cycleState.js';
import { PodInfo, affinityTermMatches, type AffinityTerm, type NodeInfo, type WeightedAffinityTerm } from '../framework/nodeInfo.js';
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

export const NAME = 'InterPodAffinity';

export const ErrReasonExistingAntiAffinityRulesNotMatch = "node(s) didn't satisfy existing pods anti-affinity rules";
export const ErrReasonAffinityRulesNotMatch = "node(s) didn't match pod affinity rules";
export const ErrReasonAntiAffinityRulesNotMatch = "node(s) didn't match pod anti-affinity rules";

export interface InterPodAffinityArgs {
  hardPodAffinityWeight: number;
  ignorePreferredTermsOfExistingPods: boolean;
}

const PRE_FILTER_KEY = `PreFilter${NAME}`;
const PRE_SCORE_KEY = `PreScore${NAME}`;

/** A topology pair as one map key. */
function pairKey(key: string, value: string): string {
  return `${key}\u0000${value}`;
}

/** Counts per topology pair; entries that drop to zero are removed. */
class TopologyCounts {
  readonly counts = new Map<string, number>();

  add(node: Readonly<Node>, topologyKey: string, delta: number): void {
    const labels = node.metadata?.labels;
    if (!labels || !Object.prototype.hasOwnProperty.call(labels, topologyKey)) return;
    const k = pairKey(topologyKey, labels[topologyKey]!);
    const n = (this.counts.get(k) ?? 0) + delta;
    if (n === 0) this.counts.delete(k);
    else this.counts.set(k, n);
  }

  get(key: string, value: string): number {
    return this.counts.get(pairKey(key, value)) ?? 0;
  }

  get size(): number {
    return this.counts.size;
  }

  clone(): TopologyCounts {
    const c = new TopologyCounts();
    for (const [k, v] of this.counts) c.counts.set(k, v);
    return c;
  }
}

/** The incoming pod's terms have their namespaceSelector already resolved, so no namespace labels are needed. */
const NO_NS_LABELS: Labels = undefined;

/** Whether `pod` matches every term (and there is at least one): affinity is satisfied by one pod matching all. */
function podMatchesAllTerms(terms: readonly AffinityTerm[], pod: Readonly<Pod>): boolean {
  return terms.length > 0 && terms.every((t) => affinityTermMatches(t, pod, NO_NS_LABELS));
}

function addAffinityMatches(counts: TopologyCounts, terms: readonly AffinityTerm[], pod: Readonly<Pod>, node: Readonly<Node>, delta: number): void {
  if (!podMatchesAllTerms(terms, pod)) return;
  for (const t of terms) counts.add(node, t.topologyKey, delta);
}

function addAntiAffinityMatches(counts: TopologyCounts, terms: readonly AffinityTerm[], pod: Readonly<Pod>, nsLabels: Labels, node: Readonly<Node>, delta: number): void {
  for (const t of terms) if (affinityTermMatches(t, pod, nsLabels)) counts.add(node, t.topologyKey, delta);
}

/** The incoming pod, parsed, with its terms' namespace selectors unrolled into namespace names. */
interface IncomingPod {
  readonly pod: Readonly<Pod>;
  readonly requiredAffinityTerms: readonly AffinityTerm[];
  readonly requiredAntiAffinityTerms: readonly AffinityTerm[];
  readonly preferredAffinityTerms: readonly WeightedAffinityTerm[];
  readonly preferredAntiAffinityTerms: readonly WeightedAffinityTerm[];
}

class PreFilterState implements StateData {
  constructor(
    readonly incoming: IncomingPod,
    /** Labels of the incoming pod's namespace, for existing pods' namespaceSelectors. */
    readonly namespaceLabels: Labels,
    /** Existing pods whose required anti-affinity selects the incoming pod. */
    readonly existingAntiAffinityCounts: TopologyCounts,
    /** Existing pods matching all the incoming pod's required affinity terms. */
    readonly affinityCounts: TopologyCounts,
    /** Existing pods matching one of the incoming pod's required anti-affinity terms. */
    readonly antiAffinityCounts: TopologyCounts,
  ) {}

  updateWithPod(pi: PodInfo, node: Readonly<Node>, delta: number): void {
    addAntiAffinityMatches(this.existingAntiAffinityCounts, pi.requiredAntiAffinityTerms, this.incoming.pod, this.namespaceLabels, node, delta);
    addAffinityMatches(this.affinityCounts, this.incoming.requiredAffinityTerms, pi.pod, node, delta);
    addAntiAffinityMatches(this.antiAffinityCounts, this.incoming.requiredAntiAffinityTerms, pi.pod, NO_NS_LABELS, node, delta);
  }

  clone(): PreFilterState {
    return new PreFilterState(this.incoming, this.namespaceLabels, this.existingAntiAffinityCounts.clone(), this.affinityCounts.clone(), this.antiAffinityCounts.clone());
  }
}

/** topologyKey → topology value → summed weight. */
type ScoreMap = Map<string, Map<string, number>>;

class PreScoreState implements StateData {
  constructor(readonly topologyScore: ScoreMap) {}
  clone(): PreScoreState {
    return this;
  }
}

function satisfiesExistingPodsAntiAffinity(s: PreFilterState, node: Readonly<Node>): boolean {
  if (s.existingAntiAffinityCounts.size === 0) return true;
  for (const [k, v] of Object.entries(node.metadata?.labels ?? {})) if (s.existingAntiAffinityCounts.get(k, v) > 0) return false;
  return true;
}

function satisfiesPodAntiAffinity(s: PreFilterState, node: Readonly<Node>): boolean {
  if (s.antiAffinityCounts.size === 0) return true;
  const labels = node.metadata?.labels ?? {};
  for (const t of s.incoming.requiredAntiAffinityTerms) {
    if (Object.prototype.hasOwnProperty.call(labels, t.topologyKey) && s.antiAffinityCounts.get(t.topologyKey, labels[t.topologyKey]!) > 0) return false;
  }
  return true;
}

function satisfiesPodAffinity(s: PreFilterState, node: Readonly<Node>): boolean {
  const labels = node.metadata?.labels ?? {};
  let podsExist = true;
  for (const t of s.incoming.requiredAffinityTerms) {
    // Every topology key must be a label of the node.
    if (!Object.prototype.hasOwnProperty.call(labels, t.topologyKey)) return false;
    if (s.affinityCounts.get(t.topologyKey, labels[t.topologyKey]!) <= 0) podsExist = false;
  }
  if (podsExist) return true;
  // The first pod of a group with affinity to itself: no pod anywhere matches the terms yet, but
  // the pod matches them itself, so it may start the group rather than stay pending forever.
  return s.affinityCounts.size === 0 && podMatchesAllTerms(s.incoming.requiredAffinityTerms, s.incoming.pod);
}

class InterPodAffinityPlugin implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions, PreFilterExtensions {
  readonly name = NAME;

  constructor(
    private readonly handle: FrameworkHandle,
    private readonly args: InterPodAffinityArgs,
  ) {}

  private namespaceLabels(ns: string): Labels {
    return this.handle.namespaces.get(undefined, ns)?.metadata?.labels;
  }

  /**
   * A non-empty namespaceSelector becomes the names of the namespaces it selects now, so matching the
   * incoming pod's terms never needs an existing pod's namespace labels; an empty one keeps meaning
   * "every namespace".
   */
  private resolveNamespaces<T extends AffinityTerm>(term: T): T {
    if (term.namespaceSelector === null || term.namespaceSelector.length === 0) return term;
    const names = new Set(term.namespaces);
    const selector = term.namespaceSelector;
    for (const ns of this.handle.namespaces.list()) if (matches(selector, ns.metadata?.labels)) names.add(ns.metadata?.name ?? '');
    return { ...term, namespaces: names, namespaceSelector: null };
  }

  private incomingPod(pod: Readonly<Pod>): IncomingPod {
    const pi = new PodInfo(pod);
    return {
      pod,
      requiredAffinityTerms: pi.requiredAffinityTerms.map((t) => this.resolveNamespaces(t)),
      requiredAntiAffinityTerms: pi.requiredAntiAffinityTerms.map((t) => this.resolveNamespaces(t)),
      preferredAffinityTerms: pi.preferredAffinityTerms.map((t) => this.resolveNamespaces(t)),
      preferredAntiAffinityTerms: pi.preferredAntiAffinityTerms.map((t) => this.resolveNamespaces(t)),
    };
  }

  preFilter(state: CycleState, pod: Readonly<Pod>, nodes: readonly NodeInfo[]): { result?: PreFilterResult; status?: Status } {
    const incoming = this.incomingPod(pod);
    const nsLabels = this.namespaceLabels(pod.metadata?.namespace ?? '');
    const existingAnti = new TopologyCounts();
    for (const ni of this.handle.snapshot().havePodsWithRequiredAntiAffinityList()) {
      if (!ni.node) continue;
      for (const existing of ni.podsWithRequiredAntiAffinity) addAntiAffinityMatches(existingAnti, existing.requiredAntiAffinityTerms, pod, nsLabels, ni.node, 1);
    }
    const affinity = new TopologyCounts();
    const anti = new TopologyCounts();
    if (incoming.requiredAffinityTerms.length > 0 || incoming.requiredAntiAffinityTerms.length > 0) {
      for (const ni of nodes) {
        if (!ni.node) continue;
        for (const existing of ni.pods) {
          addAffinityMatches(affinity, incoming.requiredAffinityTerms, existing.pod, ni.node, 1);
          addAntiAffinityMatches(anti, incoming.requiredAntiAffinityTerms, existing.pod, NO_NS_LABELS, ni.node, 1);
        }
      }
    }
    if (existingAnti.size === 0 && incoming.requiredAffinityTerms.length === 0 && incoming.requiredAntiAffinityTerms.length === 0) return { status: skip() };
    state.write(PRE_FILTER_KEY, new PreFilterState(incoming, nsLabels, existingAnti, affinity, anti));
    return {};
  }

  preFilterExtensions(): PreFilterExtensions {
    return this;
  }

  addPod(state: CycleState, _podToSchedule: Readonly<Pod>, podToAdd: PodInfo, nodeInfo: NodeInfo): MaybeStatus {
    const s = state.read<PreFilterState>(PRE_FILTER_KEY);
    if (s && nodeInfo.node) s.updateWithPod(podToAdd, nodeInfo.node, 1);
    return undefined;
  }

  removePod(state: CycleState, _podToSchedule: Readonly<Pod>, podToRemove: PodInfo, nodeInfo: NodeInfo): MaybeStatus {
    const s = state.read<PreFilterState>(PRE_FILTER_KEY);
    if (s && nodeInfo.node) s.updateWithPod(podToRemove, nodeInfo.node, -1);
    return undefined;
  }

  filter(state: CycleState, _pod: Readonly<Pod>, nodeInfo: NodeInfo): MaybeStatus {
    const node = nodeInfo.node;
    if (!node) return errorStatus(new Error('node not found'));
    const s = state.read<PreFilterState>(PRE_FILTER_KEY);
    if (!s) return errorStatus(new Error(`error reading "${PRE_FILTER_KEY}" from cycleState: not found`));
    // Affinity to pods that do not exist cannot be fixed by preemption; anti-affinity can.
    if (!satisfiesPodAffinity(s, node)) return unresolvable(ErrReasonAffinityRulesNotMatch);
    if (!satisfiesPodAntiAffinity(s, node)) return unschedulable(ErrReasonAntiAffinityRulesNotMatch);
    if (!satisfiesExistingPodsAntiAffinity(s, node)) return unschedulable(ErrReasonExistingAntiAffinityRulesNotMatch);
    return undefined;
  }

  preScore(state: CycleState, pod: Readonly<Pod>, _nodes: readonly NodeInfo[]): MaybeStatus {
    const a = pod.spec?.affinity;
    const hasConstraints = (a?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.length ?? 0) > 0 || (a?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.length ?? 0) > 0;
    if (this.args.ignorePreferredTermsOfExistingPods && !hasConstraints) return skip();
    const snapshot = this.handle.snapshot();
    // Without preferred terms of its own, only existing pods with affinity can contribute.
    const allNodes = hasConstraints ? snapshot.list() : snapshot.havePodsWithAffinityList();
    const incoming = this.incomingPod(pod);
    const nsLabels = this.namespaceLabels(pod.metadata?.namespace ?? '');
    const topologyScore: ScoreMap = new Map();
    let touched = false;
    const addTerm = (t: AffinityTerm, weight: number, target: Readonly<Pod>, targetNsLabels: Labels, node: Readonly<Node>): void => {
      if (!affinityTermMatches(t, target, targetNsLabels)) return;
      const labels = node.metadata?.labels;
      if (!labels || !Object.prototype.hasOwnProperty.call(labels, t.topologyKey)) return;
      let byValue = topologyScore.get(t.topologyKey);
      if (!byValue) topologyScore.set(t.topologyKey, (byValue = new Map()));
      const v = labels[t.topologyKey]!;
      byValue.set(v, (byValue.get(v) ?? 0) + weight);
      touched = true;
    };
    for (const ni of allNodes) {
      const node = ni.node;
      if (!node || Object.keys(node.metadata?.labels ?? {}).length === 0) continue;
      for (const existing of hasConstraints ? ni.pods : ni.podsWithAffinity) {
        // The incoming pod's preferences about the existing pod…
        for (const t of incoming.preferredAffinityTerms) addTerm(t, t.weight, existing.pod, NO_NS_LABELS, node);
        for (const t of incoming.preferredAntiAffinityTerms) addTerm(t, -t.weight, existing.pod, NO_NS_LABELS, node);
        // …and the existing pod's rules about the incoming pod.
        if (this.args.hardPodAffinityWeight > 0) for (const t of existing.requiredAffinityTerms) addTerm(t, this.args.hardPodAffinityWeight, pod, nsLabels, node);
        for (const t of existing.preferredAffinityTerms) addTerm(t, t.weight, pod, nsLabels, node);
        for (const t of existing.preferredAntiAffinityTerms) addTerm(t, -t.weight, pod, nsLabels, node);
      }
    }
    if (!touched) return skip();
    state.write(PRE_SCORE_KEY, new PreScoreState(topologyScore));
    return undefined;
  }

  /** The summed weights of the node's topology pairs: positive for affinity, negative for anti-affinity. */
  score(state: CycleState, _pod: Readonly<Pod>, nodeInfo: NodeInfo): number | Status {
    const s = state.read<PreScoreState>(PRE_SCORE_KEY);
    if (!s) return errorStatus(new Error(`failed to read "${PRE_SCORE_KEY}" from cycleState: not found`));
    const labels = nodeInfo.node?.metadata?.labels ?? {};
    let score = 0;
    for (const [key, byValue] of s.topologyScore) {
      if (Object.prototype.hasOwnProperty.call(labels, key)) score += byValue.get(labels[key]!) ?? 0;
    }
    return score;
  }

  normalizeScore(state: CycleState, _pod: Readonly<Pod>, scores: NodeScore[]): MaybeStatus {
    const s = state.read<PreScoreState>(PRE_SCORE_KEY);
    if (!s || s.topologyScore.size === 0) return undefined;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const sc of scores) {
      min = Math.min(min, sc.score);
      max = Math.max(max, sc.score);
    }
    const diff = max - min;
    for (const sc of scores) sc.score = diff > 0 ? Math.trunc((MAX_NODE_SCORE * (sc.score - min)) / diff) : 0;
    return undefined;
  }

  eventsToRegister(): readonly ClusterEventWithHint[] {
    return [
      // An assigned pod appearing, relabelled or leaving can satisfy affinity or lift anti-affinity.
      { event: { resource: 'Pod', actionType: ActionType.Add | ActionType.UpdatePodLabel | ActionType.Delete }, hint: (pod, o, n) => this.hintAfterPodChange(pod, o as Pod | undefined, n as Pod | undefined) },
      // A node gaining a topology label can join a domain. UpdateNodeTaint is there, as upstream,
      // because a not-ready node's Add may be filtered out before this plugin sees it.
      { event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel | ActionType.UpdateNodeTaint }, hint: (pod, _o, n) => this.hintAfterNodeChange(pod, n as Node | undefined) },
    ];
  }

  private hintAfterPodChange(pod: Readonly<Pod>, oldPod: Pod | undefined, newPod: Pod | undefined): QueueingHint {
    if ((newPod && !newPod.spec?.nodeName) || (oldPod && !oldPod.spec?.nodeName)) return 'QueueSkip';
    const pi = new PodInfo(pod);
    const aff = pi.requiredAffinityTerms;
    const anti = pi.requiredAntiAffinityTerms;
    if (oldPod && newPod) {
      if (!podMatchesAllTerms(aff, oldPod) && podMatchesAllTerms(aff, newPod)) return 'Queue';
      if (podMatchesAllTerms(anti, oldPod) && !podMatchesAllTerms(anti, newPod)) return 'Queue';
      return 'QueueSkip';
    }
    if (newPod) return podMatchesAllTerms(aff, newPod) ? 'Queue' : 'QueueSkip';
    return oldPod && podMatchesAllTerms(anti, oldPod) ? 'Queue' : 'QueueSkip';
  }

  private hintAfterNodeChange(pod: Readonly<Pod>, node: Node | undefined): QueueingHint {
    const labels = node?.metadata?.labels ?? {};
    const pi = new PodInfo(pod);
    const keys = [...pi.requiredAffinityTerms, ...pi.requiredAntiAffinityTerms].map((t) => t.topologyKey);
    return keys.some((k) => Object.prototype.hasOwnProperty.call(labels, k)) ? 'Queue' : 'QueueSkip';
  }
}

function parseArgs(args: Record<string, unknown> | undefined): InterPodAffinityArgs {
  const weight = args?.hardPodAffinityWeight ?? 1;
  const ignore = args?.ignorePreferredTermsOfExistingPods ?? false;
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 100) {
    throw new ConfigError('hardPodAffinityWeight', `Invalid value: ${String(weight)}: not in valid range [0-100]`);
  }
  if (typeof ignore !== 'boolean') throw new ConfigError('ignorePreferredTermsOfExistingPods', `Invalid value: ${String(ignore)}: must be a boolean`);
  return { hardPodAffinityWeight: weight, ignorePreferredTermsOfExistingPods: ignore };
}

export const InterPodAffinity: PluginFactory = {
  name: NAME,
  defaultArgs: () => ({ hardPodAffinityWeight: 1, ignorePreferredTermsOfExistingPods: false }),
  create(args, handle) {
    return new InterPodAffinityPlugin(handle, parseArgs(args));
  },
};
