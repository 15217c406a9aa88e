// Label selectors: upstream's string syntax (`a=b,c!=d,e in (x,y),f notin (z),g,!h`) and
// metav1.LabelSelector objects, parsed once into requirements that match label maps.
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';

export type Operator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Equals' | 'NotEquals' | 'Gt' | 'Lt';

export interface Requirement {
  key: string;
  op: Operator;
  values: string[];
}

export class SelectorParseError extends Error {
  override readonly name = 'SelectorParseError';
}

export type Labels = Readonly<Record<string, string>> | undefined;

/** Does every requirement hold for `labels`? An empty selector matches everything. */
export function matches(reqs: readonly Requirement[], labels: Labels): boolean {
  return reqs.every((r) => matchesOne(r, labels ?? {}));
}

function matchesOne(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = has ? labels[r.key]! : undefined;
  switch (r.op) {
    case 'Equals':
    case 'In':
      return has && r.values.includes(v!);
    case 'NotEquals':
    case 'NotIn':
      return !has || !r.values.includes(v!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (!has || !/^-?\d+$/.test(v!)) return false;
      const n = Number(v);
      const bound = Number(r.values[0]);
      return r.op === 'Gt' ? n > bound : n < bound;
    }
  }
}

const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkKey(key: string): void {
  const name = key.includes('/') ? key.slice(key.indexOf('/') + 1) : key;
  if (!QUALIFIED_NAME.test(key) || name.length > 63 || (key.includes('/') && key.indexOf('/') > 253)) {
    throw new SelectorParseError(`unable to parse requirement: invalid label key "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
  }
}

function checkValue(value: string): void {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    throw new SelectorParseError(`unable to parse requirement: values[0][${value}]: Invalid value: "${value}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
  }
}

/** Parses a label selector string (the `labelSelector` query parameter, `kubectl -l`). */
export function parseLabelSelector(text: string): Requirement[] {
  const s = text.trim();
  if (s === '') return [];
  const reqs: Requirement[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  const word = (): string => {
    skipSpace();
    const start = i;
    while (i < s.length && !/[\s,=!()<>]/.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  while (i < s.length) {
    skipSpace();
    let negate = false;
    if (s[i] === '!') {
      negate = true;
      i++;
    }
    const key = word();
    if (key === '') throw new SelectorParseError(`unable to parse requirement: found '${s[i] ?? ''}', expected: identifier`);
    checkKey(key);
    skipSpace();
    if (negate) {
      reqs.push({ key, op: 'DoesNotExist', values: [] });
    } else if (i >= s.length || s[i] === ',') {
      reqs.push({ key, op: 'Exists', values: [] });
    } else if (s.startsWith('==', i) || s[i] === '=' || s.startsWith('!=', i)) {
      const op: Operator = s.startsWith('!=', i) ? 'NotEquals' : 'Equals';
      i += s.startsWith('==', i) || op === 'NotEquals' ? 2 : 1;
      const value = word();
      checkValue(value);
      reqs.push({ key, op, values: [value] });
    } else if (s[i] === '>' || s[i] === '<') {
      const op: Operator = s[i] === '>' ? 'Gt' : 'Lt';
      i++;
      const value = word();
      if (!/^-?\d+$/.test(value)) throw new SelectorParseError(`unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`);
      reqs.push({ key, op, values: [value] });
    } else {
      const opWord = word();
      if (opWord !== 'in' && opWord !== 'notin') {
        throw new SelectorParseError(`unable to parse requirement: found '${opWord}', expected: in, notin, =, ==, !=, gt, lt`);
      }
      skipSpace();
      if (s[i] !== '(') throw new SelectorParseError(`unable to parse requirement: found '${s[i] ?? ''}', expected: '('`);
      i++;
      const values: string[] = [];
      for (;;) {
        const v = word();
        checkValue(v);
        values.push(v);
        skipSpace();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === ')') {
          i++;
          break;
        }
        throw new SelectorParseError(`unable to parse requirement: found '${s[i] ?? ''}', expected: ',', ')'`);
      }
      reqs.push({ key, op: opWord === 'in' ? 'In' : 'NotIn', values });
    }
    skipSpace();
    if (i < s.length) {
      if (s[i] !== ',') throw new SelectorParseError(`unable to parse requirement: found '${s[i]}', expected: ','`);
      i++;
      skipSpace();
      if (i >= s.length) throw new SelectorParseError('unable to parse requirement: found \'\', expected: identifier');
    }
  }
  return reqs;
}

/** Requirements of a metav1.LabelSelector (matchLabels AND matchExpressions). */
export function fromLabelSelector(sel: LabelSelector | undefined): Requirement[] {
  if (!sel) return [];
  const reqs: Requirement[] = Object.entries(sel.matchLabels ?? {}).map(([key, v]) => ({ key, op: 'Equals' as const, values: [v] }));
  for (const e of sel.matchExpressions ?? []) {
    const op = e.operator as Operator;
    reqs.push({ key: e.key, op, values: e.values ?? [] });
  }
  return reqs;
}

/** The string form kubectl shows (`app=web,tier in (a,b)`). */
export function selectorString(reqs: readonly Requirement[]): string {
  return reqs
    .map((r) => {
      switch (r.op) {
        case 'Equals':
          return `${r.key}=${r.values[0]}`;
        case 'NotEquals':
          return `${r.key}!=${r.values[0]}`;
        case 'In':
          return `${r.key} in (${[...r.values].sort().join(',')})`;
        case 'NotIn':
          return `${r.key} notin (${[...r.values].sort().join(',')})`;
        case 'Exists':
          return r.key;
        case 'DoesNotExist':
          return `!${r.key}`;
        case 'Gt':
          return `${r.key}>${r.values[0]}`;
        case 'Lt':
          return `${r.key}<${r.values[0]}`;
      }
    })
    .join(',');
}
