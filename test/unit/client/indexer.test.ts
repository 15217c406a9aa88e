import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { Indexer, NAMESPACE_INDEX, metaNamespaceKey, splitMetaNamespaceKey } from '../../../src/client/indexer.js';

const pod = (namespace: string, name: string, nodeName?: string): Pod => ({ metadata: { namespace, name }, spec: { containers: [], ...(nodeName ? { nodeName } : {}) } });
const names = (ps: readonly Readonly<Pod>[]) => ps.map((p) => p.metadata?.name).sort();
const byNode = (p: Readonly<Pod>) => (p.spec?.nodeName ? [p.spec.nodeName] : []);

describe('keys', () => {
  it('are namespace/name, or name for cluster-scoped objects, and split back', () => {
    assert.equal(metaNamespaceKey(pod('default', 'web')), 'default/web');
    assert.equal(metaNamespaceKey({ metadata: { name: 'node-1' } }), 'node-1');
    assert.deepEqual(splitMetaNamespaceKey('default/web'), { namespace: 'default', name: 'web' });
    assert.deepEqual(splitMetaNamespaceKey('node-1'), { namespace: undefined, name: 'node-1' });
  });
});

describe('Indexer', () => {
  it('lists by namespace and by a user index, and keeps indexes right across updates and deletes', () => {
    const ix = new Indexer<Pod>({ byNode });
    ix.upsert(pod('a', 'p1', 'n1'));
    ix.upsert(pod('a', 'p2', 'n2'));
    ix.upsert(pod('b', 'p3', 'n1'));
    assert.deepEqual(names(ix.list('a')), ['p1', 'p2']);
    assert.deepEqual(names(ix.list()), ['p1', 'p2', 'p3']);
    assert.deepEqual(names(ix.byIndex('byNode', 'n1')), ['p1', 'p3']);
    ix.upsert(pod('a', 'p1', 'n2'));
    assert.deepEqual(names(ix.byIndex('byNode', 'n1')), ['p3']);
    assert.deepEqual(names(ix.byIndex('byNode', 'n2')), ['p1', 'p2']);
    ix.deleteKey('b/p3');
    assert.deepEqual(ix.byIndex('byNode', 'n1'), []);
    assert.deepEqual(ix.listIndexFuncValues('byNode'), ['n2']);
    assert.deepEqual(names(ix.byIndex(NAMESPACE_INDEX, 'b')), []);
    assert.equal(ix.get('a', 'p2')?.spec?.nodeName, 'n2');
    assert.equal(ix.get('b', 'p3'), undefined);
  });

  it('indexes existing objects when an indexer is added later, and refuses a duplicate name', () => {
    const ix = new Indexer<Pod>();
    ix.upsert(pod('a', 'p1', 'n1'));
    ix.addIndexers({ byNode });
    assert.deepEqual(names(ix.byIndex('byNode', 'n1')), ['p1']);
    assert.throws(() => ix.addIndexers({ byNode }));
    assert.throws(() => ix.byIndex('nope', 'x'));
  });
});
