// Exponential back-off before re-creating a Job's failed pods (upstream backoff_utils.go): each
// failure since the last success doubles the wait from 10 s, capped (upstream's
// MaxJobPodFailureBackOff, 10 min in 1.32); a success resets it.

import type { Pod } from 'kubernetes-types/core/v1.js';

export const DEFAULT_POD_FAILURE_BACKOFF_MS = 10_000;
export const MAX_POD_FAILURE_BACKOFF_MS = 10 * 60_000;

export interface BackoffRecord {
  failuresAfterLastSuccess: number;
  /** When the latest counted failure finished, ms since the epoch. */
  lastFailureTime?: number | undefined;
}

const ts = (s: string | undefined): number | undefined => {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : undefined;
};

/**
 * When a pod finished: the latest container finish (if all containers finished), else when Ready
 * went False, else deletionTimestamp minus its grace period, else its creation.
 */
export function podFinishedTime(p: Readonly<Pod>): number {
  const fromContainers = latestFinish(p);
  if (fromContainers !== undefined) return fromContainers;
  const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
  const readyFalse = ready?.status === 'False' ? ts(ready.lastTransitionTime) : undefined;
  if (readyFalse !== undefined) return readyFalse;
  const del = ts(p.metadata?.deletionTimestamp);
  if (del !== undefined) return del - (p.metadata?.deletionGracePeriodSeconds ?? 0) * 1000;
  return ts(p.metadata?.creationTimestamp) ?? 0;
}

function latestFinish(p: Readonly<Pod>): number | undefined {
  let latest: number | undefined;
  // Sidecars (restartable init containers) finish after the main containers, so they count too.
  const sidecars = new Set((p.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name));
  const statuses = [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? []).filter((s) => sidecars.has(s.name))];
  for (const s of statuses) {
    const t = ts(s.state?.terminated?.finishedAt);
    if (t === undefined) return undefined;
    if (latest === undefined || t > latest) latest = t;
  }
  return latest;
}

/** The record after this sync's newly finished pods (upstream newBackoffRecord). */
export function nextBackoffRecord(old: BackoffRecord | undefined, newSucceeded: readonly Readonly<Pod>[], newFailed: readonly Readonly<Pod>[]): BackoffRecord {
  const rec: BackoffRecord = { failuresAfterLastSuccess: old?.failuresAfterLastSuccess ?? 0, lastFailureTime: old?.lastFailureTime };
  const failedTimes = newFailed.map(podFinishedTime).sort((a, b) => a - b);
  if (newSucceeded.length === 0) {
    if (failedTimes.length === 0) return rec;
    return { failuresAfterLastSuccess: rec.failuresAfterLastSuccess + failedTimes.length, lastFailureTime: failedTimes[failedTimes.length - 1] };
  }
  const lastSuccess = Math.max(...newSucceeded.map(podFinishedTime));
  const out: BackoffRecord = { failuresAfterLastSuccess: 0 };
  for (let i = failedTimes.length - 1; i >= 0; i--) {
    const t = failedTimes[i]!;
    if (t <= lastSuccess) break;
    out.lastFailureTime ??= t;
    out.failuresAfterLastSuccess++;
  }
  return out;
}

/** How long pod creation must still wait after `failures` failures, the last at `lastFailureTime`. */
export function remainingBackoffMs(failures: number, lastFailureTime: number | undefined, now: number, baseMs = DEFAULT_POD_FAILURE_BACKOFF_MS, maxMs = MAX_POD_FAILURE_BACKOFF_MS): number {
  if (failures <= 0 || lastFailureTime === undefined) return 0;
  let backoff = baseMs;
  for (let i = 1; i < failures; i++) {
    backoff *= 2;
    if (backoff >= maxMs) {
      backoff = maxMs;
      break;
    }
  }
  const elapsed = now - lastFailureTime;
  return backoff < elapsed ? 0 : backoff - elapsed;
}
