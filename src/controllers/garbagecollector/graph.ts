// The garbage collector's dependency graph (upstream's GraphBuilder): one node per object UID
// seen by any monitor, edges from owners to dependents through ownerReferences. Owners referred to
// but not (yet) seen are "virtual" nodes, which the collector verifies with a live GET. Changes
// are applied one at a time by `process`, which says what to look at next through `GraphEffects`;
// nothing here does I/O, so the whole builder is tested as a table.
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';

export const FOREGROUND_FINALIZER = 'foregroundDeletion';
export const ORPHAN_FINALIZER = 'orphan';

/** Who an object is: its coordinates and UID; namespace '' for cluster-scoped objects. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  namespace: string;
}

export function refString(r: ObjectRef): string {
  return `[${r.apiVersion}/${r.kind}, namespace: ${r.namespace}, name: ${r.name}, uid: ${r.uid}]`;
}

export function sameRef(a: ObjectRef, b: ObjectRef): boolean {
  return a.apiVersion === b.apiVersion && a.kind === b.kind && a.name === b.name && a.uid === b.uid && a.namespace === b.namespace;
}

/** The metadata the graph needs of an object. */
export interface GraphObjectMeta {
  name?: string | undefined;
  namespace?: string | undefined;
  uid?: string | undefined;
  deletionTimestamp?: string | undefined;
  finalizers?: string[] | undefined;
  ownerReferences?: OwnerReference[] | undefined;
}

export interface GraphEvent {
  type: 'add' | 'update' | 'delete';
  apiVersion: string;
  kind: string;
  metadata: GraphObjectMeta;
  oldMetadata?: GraphObjectMeta | undefined;
  /** Produced by the collector after a GET found nothing, not observed through a monitor. */
  virtual?: boolean;
}

export class GraphNode {
  readonly dependents = new Set<GraphNode>();
  /** Seen through a monitor (not only referred to as an owner). */
  observed: boolean;
  beingDeleted: boolean;
  deletingDependents: boolean;

  constructor(
    public identity: ObjectRef,
    public owners: OwnerReference[],
    opts: { observed: boolean; beingDeleted?: boolean; deletingDependents?: boolean },
  ) {
    this.observed = opts.observed;
    this.beingDeleted = opts.beingDeleted ?? false;
    this.deletingDependents = opts.deletingDependents ?? false;
  }

  /** Dependents whose reference to this node has blockOwnerDeletion: they hold a foreground deletion. */
  blockingDependents(): GraphNode[] {
    return [...this.dependents].filter((d) => d.owners.some((o) => o.uid === this.identity.uid && o.blockOwnerDeletion === true));
  }
}

/** What the builder asks of the collector. */
export interface GraphEffects {
  attemptToDelete(n: GraphNode): void;
  /** As attemptToDelete, but after a back-off (a replaced virtual node). */
  attemptToDeleteLater(n: GraphNode): void;
  attemptToOrphan(n: GraphNode): void;
  /** This owner identity is known not to exist. */
  markAbsent(r: ObjectRef): void;
  /** Upstream's OwnerRefInvalidNamespace warning on the dependent. */
  invalidNamespaceOwnerRef(dependent: GraphNode, ownerRef: ObjectRef): void;
}

function ownerRefMatches(ref: OwnerReference, id: ObjectRef): boolean {
  return ref.apiVersion === id.apiVersion && ref.kind === id.kind && ref.name === id.name && ref.uid === id.uid;
}

function hasFinalizer(m: GraphObjectMeta | undefined, f: string): boolean {
  return m?.finalizers?.includes(f) ?? false;
}

function deletionStartsWith(oldM: GraphObjectMeta | undefined, m: GraphObjectMeta, f: string): boolean {
  if (!m.deletionTimestamp || !hasFinalizer(m, f)) return false;
  if (!oldM) return true;
  return !oldM.deletionTimestamp || !hasFinalizer(oldM, f);
}

function sameOwnerRef(a: OwnerReference, b: OwnerReference): boolean {
  return a.apiVersion === b.apiVersion && a.kind === b.kind && a.name === b.name && a.uid === b.uid && (a.controller ?? null) === (b.controller ?? null) && (a.blockOwnerDeletion ?? null) === (b.blockOwnerDeletion ?? null);
}

/** ownerReferences added, removed and changed (same UID, other fields) between two lists. */
export function referencesDiffs(oldRefs: readonly OwnerReference[], newRefs: readonly OwnerReference[]): { added: OwnerReference[]; removed: OwnerReference[]; changed: Array<{ oldRef: OwnerReference; newRef: OwnerReference }> } {
  const oldByUid = new Map(oldRefs.map((r) => [r.uid, r]));
  const added: OwnerReference[] = [];
  const changed: Array<{ oldRef: OwnerReference; newRef: OwnerReference }> = [];
  const left = new Set(oldByUid.keys());
  for (const r of newRefs) {
    const o = oldByUid.get(r.uid);
    if (!o) {
      added.push(r);
      continue;
    }
    if (!sameOwnerRef(o, r)) changed.push({ oldRef: o, newRef: r });
    left.delete(r.uid);
  }
  return { added, removed: [...left].map((u) => oldByUid.get(u)!), changed };
}

/**
 * Dependents whose reference to the owner UID matches `owner`'s coordinates, and those whose
 * reference does not (a dependent with two references to the UID can be in both).
 */
export function partitionDependents(dependents: readonly GraphNode[], owner: ObjectRef): { matching: GraphNode[]; nonmatching: GraphNode[] } {
  const matching: GraphNode[] = [];
  const nonmatching: GraphNode[] = [];
  const ownerNamespaced = owner.namespace !== '';
  for (const dep of dependents) {
    let match = false;
    let mismatch = false;
    if (ownerNamespaced && owner.namespace !== dep.identity.namespace) {
      mismatch = true;
    } else {
      for (const r of dep.owners) {
        if (r.uid !== owner.uid) continue;
        if (ownerRefMatches(r, owner)) match = true;
        else mismatch = true;
      }
    }
    if (match) matching.push(dep);
    if (mismatch) nonmatching.push(dep);
  }
  return { matching, nonmatching };
}

function refLess(a: ObjectRef, b: ObjectRef): boolean {
  for (const k of ['kind', 'apiVersion', 'namespace', 'name', 'uid'] as const) if (a[k] !== b[k]) return a[k] < b[k];
  return false;
}

/** Another identity the dependents give an owner UID that was verified absent under `absent` (upstream's getAlternateOwnerIdentity). */
export function alternateOwnerIdentity(deps: readonly GraphNode[], absent: ObjectRef): ObjectRef | undefined {
  const clusterScoped = absent.namespace === '';
  const seen = new Set<string>([JSON.stringify(absent)]);
  let first: ObjectRef | undefined;
  let firstFollowing: ObjectRef | undefined;
  for (const dep of deps) {
    for (const r of dep.owners) {
      if (r.uid !== absent.uid) continue;
      if (ownerRefMatches(r, absent) && (clusterScoped || absent.namespace === dep.identity.namespace)) continue;
      const ref: ObjectRef = { apiVersion: r.apiVersion, kind: r.kind, name: r.name, uid: r.uid, namespace: dep.identity.namespace };
      if (clusterScoped && ref.apiVersion === absent.apiVersion && ref.kind === absent.kind) ref.namespace = '';
      const key = JSON.stringify(ref);
      if (seen.has(key)) continue;
      seen.add(key);
      if (!first || refLess(ref, first)) first = ref;
      if (refLess(absent, ref) && (!firstFollowing || refLess(ref, firstFollowing))) firstFollowing = ref;
    }
  }
  return firstFollowing ?? first;
}

export class DependencyGraph {
  readonly uidToNode = new Map<string, GraphNode>();

  constructor(private readonly effects: GraphEffects) {}

  get(uid: string): GraphNode | undefined {
    return this.uidToNode.get(uid);
  }

  /** Applies one monitor (or virtual) event, as upstream's processGraphChanges. */
  process(ev: GraphEvent): void {
    const m = ev.metadata;
    const uid = m.uid;
    if (!uid) return;
    const identity: ObjectRef = { apiVersion: ev.apiVersion, kind: ev.kind, name: m.name ?? '', uid, namespace: m.namespace ?? '' };
    let existing = this.uidToNode.get(uid);
    if (existing && !ev.virtual && !existing.observed) {
      // A virtual node is now seen for real: dependents that named it otherwise may be wrong.
      if (!sameRef(identity, existing.identity)) {
        const { nonmatching } = partitionDependents([...existing.dependents], identity);
        for (const dep of nonmatching) {
          if (identity.namespace && dep.identity.namespace !== identity.namespace) this.reportInvalidNamespace(dep, identity.uid);
          this.effects.attemptToDelete(dep);
        }
        existing.identity = identity;
      }
      existing.observed = true;
    }
    if ((ev.type === 'add' || ev.type === 'update') && !existing) {
      const n = new GraphNode(identity, [...(m.ownerReferences ?? [])], {
        observed: !ev.virtual,
        beingDeleted: !!m.deletionTimestamp,
        deletingDependents: !!m.deletionTimestamp && hasFinalizer(m, FOREGROUND_FINALIZER),
      });
      this.uidToNode.set(uid, n);
      this.addDependentToOwners(n, n.owners);
      this.processTransitions(ev.oldMetadata, m, n);
      return;
    }
    if ((ev.type === 'add' || ev.type === 'update') && existing) {
      if (!ev.virtual && (existing.identity.apiVersion !== ev.apiVersion || existing.identity.kind !== ev.kind)) {
        existing.identity = { ...existing.identity, apiVersion: ev.apiVersion, kind: ev.kind };
      }
      const newRefs = m.ownerReferences ?? [];
      const { added, removed, changed } = referencesDiffs(existing.owners, newRefs);
      if (added.length || removed.length || changed.length) {
        this.addUnblockedOwnersToDeleteQueue(removed, changed);
        existing.owners = [...newRefs];
        this.addDependentToOwners(existing, added);
        this.removeDependentFromOwners(existing, removed);
      }
      if (m.deletionTimestamp) existing.beingDeleted = true;
      this.processTransitions(ev.oldMetadata, m, existing);
      return;
    }
    if (ev.type !== 'delete' || !existing) return;
    let remove = true;
    if (ev.virtual) {
      if (!existing.observed) {
        const { matching, nonmatching } = partitionDependents([...existing.dependents], identity);
        if (nonmatching.length > 0) {
          // Dependents disagree on this owner's coordinates: keep the virtual node for the others.
          remove = false;
          if (matching.length > 0) {
            this.effects.markAbsent(identity);
            for (const dep of matching) this.effects.attemptToDelete(dep);
          }
          if (sameRef(existing.identity, identity)) {
            const alt = alternateOwnerIdentity(nonmatching, identity);
            if (alt) {
              existing.identity = alt;
              this.effects.attemptToDeleteLater(existing);
            }
          }
        }
      } else if (!sameRef(existing.identity, identity)) {
        // A real node is never removed by a virtual delete of other coordinates.
        remove = false;
        const { matching } = partitionDependents([...existing.dependents], identity);
        if (matching.length > 0) {
          this.effects.markAbsent(identity);
          for (const dep of matching) this.effects.attemptToDelete(dep);
        }
      }
    }
    if (!remove) return;
    existing = existing!;
    this.uidToNode.delete(uid);
    this.removeDependentFromOwners(existing, existing.owners);
    if (existing.dependents.size > 0) this.effects.markAbsent(identity);
    for (const dep of existing.dependents) this.effects.attemptToDelete(dep);
    for (const o of existing.owners) {
      const owner = this.uidToNode.get(o.uid);
      // An owner waiting for its dependents may now be free to go.
      if (owner?.deletingDependents) this.effects.attemptToDelete(owner);
    }
  }

  private addDependentToOwners(n: GraphNode, owners: readonly OwnerReference[]): void {
    let potentiallyInvalid = false;
    for (const ref of owners) {
      let owner = this.uidToNode.get(ref.uid);
      const found = owner !== undefined;
      if (!owner) {
        owner = new GraphNode({ apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name, uid: ref.uid, namespace: n.identity.namespace }, [], { observed: false });
        this.uidToNode.set(ref.uid, owner);
      }
      owner.dependents.add(n);
      if (!found) {
        // The collector verifies with a GET whether this owner exists.
        this.effects.attemptToDelete(owner);
        continue;
      }
      if (potentiallyInvalid) continue;
      const ownerNamespaced = owner.identity.namespace !== '';
      if (ownerNamespaced && owner.identity.namespace !== n.identity.namespace) {
        if (owner.observed) this.reportInvalidNamespace(n, ref.uid);
        potentiallyInvalid = true;
      } else if (!ownerRefMatches(ref, owner.identity)) {
        potentiallyInvalid = true;
      } else if (!ownerNamespaced && owner.identity.namespace !== n.identity.namespace && !owner.observed) {
        potentiallyInvalid = true;
      }
    }
    if (potentiallyInvalid) this.effects.attemptToDelete(n);
  }

  private removeDependentFromOwners(n: GraphNode, owners: readonly OwnerReference[]): void {
    for (const ref of owners) this.uidToNode.get(ref.uid)?.dependents.delete(n);
  }

  private reportInvalidNamespace(n: GraphNode, ownerUid: string): void {
    const ref = n.owners.find((o) => o.uid === ownerUid);
    if (!ref) return;
    this.effects.invalidNamespaceOwnerRef(n, { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name, uid: ref.uid, namespace: n.identity.namespace });
  }

  private addUnblockedOwnersToDeleteQueue(removed: readonly OwnerReference[], changed: ReadonlyArray<{ oldRef: OwnerReference; newRef: OwnerReference }>): void {
    for (const r of removed) {
      if (r.blockOwnerDeletion !== true) continue;
      const owner = this.uidToNode.get(r.uid);
      if (owner) this.effects.attemptToDelete(owner);
    }
    for (const c of changed) {
      if (c.oldRef.blockOwnerDeletion === true && c.newRef.blockOwnerDeletion !== true) {
        const owner = this.uidToNode.get(c.newRef.uid);
        if (owner) this.effects.attemptToDelete(owner);
      }
    }
  }

  private processTransitions(oldM: GraphObjectMeta | undefined, m: GraphObjectMeta, n: GraphNode): void {
    if (deletionStartsWith(oldM, m, ORPHAN_FINALIZER)) {
      this.effects.attemptToOrphan(n);
      return;
    }
    if (deletionStartsWith(oldM, m, FOREGROUND_FINALIZER)) {
      n.deletingDependents = true;
      for (const dep of n.dependents) this.effects.attemptToDelete(dep);
      this.effects.attemptToDelete(n);
    }
  }
}
