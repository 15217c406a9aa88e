import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import { classifyReferences, planDependent, withoutFinalizer, type DependentDecision, type OwnerState } from '../../../../src/controllers/garbagecollector/decisions.js';

const ref = (uid: string, block = false): OwnerReference => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `rs-${uid}`, uid, ...(block ? { blockOwnerDeletion: true } : {}) });
const live: OwnerState = { exists: true };
const gone: OwnerState = { exists: false };
const foreground: OwnerState = { exists: true, deletionTimestamp: '2024-01-01T00:00:00Z', finalizers: ['foregroundDeletion'] };
const orphaning: OwnerState = { exists: true, deletionTimestamp: '2024-01-01T00:00:00Z', finalizers: ['orphan'] };

describe('garbage collector: what to do with a dependent', () => {
  const cases: Array<{ name: string; owners: Array<[OwnerReference, OwnerState]>; finalizers?: string[]; dependents?: number; depDeleting?: boolean; want: DependentDecision }> = [
    { name: 'an object without owners is kept', owners: [], want: { action: 'keep' } },
    { name: 'an object whose only owner lives is kept', owners: [[ref('a'), live]], want: { action: 'keep' } },
    { name: 'an owner being deleted without foreground (orphan) still counts as solid', owners: [[ref('a'), orphaning]], want: { action: 'keep' } },
    { name: 'an object whose only owner is gone is deleted in the background', owners: [[ref('a'), gone]], want: { action: 'delete', policy: 'Background' } },
    { name: 'all owners gone: deleted', owners: [[ref('a'), gone], [ref('b'), gone]], want: { action: 'delete', policy: 'Background' } },
    { name: 'one owner lives and one is gone: only the dangling reference is removed', owners: [[ref('a'), live], [ref('b'), gone]], want: { action: 'removeOwnerReferences', uids: ['b'] } },
    {
      name: 'one owner lives and one deletes in the foreground: the waiting reference is removed so it is not blocked',
      owners: [[ref('a'), live], [ref('b', true), foreground], [ref('c'), gone]],
      want: { action: 'removeOwnerReferences', uids: ['c', 'b'] },
    },
    { name: 'the owner deletes in the foreground and the dependent has no dependents: plain delete', owners: [[ref('a', true), foreground]], want: { action: 'delete', policy: 'Background' } },
    { name: 'the owner deletes in the foreground and the dependent has dependents: foreground delete', owners: [[ref('a', true), foreground]], dependents: 2, want: { action: 'delete', policy: 'Foreground', unblockFirst: false } },
    {
      name: 'a foreground chain where a dependent of the dependent is itself deleting dependents unblocks first (cycle guard)',
      owners: [[ref('a', true), foreground]],
      dependents: 1,
      depDeleting: true,
      want: { action: 'delete', policy: 'Foreground', unblockFirst: true },
    },
    { name: 'no live owner and an orphan finalizer already there: delete with Orphan', owners: [[ref('a'), gone]], finalizers: ['orphan'], want: { action: 'delete', policy: 'Orphan' } },
    { name: 'no live owner and a foregroundDeletion finalizer already there: delete with Foreground', owners: [[ref('a'), gone]], finalizers: ['foregroundDeletion'], want: { action: 'delete', policy: 'Foreground' } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const states = new Map(c.owners.map(([r, s]) => [r.uid, s]));
      const refs = c.owners.map(([r]) => r);
      const classified = classifyReferences(refs, (r) => states.get(r.uid)!);
      const got = planDependent({ finalizers: c.finalizers ?? [], ownerReferences: refs, classified, dependents: c.dependents ?? 0, aDependentIsDeletingDependents: c.depDeleting ?? false });
      assert.deepEqual(got, c.want);
    });
  }

  it('classifies references into solid, dangling and waiting for dependents deletion', () => {
    const refs = [ref('a'), ref('b'), ref('c')];
    const s = new Map<string, OwnerState>([['a', live], ['b', gone], ['c', foreground]]);
    const got = classifyReferences(refs, (r) => s.get(r.uid)!);
    assert.deepEqual(got, { solid: [refs[0]], dangling: [refs[1]], waitingForDependentsDeletion: [refs[2]] });
  });

  it('removing the last finalizer yields null so a merge patch clears the field', () => {
    assert.equal(withoutFinalizer(['foregroundDeletion'], 'foregroundDeletion'), null);
    assert.deepEqual(withoutFinalizer(['a', 'orphan', 'b'], 'orphan'), ['a', 'b']);
  });
});
