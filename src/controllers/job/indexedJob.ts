// Indexed Jobs (upstream indexed_job_utils.go): completion indexes kept as ordered intervals and
// written as "1,3-5,7", the index annotation/label/env/hostname each pod of an Indexed Job gets,
// and the per-index failure counts of backoffLimitPerIndex.

import type { Container, Pod, PodTemplateSpec } from 'kubernetes-types/core/v1.js';

export const JOB_COMPLETION_INDEX_ANNOTATION = 'batch.kubernetes.io/job-completion-index';
export const JOB_INDEX_FAILURE_COUNT_ANNOTATION = 'batch.kubernetes.io/job-index-failure-count';
export const JOB_INDEX_IGNORED_FAILURE_COUNT_ANNOTATION = 'batch.kubernetes.io/job-index-ignored-failure-count';
export const COMPLETION_INDEX_ENV_NAME = 'JOB_COMPLETION_INDEX';
/** Upstream names.MaxGeneratedNameLength: 63 minus the 5 random characters. */
const MAX_GENERATED_NAME_LENGTH = 58;

export interface Interval {
  first: number;
  last: number;
}

/** Disjoint, increasing, non-adjacent intervals. */
export type OrderedIntervals = readonly Interval[];

/** The completion index of a pod, or undefined when absent or not a non-negative integer. */
export function completionIndex(annotations: Readonly<Record<string, string>> | undefined): number | undefined {
  const v = annotations?.[JOB_COMPLETION_INDEX_ANNOTATION];
  if (v === undefined || !/^[+-]?\d+$/.test(v)) return undefined;
  const i = Number(v);
  return i >= 0 && Number.isSafeInteger(i) ? i : undefined;
}

export const podIndex = (p: Readonly<Pod>): number | undefined => completionIndex(p.metadata?.annotations);

/** Parses "1,3-5,7" keeping only indexes below `completions`; corrupt parts are skipped as upstream. */
export function parseIndexes(text: string | undefined, completions: number): Interval[] {
  if (!text) return [];
  const out: Interval[] = [];
  for (const part of text.split(',')) {
    const limits = part.split('-');
    const first = toInt(limits[0]!);
    if (first === undefined) continue;
    if (first >= completions) break;
    let last = first;
    if (limits.length > 1) {
      const l = toInt(limits[1]!);
      if (l === undefined) continue;
      last = Math.min(l, completions - 1);
    }
    const prev = out[out.length - 1];
    if (prev && prev.last === first - 1) prev.last = last;
    else out.push({ first, last });
  }
  return out;
}

function toInt(s: string): number | undefined {
  return /^[+-]?\d+$/.test(s) ? Number(s) : undefined;
}

/** The union of two ordered interval lists (adjacent intervals merge). */
export function mergeIntervals(a: OrderedIntervals, b: OrderedIntervals): Interval[] {
  const out: Interval[] = [];
  const push = (iv: Interval) => {
    const last = out[out.length - 1];
    if (!last || iv.first > last.last + 1) out.push({ ...iv });
    else if (last.last < iv.last) last.last = iv.last;
  };
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) push(a[i]!.first < b[j]!.first ? a[i++]! : b[j++]!);
  while (i < a.length) push(a[i++]!);
  while (j < b.length) push(b[j++]!);
  return out;
}

/** `intervals` plus the given indexes (in increasing order). */
export function withIndexes(intervals: OrderedIntervals, indexes: readonly number[]): Interval[] {
  return mergeIntervals(intervals, [...indexes].sort((x, y) => x - y).map((ix) => ({ first: ix, last: ix })));
}

export function totalIndexes(intervals: OrderedIntervals | undefined): number {
  return (intervals ?? []).reduce((n, iv) => n + iv.last - iv.first + 1, 0);
}

export function hasIndex(intervals: OrderedIntervals | undefined, ix: number): boolean {
  return (intervals ?? []).some((iv) => iv.first <= ix && ix <= iv.last);
}

/** Upstream's compressed form: runs of three or more become "a-b", pairs stay "a,b". */
export function formatIndexes(intervals: OrderedIntervals): string {
  return intervals.map((iv) => (iv.last === iv.first ? `${iv.first}` : iv.last === iv.first + 1 ? `${iv.first},${iv.last}` : `${iv.first}-${iv.last}`)).join(',');
}

/** The `count` lowest indexes below `completions` not in `nonPending`. */
export function firstPendingIndexes(nonPending: OrderedIntervals, count: number, completions: number): number[] {
  const out: number[] = [];
  let candidate = 0;
  for (const iv of nonPending) {
    for (; candidate < completions && out.length < count && candidate < iv.first; candidate++) out.push(candidate);
    if (candidate < iv.last + 1) candidate = iv.last + 1;
  }
  for (; candidate < completions && out.length < count; candidate++) out.push(candidate);
  return out;
}

/**
 * Active pods an Indexed Job must remove whatever its parallelism: pods without a valid index,
 * with an index ≥ completions, and all but one pod of a repeated index (the one kept is the one
 * `deleteFirst` orders last, i.e. the most advanced).
 */
export function duplicatedIndexPodsForRemoval<P extends Readonly<Pod>>(pods: readonly P[], completions: number, deleteFirst: (a: P, b: P) => number): { rm: P[]; left: P[] } {
  const rm: P[] = [];
  const left: P[] = [];
  const byIndex = new Map<number, P[]>();
  for (const p of pods) {
    const ix = podIndex(p);
    if (ix === undefined || ix >= completions) {
      rm.push(p);
      continue;
    }
    const list = byIndex.get(ix);
    if (list) list.push(p);
    else byIndex.set(ix, [p]);
  }
  for (const ix of [...byIndex.keys()].sort((a, b) => a - b)) {
    const same = [...byIndex.get(ix)!].sort(deleteFirst);
    rm.push(...same.slice(0, -1));
    left.push(same[same.length - 1]!);
  }
  return { rm, left };
}

/** `<job>-<index>-`, truncated so that a generated name stays within 63 characters. */
export function podGenerateNameWithIndex(jobName: string, index: number): string {
  const suffix = `-${index}-`;
  const prefix = jobName + suffix;
  return prefix.length > MAX_GENERATED_NAME_LENGTH ? jobName.slice(0, MAX_GENERATED_NAME_LENGTH - suffix.length) + suffix : prefix;
}

/** Adds JOB_COMPLETION_INDEX (from the index label, PodIndexLabel being GA) to every container. */
export function addCompletionIndexEnv(template: PodTemplateSpec): void {
  const add = (c: Container) => {
    if (c.env?.some((e) => e.name === COMPLETION_INDEX_ENV_NAME)) return;
    c.env = [...(c.env ?? []), { name: COMPLETION_INDEX_ENV_NAME, valueFrom: { fieldRef: { fieldPath: `metadata.labels['${JOB_COMPLETION_INDEX_ANNOTATION}']` } } }];
  };
  for (const c of template.spec?.initContainers ?? []) add(c);
  for (const c of template.spec?.containers ?? []) add(c);
}

/** The index annotation and label, and the `<job>-<index>` hostname. */
export function setCompletionIndex(template: PodTemplateSpec, jobName: string, index: number): void {
  template.metadata ??= {};
  template.metadata.annotations = { ...(template.metadata.annotations ?? {}), [JOB_COMPLETION_INDEX_ANNOTATION]: String(index) };
  template.metadata.labels = { ...(template.metadata.labels ?? {}), [JOB_COMPLETION_INDEX_ANNOTATION]: String(index) };
  if (template.spec) template.spec.hostname = `${jobName}-${index}`;
}

function annotationInt(p: Readonly<Pod>, key: string): number {
  const v = p.metadata?.annotations?.[key];
  if (v === undefined || !/^\d+$/.test(v)) return 0;
  const n = Number(v);
  return n <= 2 ** 31 - 1 ? n : 0;
}

export const indexFailureCount = (p: Readonly<Pod>): number => annotationInt(p, JOB_INDEX_FAILURE_COUNT_ANNOTATION);
export const indexIgnoredFailureCount = (p: Readonly<Pod>): number => annotationInt(p, JOB_INDEX_IGNORED_FAILURE_COUNT_ANNOTATION);
export const indexAbsoluteFailureCount = (p: Readonly<Pod>): number => indexFailureCount(p) + indexIgnoredFailureCount(p);
