// Cell formatting shared by the printers: label maps and selectors the way upstream's labels package
// prints them, container lists, optional booleans, int-or-string values.
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';

/** labels.FormatLabels: `a=1,b=2` sorted by key, `<none>` when empty. */
export function formatLabels(labels: Readonly<Record<string, string>> | undefined | null): string {
  const keys = Object.keys(labels ?? {}).sort();
  if (keys.length === 0) return '<none>';
  return keys.map((k) => `${k}=${labels![k]}`).join(',');
}

const OPERATORS = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist']);

/**
 * A metav1.LabelSelector as upstream's labels.Selector prints it (`app=web,tier in (a,b),!legacy`):
 * requirements sorted by key, values sorted. A missing or empty selector prints as ''. Undefined when the
 * selector cannot be converted (an unknown operator, or values where the operator takes none).
 */
export function labelSelectorString(sel: LabelSelector | undefined | null): string | undefined {
  if (!sel) return '';
  const reqs: Array<{ key: string; text: string }> = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) reqs.push({ key, text: `${key}=${value}` });
  for (const e of sel.matchExpressions ?? []) {
    if (!OPERATORS.has(e.operator)) return undefined;
    const values = [...(e.values ?? [])].sort();
    const takesValues = e.operator === 'In' || e.operator === 'NotIn';
    if (takesValues !== values.length > 0) return undefined;
    switch (e.operator) {
      case 'In':
        reqs.push({ key: e.key, text: `${e.key} in (${values.join(',')})` });
        break;
      case 'NotIn':
        reqs.push({ key: e.key, text: `${e.key} notin (${values.join(',')})` });
        break;
      case 'Exists':
        reqs.push({ key: e.key, text: e.key });
        break;
      default:
        reqs.push({ key: e.key, text: `!${e.key}` });
    }
  }
  return reqs
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((r) => r.text)
    .join(',');
}

/** metav1.FormatLabelSelector: like labelSelectorString, but `<none>` when empty and `<error>` when invalid. */
export function formatLabelSelector(sel: LabelSelector | undefined | null): string {
  const s = labelSelectorString(sel);
  if (s === undefined) return '<error>';
  return s === '' ? '<none>' : s;
}

/** Container names and images, each comma-joined (the CONTAINERS and IMAGES columns). */
export function containerCells(containers: ReadonlyArray<{ name?: string; image?: string }> | undefined): [string, string] {
  const list = containers ?? [];
  return [list.map((c) => c.name ?? '').join(','), list.map((c) => c.image ?? '').join(',')];
}

/** `True`, `False` or `<unset>`, as upstream prints optional booleans in string columns. */
export function boolPtr(value: boolean | undefined | null): string {
  if (value === undefined || value === null) return '<unset>';
  return value ? 'True' : 'False';
}

/** intstr.IntOrString.String(). */
export function intOrString(value: number | string): string {
  return String(value);
}

/** net.JoinHostPort: IPv6 hosts get brackets. */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `list` joined by commas, then ` + N more...` past `max` of `count` entries, `<unset>` when empty. */
export function listWithMore(list: readonly string[], count: number, max: number): string {
  const shown = list.slice(0, max).join(',');
  if (count > max) return `${shown} + ${count - max} more...`;
  return shown === '' ? '<unset>' : shown;
}

/** Kind or kind.group, lowercased: upstream's formatResourceName with a GroupKind. */
export function groupKindLower(apiVersion: string | undefined, kind: string): string {
  const gv = apiVersion ?? '';
  const group = gv.includes('/') ? gv.slice(0, gv.indexOf('/')) : '';
  return (group === '' ? kind : `${kind}.${group}`).toLowerCase();
}
