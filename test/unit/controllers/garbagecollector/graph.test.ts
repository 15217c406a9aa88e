import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import { DependencyGraph, referencesDiffs, type GraphEvent, type GraphNode, type ObjectRef } from '../../../../src/controllers/garbagecollector/graph.js';

interface Recorded {
  del: string[];
  later: string[];
  orphan: string[];
  absent: string[];
  invalid: Array<[string, string]>;
}

function newGraph(): { g: DependencyGraph; r: Recorded; reset(): void } {
  const r: Recorded = { del: [], later: [], orphan: [], absent: [], invalid: [] };
  const g = new DependencyGraph({
    attemptToDelete: (n: GraphNode) => r.del.push(n.identity.name),
    attemptToDeleteLater: (n: GraphNode) => r.later.push(n.identity.name),
    attemptToOrphan: (n: GraphNode) => r.orphan.push(n.identity.name),
    markAbsent: (o: ObjectRef) => r.absent.push(`${o.namespace}/${o.name}`),
    invalidNamespaceOwnerRef: (d: GraphNode, o: ObjectRef) => r.invalid.push([d.identity.name, o.name]),
  });
  return { g, r, reset: () => Object.assign(r, { del: [], later: [], orphan: [], absent: [], invalid: [] }) };
}

const rsRef = (name: string, uid: string, block = true): OwnerReference => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name, uid, controller: true, ...(block ? { blockOwnerDeletion: true } : {}) });
const rs = (name: string, uid: string, ns = 'default', extra: Partial<GraphEvent['metadata']> = {}): GraphEvent => ({ type: 'add', apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name, uid, namespace: ns, ...extra } });
const pod = (name: string, uid: string, owners: OwnerReference[], ns = 'default', type: GraphEvent['type'] = 'add'): GraphEvent => ({ type, apiVersion: 'v1', kind: 'Pod', metadata: { name, uid, namespace: ns, ownerReferences: owners } });

describe('garbage collector dependency graph', () => {
  it('an owner not yet seen becomes a virtual node queued for verification', () => {
    const { g, r } = newGraph();
    g.process(pod('p1', 'u-p1', [rsRef('web', 'u-rs')]));
    assert.deepEqual(r.del, ['web']);
    const owner = g.get('u-rs')!;
    assert.equal(owner.observed, false);
    assert.deepEqual([...owner.dependents].map((d) => d.identity.name), ['p1']);
  });

  it('the virtual owner becomes observed when its monitor sees it', () => {
    const { g } = newGraph();
    g.process(pod('p1', 'u-p1', [rsRef('web', 'u-rs')]));
    g.process(rs('web', 'u-rs'));
    assert.equal(g.get('u-rs')!.observed, true);
  });

  it('deleting an owner queues its dependents and records it as absent', () => {
    const { g, r, reset } = newGraph();
    g.process(rs('web', 'u-rs'));
    g.process(pod('p1', 'u-p1', [rsRef('web', 'u-rs')]));
    g.process(pod('p2', 'u-p2', [rsRef('web', 'u-rs')]));
    reset();
    g.process({ ...rs('web', 'u-rs'), type: 'delete' });
    assert.deepEqual(r.del.sort(), ['p1', 'p2']);
    assert.deepEqual(r.absent, ['default/web']);
    assert.equal(g.get('u-rs'), undefined);
  });

  it('foreground deletion starting marks the owner and queues it with all its dependents', () => {
    const { g, r, reset } = newGraph();
    g.process(rs('web', 'u-rs'));
    g.process(pod('p1', 'u-p1', [rsRef('web', 'u-rs')]));
    reset();
    g.process({ ...rs('web', 'u-rs', 'default', { deletionTimestamp: 't', finalizers: ['foregroundDeletion'] }), type: 'update', oldMetadata: { name: 'web', uid: 'u-rs', namespace: 'default' } });
    assert.equal(g.get('u-rs')!.deletingDependents, true);
    assert.deepEqual(r.del, ['p1', 'web']);
    assert.deepEqual(g.get('u-rs')!.blockingDependents().map((d) => d.identity.name), ['p1']);
  });

  it('orphan deletion starting queues the owner for orphaning', () => {
    const { g, r } = newGraph();
    g.process({ ...rs('web', 'u-rs', 'default', { deletionTimestamp: 't', finalizers: ['orphan'] }) });
    assert.deepEqual(r.orphan, ['web']);
  });

  it('a dependent leaving a foreground-deleting owner queues the owner', () => {
    const { g, r, reset } = newGraph();
    g.process(rs('web', 'u-rs', 'default', { deletionTimestamp: 't', finalizers: ['foregroundDeletion'] }));
    g.process(pod('p1', 'u-p1', [rsRef('web', 'u-rs')]));
    reset();
    g.process({ ...pod('p1', 'u-p1', [rsRef('web', 'u-rs')]), type: 'delete' });
    assert.deepEqual(r.del, ['web']);
    assert.equal(g.get('u-rs')!.dependents.size, 0);
  });

  it('dropping blockOwnerDeletion on a reference queues the owner it no longer blocks', () => {
    const { g, r, reset } = newGraph();
    g.process(rs('web', 'u-rs'));
    g.process(pod('p1', 'u-p1', [rsRef('web', 'u-rs')]));
    reset();
    g.process(pod('p1', 'u-p1', [rsRef('web', 'u-rs', false)], 'default', 'update'));
    assert.deepEqual(r.del, ['web']);
  });

  it('a reference to an owner observed in another namespace is reported (OwnerRefInvalidNamespace) and the dependent verified', () => {
    const { g, r, reset } = newGraph();
    g.process(rs('web', 'u-rs', 'team-a'));
    reset();
    g.process(pod('p1', 'u-p1', [rsRef('web', 'u-rs')], 'team-b'));
    assert.deepEqual(r.invalid, [['p1', 'web']]);
    assert.deepEqual(r.del, ['p1']);
  });

  it('a dependent seen first, then its owner observed in another namespace: reported when the owner shows up', () => {
    const { g, r, reset } = newGraph();
    g.process(pod('p1', 'u-p1', [rsRef('web', 'u-rs')], 'team-b'));
    reset();
    g.process(rs('web', 'u-rs', 'team-a'));
    assert.deepEqual(r.invalid, [['p1', 'web']]);
    assert.deepEqual(r.del, ['p1']);
  });

  it('a virtual delete confirms absence: the virtual node goes and its dependents are queued', () => {
    const { g, r, reset } = newGraph();
    g.process(pod('p1', 'u-p1', [rsRef('web', 'u-rs')]));
    reset();
    g.process({ type: 'delete', apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web', uid: 'u-rs', namespace: 'default' }, virtual: true });
    assert.equal(g.get('u-rs'), undefined);
    assert.deepEqual(r.del, ['p1']);
    assert.deepEqual(r.absent, ['default/web']);
  });

  it('a virtual delete never removes an observed node of other coordinates', () => {
    const { g } = newGraph();
    g.process(rs('web', 'u-rs'));
    g.process({ type: 'delete', apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'other', uid: 'u-rs', namespace: 'default' }, virtual: true });
    assert.ok(g.get('u-rs'));
  });

  it('reference diffs tell added, removed and changed references by UID', () => {
    const a = rsRef('a', '1');
    const b = rsRef('b', '2');
    const b2 = rsRef('b', '2', false);
    const c = rsRef('c', '3');
    const d = referencesDiffs([a, b], [b2, c]);
    assert.deepEqual(d, { added: [c], removed: [a], changed: [{ oldRef: b, newRef: b2 }] });
  });
});
