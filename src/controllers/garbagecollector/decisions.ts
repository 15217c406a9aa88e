// What the garbage collector does with one object once it knows the state of its owners
// (upstream's attemptToDeleteItem after classifyReferences): pure, so it is tested as a table.
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import { FOREGROUND_FINALIZER, ORPHAN_FINALIZER } from './graph.js';

/** What a live GET (or the absent-owner cache) says about one owner. */
export type OwnerState = { exists: false } | { exists: true; deletionTimestamp?: string | undefined; finalizers?: readonly string[] | undefined };

export interface ClassifiedReferences {
  /** The owner exists and is not waiting for its dependents' deletion. */
  solid: OwnerReference[];
  /** The owner does not exist (404, or another UID under that name). */
  dangling: OwnerReference[];
  /** The owner is being deleted in the foreground (deletionTimestamp and foregroundDeletion). */
  waitingForDependentsDeletion: OwnerReference[];
}

export function classifyReferences(refs: readonly OwnerReference[], stateOf: (ref: OwnerReference) => OwnerState): ClassifiedReferences {
  const out: ClassifiedReferences = { solid: [], dangling: [], waitingForDependentsDeletion: [] };
  for (const ref of refs) {
    const s = stateOf(ref);
    if (!s.exists) out.dangling.push(ref);
    else if (s.deletionTimestamp && s.finalizers?.includes(FOREGROUND_FINALIZER)) out.waitingForDependentsDeletion.push(ref);
    else out.solid.push(ref);
  }
  return out;
}

export type DeletionPolicy = 'Background' | 'Foreground' | 'Orphan';

export type DependentDecision =
  /** Nothing to do: no owners, or only live ones. */
  | { action: 'keep' }
  /** Some owner lives: drop the references to the dangling and foreground-deleting owners (they would block them). */
  | { action: 'removeOwnerReferences'; uids: string[] }
  /**
   * No live owner: delete. `unblockFirst` (foreground chains where a dependent is itself deleting
   * its dependents) first turns this object's blockOwnerDeletion references off to break cycles.
   */
  | { action: 'delete'; policy: DeletionPolicy; unblockFirst?: boolean };

export interface DependentFacts {
  /** The object's live finalizers. */
  finalizers: readonly string[];
  ownerReferences: readonly OwnerReference[];
  classified: ClassifiedReferences;
  /** How many dependents the graph knows this object has, and whether one of them is deleting its own dependents. */
  dependents: number;
  aDependentIsDeletingDependents: boolean;
}

export function planDependent(f: DependentFacts): DependentDecision {
  if (f.ownerReferences.length === 0) return { action: 'keep' };
  const { solid, dangling, waitingForDependentsDeletion: waiting } = f.classified;
  if (solid.length > 0) {
    if (dangling.length === 0 && waiting.length === 0) return { action: 'keep' };
    return { action: 'removeOwnerReferences', uids: [...dangling, ...waiting].map((r) => r.uid) };
  }
  if (waiting.length > 0 && f.dependents > 0) {
    // An owner waits for us and we have dependents: delete ourselves in the foreground too.
    return { action: 'delete', policy: 'Foreground', unblockFirst: f.aDependentIsDeletingDependents };
  }
  // No live owner; honour a policy already chosen through finalizers.
  if (f.finalizers.includes(ORPHAN_FINALIZER)) return { action: 'delete', policy: 'Orphan' };
  if (f.finalizers.includes(FOREGROUND_FINALIZER)) return { action: 'delete', policy: 'Foreground' };
  return { action: 'delete', policy: 'Background' };
}

/** The finalizers left after removing `f` (null when none stay, so a merge patch clears the field). */
export function withoutFinalizer(finalizers: readonly string[] | undefined, f: string): string[] | null {
  const rest = (finalizers ?? []).filter((x) => x !== f);
  return rest.length ? rest : null;
}
