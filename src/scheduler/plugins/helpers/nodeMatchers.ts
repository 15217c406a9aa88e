// Small matchers the spreading and volume plugins need: a pod's required node affinity, node
// selector terms (PV node affinity, StorageClass topologies) and taint toleration. Kept private to
// these plugins until the shared NodeAffinity/TaintToleration helpers land; then deduplicate.

import type { Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, Taint, Toleration } from 'kubernetes-types/core/v1.js';

type LabelMap = Readonly<Record<string, string>>;

const INTEGER = /^-?\d+$/;

/**
 * Whether one node selector requirement holds for `labels`; undefined when the requirement is
 * invalid (unknown operator, Gt/Lt without exactly one integer), which upstream treats as "the
 * whole term does not match".
 */
export function nodeSelectorRequirementMatches(req: Readonly<NodeSelectorRequirement>, labels: LabelMap): boolean | undefined {
  const has = Object.prototype.hasOwnProperty.call(labels, req.key);
  const value = has ? labels[req.key]! : undefined;
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return has && values.includes(value!);
    case 'NotIn':
      return !has || !values.includes(value!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (values.length !== 1 || !INTEGER.test(values[0]!)) return undefined;
      if (!has || !INTEGER.test(value!)) return false;
      const n = Number(value);
      const bound = Number(values[0]);
      return req.operator === 'Gt' ? n > bound : n < bound;
    }
    default:
      return undefined;
  }
}

function fieldRequirementMatches(req: Readonly<NodeSelectorRequirement>, node: Readonly<Node>): boolean | undefined {
  if (req.key !== 'metadata.name') return undefined;
  const name = node.metadata?.name ?? '';
  const values = req.values ?? [];
  if (req.operator === 'In') return values.includes(name);
  if (req.operator === 'NotIn') return !values.includes(name);
  return undefined;
}

/** A term matches when all its expressions and fields hold; a term with neither matches nothing. */
export function nodeSelectorTermMatches(term: Readonly<NodeSelectorTerm>, node: Readonly<Node>): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  const labels = node.metadata?.labels ?? {};
  for (const r of exprs) if (nodeSelectorRequirementMatches(r, labels) !== true) return false;
  for (const r of fields) if (fieldRequirementMatches(r, node) !== true) return false;
  return true;
}

/** Terms are ORed. */
export function nodeSelectorTermsMatch(terms: readonly Readonly<NodeSelectorTerm>[], node: Readonly<Node>): boolean {
  return terms.some((t) => nodeSelectorTermMatches(t, node));
}

/** The pod's `nodeSelector` and required node affinity, as upstream's nodeaffinity.GetRequiredNodeAffinity. */
export function podRequiredNodeAffinityMatches(pod: Readonly<Pod>, node: Readonly<Node>): boolean {
  const labels = node.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(pod.spec?.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required) return true;
  return nodeSelectorTermsMatch(required.nodeSelectorTerms ?? [], node);
}

/** upstream's Toleration.ToleratesTaint. */
export function toleratesTaint(t: Readonly<Toleration>, taint: Readonly<Taint>): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  switch (t.operator ?? '') {
    case '':
    case 'Equal':
      return (t.value ?? '') === (taint.value ?? '');
    case 'Exists':
      return true;
    default:
      return false;
  }
}

/** Whether the node has a NoSchedule/NoExecute taint the pod does not tolerate. */
export function hasUntoleratedNoScheduleTaint(node: Readonly<Node>, pod: Readonly<Pod>): boolean {
  const tolerations = pod.spec?.tolerations ?? [];
  for (const taint of node.spec?.taints ?? []) {
    if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
    if (!tolerations.some((t) => toleratesTaint(t, taint))) return true;
  }
  return false;
}
