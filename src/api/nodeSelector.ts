// Node selectors as upstream's component-helpers nodeaffinity package matches them: a pod's
// `nodeSelector` and node affinity, PV node affinity, the scheduler's added affinity. Terms are
// ORed, requirements within a term ANDed; a term with no requirements matches nothing; a term
// with an invalid requirement matches nothing (upstream reports its errors lazily and ignores them).

import type { Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PreferredSchedulingTerm } from 'kubernetes-types/core/v1.js';
import { invalidValue, notSupported, type FieldError } from '../apiserver/status.js';

export type NodeLabels = Readonly<Record<string, string>>;

/** The only field a node selector term's matchFields may name. */
export const NODE_NAME_FIELD = 'metadata.name';

const INTEGER = /^[+-]?\d+$/;
const LABEL_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'];
const FIELD_OPERATORS = ['In', 'NotIn'];

/**
 * Whether one label requirement holds for `labels`: In/NotIn against values, Exists/DoesNotExist on
 * the key, Gt/Lt comparing the label as an integer (a missing or non-integer label fails).
 * Undefined when the requirement itself is invalid.
 */
export function labelRequirementMatches(req: Readonly<NodeSelectorRequirement>, labels: NodeLabels): boolean | undefined {
  if (!isValid(req, labelRequirementErrors)) return undefined;
  const has = Object.prototype.hasOwnProperty.call(labels, req.key);
  const value = has ? labels[req.key]! : '';
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return has && values.includes(value);
    case 'NotIn':
      return !has || !values.includes(value);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (!has || !INTEGER.test(value)) return false;
      const n = BigInt(value);
      const bound = BigInt(values[0]!);
      return req.operator === 'Gt' ? n > bound : n < bound;
    }
    default:
      return undefined;
  }
}

/** Whether one matchFields requirement holds for the node named `nodeName`; undefined when invalid. */
export function fieldRequirementMatches(req: Readonly<NodeSelectorRequirement>, nodeName: string): boolean | undefined {
  if (!isValid(req, fieldRequirementErrors)) return undefined;
  // The only node field upstream exposes to selectors is metadata.name; others read as ''.
  const value = req.key === NODE_NAME_FIELD ? nodeName : '';
  return req.operator === 'In' ? value === req.values![0] : value !== req.values![0];
}

// A requirement is matched against every node of a cycle: validate each (immutable) object once.
const labelValidity = new WeakMap<object, boolean>();
const fieldValidity = new WeakMap<object, boolean>();

function isValid(req: Readonly<NodeSelectorRequirement>, check: (r: Readonly<NodeSelectorRequirement>, path: string) => FieldError[]): boolean {
  const cache = check === labelRequirementErrors ? labelValidity : fieldValidity;
  let ok = cache.get(req);
  if (ok === undefined) cache.set(req, (ok = check(req, '').length === 0));
  return ok;
}

function isEmptyTerm(term: Readonly<NodeSelectorTerm>): boolean {
  return (term.matchExpressions ?? []).length === 0 && (term.matchFields ?? []).length === 0;
}

/** Whether the term matches a node with `labels` and `nodeName`. */
export function nodeSelectorTermMatches(term: Readonly<NodeSelectorTerm>, labels: NodeLabels, nodeName: string): boolean {
  if (isEmptyTerm(term)) return false;
  for (const r of term.matchExpressions ?? []) if (labelRequirementMatches(r, labels) !== true) return false;
  for (const r of term.matchFields ?? []) if (fieldRequirementMatches(r, nodeName) !== true) return false;
  return true;
}

/** Whether any of the terms matches `node` (no terms: nothing matches). */
export function nodeSelectorTermsMatch(terms: readonly Readonly<NodeSelectorTerm>[] | undefined, node: Readonly<Node>): boolean {
  const labels = node.metadata?.labels ?? {};
  const name = node.metadata?.name ?? '';
  return (terms ?? []).some((t) => nodeSelectorTermMatches(t, labels, name));
}

/** Whether a v1 NodeSelector matches `node`. */
export function nodeSelectorMatches(selector: Readonly<NodeSelector>, node: Readonly<Node>): boolean {
  return nodeSelectorTermsMatch(selector.nodeSelectorTerms, node);
}

/**
 * The sum of the weights of the preferred terms that match `node`, as upstream's
 * PreferredSchedulingTerms.Score; terms with weight 0 or no requirements count for nothing.
 */
export function preferredSchedulingTermsScore(terms: readonly Readonly<PreferredSchedulingTerm>[] | undefined, node: Readonly<Node>): number {
  const labels = node.metadata?.labels ?? {};
  const name = node.metadata?.name ?? '';
  let score = 0;
  for (const t of terms ?? []) {
    if (t.weight === 0 || isEmptyTerm(t.preference)) continue;
    if (nodeSelectorTermMatches(t.preference, labels, name)) score += t.weight;
  }
  return score;
}

/**
 * Whether `node` satisfies the pod's `spec.nodeSelector` (every pair, exactly) and its required node
 * affinity, as upstream's RequiredNodeAffinity.Match. Invalid terms do not match.
 */
export function podMatchesNodeSelectorAndAffinityTerms(pod: Readonly<Pod>, node: Readonly<Node>): boolean {
  const labels = node.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(pod.spec?.nodeSelector ?? {})) {
    if (!Object.prototype.hasOwnProperty.call(labels, k) || labels[k] !== v) return false;
  }
  const requiredTerms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!requiredTerms) return true;
  return nodeSelectorMatches(requiredTerms, node);
}

// Validation, with upstream's field paths (relative to `path`) and messages.

const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Upstream's IsQualifiedName messages for `name` (a label key, a resource name). */
export function qualifiedNameErrors(name: string): string[] {
  const parts = name.split('/');
  let namePart = name;
  const errs: string[] = [];
  if (parts.length === 2) {
    const [prefix, rest] = parts as [string, string];
    namePart = rest;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else if (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)) {
      errs.push(`prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`);
    }
  } else if (parts.length > 2) {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (namePart.length === 0) errs.push('name part must be non-empty');
  else if (namePart.length > 63) errs.push('name part must be no more than 63 bytes');
  if (namePart.length > 0 && !QUALIFIED_NAME_PART.test(namePart)) {
    errs.push(
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    );
  }
  return errs;
}

const join = (path: string, child: string): string => (path === '' ? child : `${path}.${child}`);

function labelRequirementErrors(req: Readonly<NodeSelectorRequirement>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!LABEL_OPERATORS.includes(req.operator)) return [notSupported(join(path, 'operator'), req.operator, [])];
  for (const msg of qualifiedNameErrors(req.key)) errs.push(invalidValue(join(path, 'key'), req.key, msg));
  const values = req.values ?? [];
  const valuesPath = join(path, 'values');
  switch (req.operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) errs.push(invalidValue(valuesPath, values, "for 'in', 'notin' operators, values set can't be empty"));
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length !== 0) errs.push(invalidValue(valuesPath, values, 'values set must be empty for exists and does not exist'));
      break;
    default:
      if (values.length !== 1) errs.push(invalidValue(valuesPath, values, "for 'Gt', 'Lt' operators, exactly one value is required"));
      for (let i = 0; i < values.length; i++) {
        if (!INTEGER.test(values[i]!)) errs.push(invalidValue(`${valuesPath}[${i}]`, values[i], "for 'Gt', 'Lt' operators, the value must be an integer"));
      }
      return errs;
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v.length > 63 || !LABEL_VALUE.test(v)) {
      errs.push(invalidValue(`${valuesPath}[${i}]`, v, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"));
    }
  }
  return errs;
}

function fieldRequirementErrors(req: Readonly<NodeSelectorRequirement>, path: string): FieldError[] {
  if (!FIELD_OPERATORS.includes(req.operator)) return [notSupported(join(path, 'operator'), req.operator, FIELD_OPERATORS)];
  if ((req.values ?? []).length !== 1) return [invalidValue(join(path, 'values'), req.values ?? [], 'must have one element')];
  return [];
}

function termErrors(term: Readonly<NodeSelectorTerm>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  (term.matchExpressions ?? []).forEach((r, i) => errs.push(...labelRequirementErrors(r, `${join(path, 'matchExpressions')}[${i}]`)));
  (term.matchFields ?? []).forEach((r, i) => errs.push(...fieldRequirementErrors(r, `${join(path, 'matchFields')}[${i}]`)));
  return errs;
}

/** What upstream's NewNodeSelector reports for `selector`, with paths under `path`. */
export function nodeSelectorErrors(selector: Readonly<NodeSelector>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  (selector.nodeSelectorTerms ?? []).forEach((t, i) => errs.push(...termErrors(t, `${join(path, 'nodeSelectorTerms')}[${i}]`)));
  return errs;
}

/** What upstream's NewPreferredSchedulingTerms reports for `terms`, with paths under `path`. */
export function preferredSchedulingTermsErrors(terms: readonly Readonly<PreferredSchedulingTerm>[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  terms.forEach((t, i) => {
    if (t.weight === 0 || isEmptyTerm(t.preference)) return;
    // Upstream names the term by its index alone, without `.preference`.
    errs.push(...termErrors(t.preference, `${path}[${i}]`));
  });
  return errs;
}
