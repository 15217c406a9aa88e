// NodeAffinity: Filter keeps pods on nodes matching their `spec.nodeSelector` and required node
// affinity (and the scheduler's `addedAffinity`); PreFilter narrows candidates named by
// `metadata.name` matchFields; Score sums the weights of the preferred terms a node matches.

import type { Node, NodeAffinity as V1NodeAffinity, NodeSelector, Pod, PreferredSchedulingTerm } from 'kubernetes-types/core/v1.js';
import type { NodeInfo } from '../framework/nodeInfo.js';
import type { CycleState, StateData } from '../framework/cycleState.js';
import {
  ActionType,
  MAX_NODE_SCORE,
  errorStatus,
  skip,
  unresolvable,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type MaybeStatus,
  type NodeScore,
  type PluginFactory,
  type PreFilterPlugin,
  type PreFilterResult,
  type PreScorePlugin,
  type QueueingHint,
  type ScorePlugin,
  type Status,
} from '../framework/types.js';
import {
  NODE_NAME_FIELD,
  nodeSelectorErrors,
  nodeSelectorMatches,
  podMatchesNodeSelectorAndAffinityTerms,
  preferredSchedulingTermsErrors,
  preferredSchedulingTermsScore,
} from '../../api/nodeSelector.js';
import type { FieldError } from '../../apiserver/status.js';
import { defaultNormalizeScore } from './normalizeScore.js';
import { optionalArray, optionalObject, throwFirst } from './pluginArgs.js';

export {
  nodeSelectorMatches,
  nodeSelectorTermMatches,
  nodeSelectorTermsMatch,
  podMatchesNodeSelectorAndAffinityTerms,
  preferredSchedulingTermsScore,
} from '../../api/nodeSelector.js';

export const NAME = 'NodeAffinity';
const PRE_SCORE_STATE_KEY = `PreScore${NAME}`;

export const REASON_POD = "node(s) didn't match Pod's node affinity/selector";
export const REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity";
export const REASON_CONFLICT = 'pod affinity terms conflict';

export interface NodeAffinityArgs {
  /** Affinity every pod gets on top of its own (e.g. to confine a scheduler profile to some nodes). */
  readonly addedAffinity?: Readonly<V1NodeAffinity>;
}

const ADDED_REQUIRED = 'addedAffinity.requiredDuringSchedulingIgnoredDuringExecution';
const ADDED_PREFERRED = 'addedAffinity.preferredDuringSchedulingIgnoredDuringExecution';

/** Checks the shape of the args; selectors themselves are validated by validateNodeAffinityArgs. */
export function parseNodeAffinityArgs(raw: Record<string, unknown> | undefined): NodeAffinityArgs {
  const added = optionalObject(raw?.addedAffinity, 'addedAffinity');
  if (!added) return {};
  const req = optionalObject(added.requiredDuringSchedulingIgnoredDuringExecution, ADDED_REQUIRED);
  if (req) {
    const terms = optionalArray(req.nodeSelectorTerms, `${ADDED_REQUIRED}.nodeSelectorTerms`) ?? [];
    terms.forEach((t, i) => optionalObject(t, `${ADDED_REQUIRED}.nodeSelectorTerms[${i}]`));
  }
  const pref = optionalArray(added.preferredDuringSchedulingIgnoredDuringExecution, ADDED_PREFERRED);
  pref?.forEach((t, i) => optionalObject(optionalObject(t, `${ADDED_PREFERRED}[${i}]`)?.preference, `${ADDED_PREFERRED}[${i}].preference`));
  return { addedAffinity: added as V1NodeAffinity };
}

/** Upstream's ValidateNodeAffinityArgs: the added selectors must parse. */
export function validateNodeAffinityArgs(args: NodeAffinityArgs): FieldError[] {
  const a = args.addedAffinity;
  if (!a) return [];
  const errs: FieldError[] = [];
  if (a.requiredDuringSchedulingIgnoredDuringExecution) errs.push(...nodeSelectorErrors(a.requiredDuringSchedulingIgnoredDuringExecution, ADDED_REQUIRED));
  if (a.preferredDuringSchedulingIgnoredDuringExecution?.length) {
    errs.push(...preferredSchedulingTermsErrors(a.preferredDuringSchedulingIgnoredDuringExecution, ADDED_PREFERRED));
  }
  return errs;
}

/**
 * The node names the pod's required terms confine it to, when every term names nodes through
 * `metadata.name In` (names within a term intersect, terms union); undefined when any term does not.
 */
export function requiredNodeNames(pod: Readonly<Pod>): Set<string> | undefined {
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  if (terms.length === 0) return undefined;
  const names = new Set<string>();
  for (const t of terms) {
    let termNames: Set<string> | undefined;
    for (const r of t.matchFields ?? []) {
      if (r.key !== NODE_NAME_FIELD || r.operator !== 'In') continue;
      const values = new Set(r.values ?? []);
      termNames = termNames ? new Set([...termNames].filter((n) => values.has(n))) : values;
    }
    // A term without node names lets every node through: the terms are ORed.
    if (!termNames) return undefined;
    for (const n of termNames) names.add(n);
  }
  return names;
}

class PreScoreState implements StateData {
  constructor(readonly preferred: readonly Readonly<PreferredSchedulingTerm>[] | undefined) {}
  clone(): StateData {
    return this;
  }
}

/** The pod's preferred terms, or an error when one does not parse (upstream fails the cycle then). */
function podPreferredTerms(pod: Readonly<Pod>): { terms?: readonly Readonly<PreferredSchedulingTerm>[]; error?: Status } {
  const terms = pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution;
  if (!terms) return {};
  const errs = preferredSchedulingTermsErrors(terms, '');
  if (errs.length > 0) return { error: errorStatus(errs.map((e) => e.toString()).join(', ')) };
  return { terms };
}

class NodeAffinityPlugin implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = NAME;
  private readonly addedNodeSelector: Readonly<NodeSelector> | undefined;
  private readonly addedPreferred: readonly Readonly<PreferredSchedulingTerm>[] | undefined;

  constructor(args: NodeAffinityArgs) {
    this.addedNodeSelector = args.addedAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    const pref = args.addedAffinity?.preferredDuringSchedulingIgnoredDuringExecution;
    this.addedPreferred = pref && pref.length > 0 ? pref : undefined;
  }

  preFilter(_state: CycleState, pod: Readonly<Pod>): { result?: PreFilterResult; status?: Status } {
    const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    if (!required && !this.addedNodeSelector && pod.spec?.nodeSelector === undefined) return { status: skip() };
    const names = requiredNodeNames(pod);
    if (!names) return {};
    // Every term named nodes, and no node is in all of one term's lists.
    if (names.size === 0) return { status: unresolvable(REASON_CONFLICT) };
    return { result: { nodeNames: names } };
  }

  filter(_state: CycleState, pod: Readonly<Pod>, nodeInfo: NodeInfo): MaybeStatus {
    const node = nodeInfo.node;
    if (!node) return errorStatus('node not found');
    if (this.addedNodeSelector && !nodeSelectorMatches(this.addedNodeSelector, node)) return unresolvable(REASON_ENFORCED);
    return podMatchesNodeSelectorAndAffinityTerms(pod, node) ? undefined : unresolvable(REASON_POD);
  }

  preScore(state: CycleState, pod: Readonly<Pod>): MaybeStatus {
    const { terms, error } = podPreferredTerms(pod);
    if (error) return error;
    if (!terms && !this.addedPreferred) return skip();
    state.write(PRE_SCORE_STATE_KEY, new PreScoreState(terms));
    return undefined;
  }

  score(state: CycleState, pod: Readonly<Pod>, nodeInfo: NodeInfo): number | Status {
    const node = nodeInfo.node;
    if (!node) return errorStatus('node not found');
    let preferred: readonly Readonly<PreferredSchedulingTerm>[] | undefined;
    const s = state.read<PreScoreState>(PRE_SCORE_STATE_KEY);
    if (s) preferred = s.preferred;
    else {
      // PreScore did not run (disabled): parse here.
      const { terms, error } = podPreferredTerms(pod);
      if (error) return error;
      preferred = terms;
    }
    return preferredSchedulingTermsScore(this.addedPreferred, node) + preferredSchedulingTermsScore(preferred, node);
  }

  normalizeScore(_state: CycleState, _pod: Readonly<Pod>, scores: NodeScore[]): MaybeStatus {
    defaultNormalizeScore(MAX_NODE_SCORE, false, scores);
    return undefined;
  }

  eventsToRegister(): readonly ClusterEventWithHint[] {
    return [{ event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel }, hint: (pod, o, n) => this.isSchedulableAfterNodeChange(pod, o, n) }];
  }

  /** A node that now matches (and did not before, for updates) helps. */
  private isSchedulableAfterNodeChange(pod: Readonly<Pod>, oldObj: unknown, newObj: unknown): QueueingHint {
    const original = oldObj as Readonly<Node> | undefined;
    const modified = newObj as Readonly<Node> | undefined;
    if (!modified) return 'Queue';
    if (this.addedNodeSelector && !nodeSelectorMatches(this.addedNodeSelector, modified)) return 'QueueSkip';
    if (!podMatchesNodeSelectorAndAffinityTerms(pod, modified)) return 'QueueSkip';
    if (!original) return 'Queue';
    return podMatchesNodeSelectorAndAffinityTerms(pod, original) ? 'QueueSkip' : 'Queue';
  }
}

export const NodeAffinity: PluginFactory = {
  name: NAME,
  create(args) {
    const parsed = parseNodeAffinityArgs(args);
    throwFirst(validateNodeAffinityArgs(parsed));
    return new NodeAffinityPlugin(parsed);
  },
};
