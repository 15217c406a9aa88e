// The namespace deleter's status conditions (upstream's namespaceConditionUpdater): what went
// wrong (discovery, group-version parsing, content deletion) and what remains (content, finalizers),
// each condition False with an "ok" reason when all is well. Pure; tested as a table.
import type { NamespaceCondition, NamespaceStatus } from 'kubernetes-types/core/v1.js';
import { GroupDiscoveryFailedError } from '../discovery.js';

export const NamespaceDeletionDiscoveryFailure = 'NamespaceDeletionDiscoveryFailure';
export const NamespaceDeletionGVParsingFailure = 'NamespaceDeletionGroupVersionParsingFailure';
export const NamespaceDeletionContentFailure = 'NamespaceDeletionContentFailure';
export const NamespaceContentRemaining = 'NamespaceContentRemaining';
export const NamespaceFinalizersRemaining = 'NamespaceFinalizersRemaining';

/** The condition types the namespace deleter maintains, in upstream's order. */
export const CONDITION_TYPES = [NamespaceDeletionDiscoveryFailure, NamespaceDeletionGVParsingFailure, NamespaceDeletionContentFailure, NamespaceContentRemaining, NamespaceFinalizersRemaining] as const;

const OK_MESSAGES: Record<string, string> = {
  [NamespaceDeletionDiscoveryFailure]: 'All resources successfully discovered',
  [NamespaceDeletionGVParsingFailure]: 'All legacy kube types successfully parsed',
  [NamespaceDeletionContentFailure]: 'All content successfully deleted, may be waiting on finalization',
  [NamespaceContentRemaining]: 'All content successfully removed',
  [NamespaceFinalizersRemaining]: 'All content successfully removed',
};

const OK_REASONS: Record<string, string> = {
  [NamespaceDeletionDiscoveryFailure]: 'ResourcesDiscovered',
  [NamespaceDeletionGVParsingFailure]: 'ParsedGroupVersions',
  [NamespaceDeletionContentFailure]: 'ContentDeleted',
  [NamespaceContentRemaining]: 'ContentRemoved',
  [NamespaceFinalizersRemaining]: 'ContentRemoved',
};

/** What remains of a namespace's content: instances per resource (`pods.` / `widgets.example.com`) and per finalizer. */
export interface ContentTotals {
  resourceToNumRemaining: ReadonlyMap<string, number>;
  finalizersToNumRemaining: ReadonlyMap<string, number>;
}

/** `group/version, Resource=plural`, as Go prints a GroupVersionResource. */
export function gvrString(r: { group: string; version: string; plural: string }): string {
  return `${r.group}/${r.version}, Resource=${r.plural}`;
}

export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

export class NamespaceConditionUpdater {
  private readonly newConditions: NamespaceCondition[] = [];
  private readonly deleteContentErrors: Error[] = [];

  constructor(private readonly now: number = Date.now()) {}

  processGroupVersionErr(err: Error): void {
    this.newConditions.push({ type: NamespaceDeletionGVParsingFailure, status: 'True', lastTransitionTime: rfc3339(this.now), reason: 'GroupVersionParsingFailed', message: err.message });
  }

  processDiscoverResourcesErr(err: Error): void {
    const message = err instanceof GroupDiscoveryFailedError ? `Discovery failed for some groups, ${err.groups.size} failing: ${err.message}` : err.message;
    this.newConditions.push({ type: NamespaceDeletionDiscoveryFailure, status: 'True', lastTransitionTime: rfc3339(this.now), reason: 'DiscoveryFailed', message });
  }

  processDeleteContentErr(err: Error): void {
    this.deleteContentErrors.push(err);
  }

  processContentTotals(t: ContentTotals): void {
    const resources = [...t.resourceToNumRemaining].filter(([, n]) => n > 0).map(([r, n]) => `${r} has ${n} resource instances`);
    if (resources.length) {
      this.newConditions.push({
        type: NamespaceContentRemaining,
        status: 'True',
        lastTransitionTime: rfc3339(this.now),
        reason: 'SomeResourcesRemain',
        message: `Some resources are remaining: ${resources.sort().join(', ')}`,
      });
    }
    const finalizers = [...t.finalizersToNumRemaining].filter(([, n]) => n > 0).map(([f, n]) => `${f} in ${n} resource instances`);
    if (finalizers.length) {
      this.newConditions.push({
        type: NamespaceFinalizersRemaining,
        status: 'True',
        lastTransitionTime: rfc3339(this.now),
        reason: 'SomeFinalizerRemain',
        message: `Some finalizers are remaining: ${finalizers.sort().join(', ')}`,
      });
    }
  }

  /** Writes every maintained condition into `status` (a copy the caller owns); true if anything changed. */
  update(status: NamespaceStatus): boolean {
    if (!this.newConditions.some((c) => c.type === NamespaceDeletionContentFailure) && this.deleteContentErrors.length) {
      const msgs = this.deleteContentErrors.map((e) => e.message).sort();
      this.newConditions.push({
        type: NamespaceDeletionContentFailure,
        status: 'True',
        lastTransitionTime: rfc3339(this.now),
        reason: 'ContentDeletionFailed',
        message: `Failed to delete all resource types, ${msgs.length} remaining: ${msgs.join(', ')}`,
      });
    }
    let changed = false;
    status.conditions ??= [];
    for (const type of CONDITION_TYPES) {
      const want = this.newConditions.find((c) => c.type === type) ?? { type, status: 'False', lastTransitionTime: rfc3339(this.now), reason: OK_REASONS[type], message: OK_MESSAGES[type] };
      const old = status.conditions.find((c) => c.type === type);
      if (!old) {
        status.conditions.push(want);
        changed = true;
      } else if (old.status !== want.status || old.message !== want.message || old.reason !== want.reason) {
        if (old.status !== want.status) old.lastTransitionTime = rfc3339(this.now);
        old.status = want.status;
        old.reason = want.reason!;
        old.message = want.message!;
        changed = true;
      }
    }
    return changed;
  }
}

/** What one resource's leftover items mean (the tail of upstream's deleteAllContentForGroupVersionResource). */
export interface ResourceRemaining {
  /** Seconds to wait; 0 means no estimate (not that nothing remains). */
  estimate: number;
  numRemaining: number;
  finalizersToNumRemaining: Map<string, number>;
  /** Items remain without finalizers or a grace period: something is wrong. */
  unexpected: boolean;
}

/** Upstream's default wait for finalizers found on items pending deletion. */
export const FINALIZER_ESTIMATE_SECONDS = 15;

export function remainingContent(items: ReadonlyArray<{ metadata?: { finalizers?: string[] | undefined } | undefined }>, estimate: number): ResourceRemaining {
  const finalizers = new Map<string, number>();
  if (items.length === 0) return { estimate: 0, numRemaining: 0, finalizersToNumRemaining: finalizers, unexpected: false };
  for (const it of items) for (const f of it.metadata?.finalizers ?? []) finalizers.set(f, (finalizers.get(f) ?? 0) + 1);
  if (estimate !== 0) return { estimate, numRemaining: items.length, finalizersToNumRemaining: finalizers, unexpected: false };
  if (finalizers.size > 0) return { estimate: FINALIZER_ESTIMATE_SECONDS, numRemaining: items.length, finalizersToNumRemaining: finalizers, unexpected: false };
  return { estimate, numRemaining: items.length, finalizersToNumRemaining: finalizers, unexpected: true };
}

/**
 * How long pods may still take: the longest terminationGracePeriodSeconds of non-terminal pods,
 * or 0 once the namespace has been deleting for at least that long.
 */
export function estimateGracefulTerminationForPods(pods: ReadonlyArray<{ spec?: { terminationGracePeriodSeconds?: number | undefined } | undefined; status?: { phase?: string | undefined } | undefined }>, namespaceDeletedAtMs: number, nowMs: number): number {
  let estimate = 0;
  for (const p of pods) {
    if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
    const g = p.spec?.terminationGracePeriodSeconds;
    if (g !== undefined && g > estimate) estimate = g;
  }
  return nowMs - namespaceDeletedAtMs >= estimate * 1000 ? 0 : estimate;
}
