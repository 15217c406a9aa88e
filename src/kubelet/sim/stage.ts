// The simulated lifecycle as data, after kwok's Stage API: a stage names which objects it applies to
// (a selector over the object's fields), how long to wait (a delay with jitter, possibly read from
// the object), and what happens next (a status patch rendered from a template, finalizer changes,
// deletion). Everything here is pure: the simulator evaluates stages, it does not special-case pods.
import { renderTemplate, type TemplateContext, type TemplateValue } from './template.js';

/** One requirement on the values a path yields (kwok's SelectorRequirement). */
export interface StageRequirement {
  /** A path into the object: `.status.phase`, `.metadata.ownerReferences.[].kind`, `.metadata.annotations["a/b"]`. */
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  /** For In / NotIn, compared with each value the path yields, as strings. */
  values?: string[];
}

/** All parts are ANDed; an empty selector matches everything. */
export interface StageSelector {
  matchLabels?: Record<string, string>;
  matchAnnotations?: Record<string, string>;
  matchExpressions?: StageRequirement[];
}

/**
 * How long a stage waits after it starts to match. `durationFrom` / `jitterDurationFrom` read a path
 * of the object: a Go duration (`90s`, `1m30s`, `250ms`) is used as is; an RFC 3339 time means
 * "until then". A path that yields nothing falls back to the fixed value.
 */
export interface StageDelay {
  durationMilliseconds?: number;
  durationFrom?: string;
  /** The delay is drawn uniformly from [duration, jitter]; a jitter below the duration replaces it. */
  jitterDurationMilliseconds?: number;
  jitterDurationFrom?: string;
}

export interface StageFinalizers {
  add?: string[];
  remove?: string[];
  /** Remove every finalizer. */
  empty?: boolean;
}

/** An event about the object (kwok's StageEvent); `message` may use template expressions. */
export interface StageEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface StageNext {
  /** Recorded when the stage acts, before its other steps. */
  event?: StageEvent;
  /** Rendered against the object (see template.ts) and sent as a strategic merge patch of `status`. */
  statusTemplate?: TemplateValue;
  finalizers?: StageFinalizers;
  /** Delete the object with grace period 0 (what a kubelet does once a pod's containers stopped). */
  delete?: boolean;
}

export interface Stage {
  name: string;
  /** Which kind the stage drives (only `Pod` is driven by the pod simulator). */
  resourceRef: { apiGroup?: string; kind: string };
  selector?: StageSelector;
  /** When several stages match, one is drawn with probability weight/sum (all 0: the first). */
  weight?: number;
  delay?: StageDelay;
  next: StageNext;
}

/** What a stage asks the simulator to do, in this order. */
export type StageAction =
  | { kind: 'event'; type: 'Normal' | 'Warning'; reason: string; message: string }
  | { kind: 'finalizers'; finalizers: string[] }
  | { kind: 'patchStatus'; status: Record<string, unknown> }
  | { kind: 'delete' };

export class StageError extends Error {
  override readonly name = 'StageError';
  constructor(
    readonly code: 'InvalidStage' | 'InvalidPath' | 'InvalidDuration',
    message: string,
  ) {
    super(message);
  }
}

type JsonLike = unknown;

/**
 * The values a path yields (jq-like, as kwok's selectors): `.a.b` steps into maps, `.[]` / `[]`
 * flattens an array, `["x/y"]` reads a key with dots or slashes. Missing steps yield nothing.
 */
export function evaluatePath(obj: JsonLike, path: string): unknown[] {
  let current: unknown[] = [obj];
  for (const step of parsePath(path)) {
    const next: unknown[] = [];
    for (const v of current) {
      if (step === FLATTEN) {
        if (Array.isArray(v)) next.push(...v.filter((x) => x !== undefined && x !== null));
      } else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const x = (v as Record<string, unknown>)[step];
        if (x !== undefined && x !== null) next.push(x);
      } else if (Array.isArray(v) && /^\d+$/.test(step)) {
        const x = v[Number(step)];
        if (x !== undefined && x !== null) next.push(x);
      }
    }
    current = next;
  }
  return current;
}

const FLATTEN = Symbol('flatten');
type PathStep = string | typeof FLATTEN;
const pathCache = new Map<string, PathStep[]>();

function parsePath(path: string): PathStep[] {
  const cached = pathCache.get(path);
  if (cached) return cached;
  const steps: PathStep[] = [];
  let i = 0;
  const s = path.trim();
  if (s === '.' || s === '') return steps;
  while (i < s.length) {
    if (s[i] === '.') {
      i++;
      continue;
    }
    if (s.startsWith('[]', i)) {
      steps.push(FLATTEN);
      i += 2;
      continue;
    }
    if (s[i] === '[') {
      const m = /^\[\s*"((?:[^"\\]|\\.)*)"\s*\]/.exec(s.slice(i)) ?? /^\[(\d+)\]/.exec(s.slice(i));
      if (!m) throw new StageError('InvalidPath', `invalid path ${JSON.stringify(path)}: expected ["key"], [N] or [] at offset ${i}`);
      steps.push(m[1]!.replace(/\\(.)/g, '$1'));
      i += m[0].length;
      continue;
    }
    const m = /^[A-Za-z_$][\w$-]*/.exec(s.slice(i));
    if (!m) throw new StageError('InvalidPath', `invalid path ${JSON.stringify(path)} at offset ${i}`);
    steps.push(m[0]);
    i += m[0].length;
  }
  pathCache.set(path, steps);
  return steps;
}

function asString(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function requirementMatches(obj: JsonLike, r: Readonly<StageRequirement>): boolean {
  const values = evaluatePath(obj, r.key);
  switch (r.operator) {
    case 'Exists':
      return values.length > 0;
    case 'DoesNotExist':
      return values.length === 0;
    case 'In':
      return values.some((v) => (r.values ?? []).includes(asString(v)));
    case 'NotIn':
      return !values.some((v) => (r.values ?? []).includes(asString(v)));
  }
}

export function selectorMatches(obj: JsonLike, sel: Readonly<StageSelector> | undefined): boolean {
  if (!sel) return true;
  const meta = ((obj as { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } }).metadata ?? {});
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (meta.labels?.[k] !== v) return false;
  for (const [k, v] of Object.entries(sel.matchAnnotations ?? {})) if (meta.annotations?.[k] !== v) return false;
  return (sel.matchExpressions ?? []).every((r) => requirementMatches(obj, r));
}

/** The stages of `kind` whose selectors match `obj`, in declaration order. */
export function matchingStages(stages: readonly Stage[], kind: string, obj: JsonLike): Stage[] {
  return stages.filter((s) => s.resourceRef.kind === kind && selectorMatches(obj, s.selector));
}

/** Draws one of the matching stages by weight; `random` is in [0, 1). */
export function pickStage(matched: readonly Stage[], random: number): Stage | undefined {
  if (matched.length <= 1) return matched[0];
  const total = matched.reduce((n, s) => n + Math.max(0, s.weight ?? 0), 0);
  if (total <= 0) return matched[0];
  let x = random * total;
  for (const s of matched) {
    x -= Math.max(0, s.weight ?? 0);
    if (x < 0) return s;
  }
  return matched[matched.length - 1];
}

/** Parses a Go duration (`1h2m3.5s`, `250ms`, `-1s`) into milliseconds. */
export function parseGoDuration(text: string): number {
  const s = text.trim();
  if (s === '0') return 0;
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(s);
  if (!m) throw new StageError('InvalidDuration', `time: invalid duration ${JSON.stringify(text)}`);
  const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const part of s.replace(/^[+-]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) total += Number(part[1]) * unitMs[part[2]!]!;
  return m[1] === '-' ? -total : total;
}

function durationFrom(obj: JsonLike, path: string | undefined, nowMs: number): number | undefined {
  if (!path) return undefined;
  const v = evaluatePath(obj, path)[0];
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  const text = String(v);
  if (/^\d{4}-\d{2}-\d{2}T/.test(text)) {
    const at = Date.parse(text);
    if (Number.isNaN(at)) throw new StageError('InvalidDuration', `invalid time ${JSON.stringify(text)} at ${path}`);
    return at - nowMs;
  }
  return parseGoDuration(text);
}

/** The delay in ms before a stage acts on `obj`; `random` in [0, 1) draws the jitter. Never negative. */
export function stageDelayMs(stage: Readonly<Stage>, obj: JsonLike, nowMs: number, random: number): number {
  const d = stage.delay;
  if (!d) return 0;
  let base = durationFrom(obj, d.durationFrom, nowMs) ?? d.durationMilliseconds ?? 0;
  const jitter = durationFrom(obj, d.jitterDurationFrom, nowMs) ?? d.jitterDurationMilliseconds;
  if (jitter !== undefined) base = jitter < base ? jitter : base + random * (jitter - base);
  return Math.max(0, Math.round(base));
}

/** What `stage` does to `obj`: an event, finalizer changes, a rendered status patch, a delete — in that order. */
export function planStageActions(stage: Readonly<Stage>, obj: JsonLike, ctx: TemplateContext): StageAction[] {
  const actions: StageAction[] = [];
  const e = stage.next.event;
  if (e) actions.push({ kind: 'event', type: e.type, reason: e.reason, message: String(renderTemplate(e.message, obj, ctx) ?? '') });
  const f = stage.next.finalizers;
  if (f) {
    const current = ((obj as { metadata?: { finalizers?: string[] } }).metadata?.finalizers ?? []).slice();
    let next = f.empty ? [] : current.filter((x) => !(f.remove ?? []).includes(x));
    for (const a of f.add ?? []) if (!next.includes(a)) next = [...next, a];
    if (next.length !== current.length || next.some((x, i) => x !== current[i])) actions.push({ kind: 'finalizers', finalizers: next });
  }
  if (stage.next.statusTemplate !== undefined) {
    const status = renderTemplate(stage.next.statusTemplate, obj, ctx);
    if (status === null || typeof status !== 'object' || Array.isArray(status)) {
      throw new StageError('InvalidStage', `stage ${stage.name}: statusTemplate must render to an object`);
    }
    actions.push({ kind: 'patchStatus', status: status as Record<string, unknown> });
  }
  if (stage.next.delete) actions.push({ kind: 'delete' });
  return actions;
}

/** Checks a stage read from a file once, so evaluation later cannot fail on its shape. */
export function validateStage(s: unknown): Stage {
  const bad = (why: string): never => {
    throw new StageError('InvalidStage', `invalid stage${typeof (s as Stage)?.name === 'string' ? ` ${(s as Stage).name}` : ''}: ${why}`);
  };
  if (s === null || typeof s !== 'object') return bad('not an object');
  const st = s as Partial<Stage>;
  if (typeof st.name !== 'string' || !st.name) bad('name is required');
  if (!st.resourceRef || typeof st.resourceRef.kind !== 'string') bad('resourceRef.kind is required');
  if (!st.next || typeof st.next !== 'object') bad('next is required');
  for (const r of st.selector?.matchExpressions ?? []) {
    if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(r.operator)) bad(`unknown operator ${JSON.stringify(r.operator)}`);
    if ((r.operator === 'In' || r.operator === 'NotIn') && !(r.values ?? []).length) bad(`${r.key}: operator ${r.operator} needs values`);
    parsePath(r.key);
  }
  const ev = st.next?.event;
  if (ev && (!['Normal', 'Warning'].includes(ev.type) || typeof ev.reason !== 'string' || !ev.reason || typeof ev.message !== 'string')) bad('next.event needs type Normal or Warning, a reason and a message');
  if (st.delay?.durationFrom) parsePath(st.delay.durationFrom);
  if (st.delay?.jitterDurationFrom) parsePath(st.delay.jitterDurationFrom);
  return st as Stage;
}
