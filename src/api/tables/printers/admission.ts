// admissionregistration.k8s.io printers: webhook configurations (NAME WEBHOOKS AGE) and admission
// policies with their bindings.
import type {
  MutatingWebhookConfiguration,
  ParamRef,
  ValidatingAdmissionPolicy,
  ValidatingAdmissionPolicyBinding,
  ValidatingWebhookConfiguration,
} from 'kubernetes-types/admissionregistration/v1.js';
import type { LabelSelector, ObjectMeta } from 'kubernetes-types/meta/v1.js';
import { ageSince } from '../humanDuration.js';
import { AGE_COLUMN, column, NAME_COLUMN, printer } from '../printer.js';

const webhooksColumns = [NAME_COLUMN, column('Webhooks', 'integer', 'How many webhooks the configuration registers.'), AGE_COLUMN];

export const mutatingWebhookConfigurationPrinter = printer<MutatingWebhookConfiguration>(webhooksColumns, (c, ctx) => [
  c.metadata?.name ?? '',
  (c.webhooks ?? []).length,
  ageSince(c.metadata?.creationTimestamp, ctx.now),
]);

export const validatingWebhookConfigurationPrinter = printer<ValidatingWebhookConfiguration>(webhooksColumns, (c, ctx) => [
  c.metadata?.name ?? '',
  (c.webhooks ?? []).length,
  ageSince(c.metadata?.creationTimestamp, ctx.now),
]);

function paramKind(p: { apiVersion?: string; kind?: string } | undefined | null): string {
  return p ? `${p.apiVersion ?? ''}/${p.kind ?? ''}` : '<unset>';
}

/** Go's generated String() of a LabelSelector, which upstream prints for selector param refs. */
export function goLabelSelectorString(sel: Readonly<LabelSelector>): string {
  const labels = Object.keys(sel.matchLabels ?? {})
    .sort()
    .map((k) => `${k}: ${sel.matchLabels![k]},`)
    .join('');
  const exprs = (sel.matchExpressions ?? [])
    .map((e) => `LabelSelectorRequirement{Key:${e.key},Operator:${e.operator},Values:[${(e.values ?? []).join(' ')}],},`)
    .join('');
  return `&LabelSelector{MatchLabels:map[string]string{${labels}},MatchExpressions:[]LabelSelectorRequirement{${exprs}},}`;
}

/** The PARAMREF cell: namespace/name, or `*` for the namespace when unset, or the selector, or `<unset>`. */
export function paramRefCell(pr: Readonly<ParamRef> | undefined | null): string {
  if (!pr) return '<unset>';
  if (pr.name) return pr.namespace ? `${pr.namespace}/${pr.name}` : `*/${pr.name}`;
  if (pr.selector) return goLabelSelectorString(pr.selector);
  return '<unset>';
}

export const validatingAdmissionPolicyPrinter = printer<ValidatingAdmissionPolicy>(
  [
    NAME_COLUMN,
    column('Validations', 'integer', 'How many validation rules the policy has.'),
    column('ParamKind', 'string', 'The kind of resource that parameterizes the policy, as apiVersion/kind.'),
    AGE_COLUMN,
  ],
  (p, ctx) => [
    p.metadata?.name ?? '',
    (p.spec?.validations ?? []).length,
    paramKind(p.spec?.paramKind),
    ageSince(p.metadata?.creationTimestamp, ctx.now),
  ],
);

const bindingColumns = [
  NAME_COLUMN,
  column('PolicyName', 'string', 'The policy the binding binds.'),
  column('ParamRef', 'string', 'The parameter resource the binding passes to the policy.'),
  AGE_COLUMN,
];

export const validatingAdmissionPolicyBindingPrinter = printer<ValidatingAdmissionPolicyBinding>(bindingColumns, (b, ctx) => [
  b.metadata?.name ?? '',
  b.spec?.policyName ?? '',
  paramRefCell(b.spec?.paramRef),
  ageSince(b.metadata?.creationTimestamp, ctx.now),
]);

/** admissionregistration.k8s.io/v1alpha1 MutatingAdmissionPolicy (newer than kubernetes-types 1.30). */
export interface MutatingAdmissionPolicy {
  metadata?: ObjectMeta;
  spec?: { mutations?: unknown[]; paramKind?: { apiVersion?: string; kind?: string } };
}

export interface MutatingAdmissionPolicyBinding {
  metadata?: ObjectMeta;
  spec?: { policyName?: string; paramRef?: ParamRef };
}

export const mutatingAdmissionPolicyPrinter = printer<MutatingAdmissionPolicy>(
  [
    NAME_COLUMN,
    column('Mutations', 'integer', 'How many mutations the policy has.'),
    column('ParamKind', 'string', 'The kind of resource that parameterizes the policy, as apiVersion/kind.'),
    AGE_COLUMN,
  ],
  (p, ctx) => [
    p.metadata?.name ?? '',
    (p.spec?.mutations ?? []).length,
    paramKind(p.spec?.paramKind),
    ageSince(p.metadata?.creationTimestamp, ctx.now),
  ],
);

export const mutatingAdmissionPolicyBindingPrinter = printer<MutatingAdmissionPolicyBinding>(bindingColumns, (b, ctx) => [
  b.metadata?.name ?? '',
  b.spec?.policyName ?? '',
  paramRefCell(b.spec?.paramRef),
  ageSince(b.metadata?.creationTimestamp, ctx.now),
]);
