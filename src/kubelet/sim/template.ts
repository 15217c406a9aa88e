// Status templates for simulated stages, as plain JSON/YAML data rather than Go templates (kwok's
// choice): a template is a JSON value in which
//   - a string that is exactly `{{ expr }}` becomes the expression's value (any type; nothing → key omitted),
//   - `{{ expr }}` inside a longer string is interpolated,
//   - `{ $range: ".spec.containers", $each: T }` becomes one rendering of T per item (T sees the item as `.`),
//   - `{ $if: {key, operator, values} | [...], $then: A, $else: B }` picks by selector requirements
//     (ANDed; a key starting with `$` reads the whole object, others the current item).
// Expressions: `.path` (from the current item), `$.path` (from the object), `"text"`, numbers, or a
// variable the simulator provides (`now`, `podIP`, `nodeIP`, `containerID`…), then filters: `| int`,
// `| string`, `| default "x"`.
import { evaluatePath, requirementMatches, StageError, type StageRequirement } from './stage.js';

export type TemplateValue = string | number | boolean | null | TemplateValue[] | { [key: string]: TemplateValue };

/** A variable: computed from the current item and the whole object when a template names it. */
export type TemplateVariable = (scope: unknown, root: unknown) => unknown;

export interface TemplateContext {
  vars: Readonly<Record<string, TemplateVariable>>;
}

const WHOLE = /^\{\{\s*(.+?)\s*\}\}$/s;
const PART = /\{\{\s*(.+?)\s*\}\}/gs;

/** Renders `t` against `obj`; `undefined` means "nothing" (the enclosing key or element is dropped). */
export function renderTemplate(t: TemplateValue, obj: unknown, ctx: TemplateContext): unknown {
  return render(t, obj, obj, ctx);
}

function render(t: TemplateValue, scope: unknown, root: unknown, ctx: TemplateContext): unknown {
  if (typeof t === 'string') {
    const whole = WHOLE.exec(t);
    if (whole && !whole[1]!.includes('}}')) return evaluate(whole[1]!, scope, root, ctx);
    if (!t.includes('{{')) return t;
    return t.replace(PART, (_m, expr: string) => {
      const v = evaluate(expr, scope, root, ctx);
      return v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
    });
  }
  if (t === null || typeof t !== 'object') return t;
  if (Array.isArray(t)) {
    const out: unknown[] = [];
    for (const item of t) {
      const v = render(item, scope, root, ctx);
      if (v === undefined) continue;
      // A $range inside a list splices its items in, so lists can mix fixed and generated entries.
      if (isRange(item)) out.push(...((v as unknown[] | undefined) ?? []));
      else out.push(v);
    }
    return out;
  }
  if ('$range' in t) {
    const path = t['$range'];
    if (typeof path !== 'string' || !('$each' in t)) throw new StageError('InvalidStage', 'template: $range needs a path and $each');
    const items = path.startsWith('$') ? evaluatePath(root, path.slice(1)) : evaluatePath(scope, path);
    // A path that yields nothing (no initContainers) renders nothing, so the key is left out.
    if (items.length === 0) return undefined;
    const list = items.length === 1 && Array.isArray(items[0]) ? (items[0] as unknown[]) : items;
    return list.map((item) => render(t['$each']!, item, root, ctx)).filter((v) => v !== undefined);
  }
  if ('$if' in t) {
    const cond = t['$if'] as unknown;
    const reqs = (Array.isArray(cond) ? cond : [cond]) as StageRequirement[];
    if (reqs.length === 0 || reqs.some((r) => !r || typeof r !== 'object' || typeof r.key !== 'string')) {
      throw new StageError('InvalidStage', 'template: $if needs {key, operator, values} or a list of them');
    }
    // Keys starting with `$` read the whole object, others the current item; all must hold.
    const ok = reqs.every((r) => (r.key.startsWith('$') ? requirementMatches(root, { ...r, key: r.key.slice(1) }) : requirementMatches(scope, r)));
    const branch = ok ? t['$then'] : t['$else'];
    return branch === undefined ? undefined : render(branch, scope, root, ctx);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(t)) {
    const r = render(v, scope, root, ctx);
    if (r !== undefined) out[k] = r;
  }
  return out;
}

function isRange(t: TemplateValue): boolean {
  return t !== null && typeof t === 'object' && !Array.isArray(t) && '$range' in t;
}

function evaluate(expr: string, scope: unknown, root: unknown, ctx: TemplateContext): unknown {
  const [head, ...filters] = splitPipes(expr);
  let v = term(head!.trim(), scope, root, ctx);
  for (const f of filters) v = applyFilter(f.trim(), v);
  return v;
}

function term(t: string, scope: unknown, root: unknown, ctx: TemplateContext): unknown {
  if (t.startsWith('"')) return JSON.parse(t) as string;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if (t === 'true' || t === 'false') return t === 'true';
  if (t.startsWith('$.') || t === '$') return first(evaluatePath(root, t.slice(1)));
  if (t.startsWith('.')) return first(evaluatePath(scope, t));
  const fn = ctx.vars[t];
  if (!fn) throw new StageError('InvalidStage', `template: unknown variable ${JSON.stringify(t)}`);
  return fn(scope, root);
}

function first(values: unknown[]): unknown {
  return values[0];
}

function applyFilter(f: string, v: unknown): unknown {
  if (f === 'int') {
    if (v === undefined || v === null || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new StageError('InvalidStage', `template: ${JSON.stringify(v)} is not an integer`);
    return n;
  }
  if (f === 'string') return v === undefined ? undefined : typeof v === 'string' ? v : JSON.stringify(v);
  const d = /^default\s+(.+)$/.exec(f);
  if (d) return v === undefined || v === null || v === '' ? term(d[1]!.trim(), undefined, undefined, { vars: {} }) : v;
  throw new StageError('InvalidStage', `template: unknown filter ${JSON.stringify(f)}`);
}

function splitPipes(expr: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (c === '"' && expr[i - 1] !== '\\') quoted = !quoted;
    if (c === '|' && !quoted) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}
