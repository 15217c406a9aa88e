import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NamespaceStatus } from 'kubernetes-types/core/v1.js';
import { GroupDiscoveryFailedError } from '../../../../src/controllers/discovery.js';
import { estimateGracefulTerminationForPods, NamespaceConditionUpdater, remainingContent } from '../../../../src/controllers/namespace/conditions.js';

const NOW = Date.parse('2025-01-01T00:00:00Z');
const brief = (s: NamespaceStatus) => (s.conditions ?? []).map((c) => [c.type, c.status, c.reason, c.message]);

describe('namespace deletion conditions', () => {
  it('all is well: every condition False with its ok reason and message', () => {
    const u = new NamespaceConditionUpdater(NOW);
    u.processContentTotals({ resourceToNumRemaining: new Map(), finalizersToNumRemaining: new Map() });
    const s: NamespaceStatus = { phase: 'Terminating' };
    assert.equal(u.update(s), true);
    assert.deepEqual(brief(s), [
      ['NamespaceDeletionDiscoveryFailure', 'False', 'ResourcesDiscovered', 'All resources successfully discovered'],
      ['NamespaceDeletionGroupVersionParsingFailure', 'False', 'ParsedGroupVersions', 'All legacy kube types successfully parsed'],
      ['NamespaceDeletionContentFailure', 'False', 'ContentDeleted', 'All content successfully deleted, may be waiting on finalization'],
      ['NamespaceContentRemaining', 'False', 'ContentRemoved', 'All content successfully removed'],
      ['NamespaceFinalizersRemaining', 'False', 'ContentRemoved', 'All content successfully removed'],
    ]);
    // The same outcome again changes nothing.
    const again = new NamespaceConditionUpdater(NOW + 1000);
    again.processContentTotals({ resourceToNumRemaining: new Map(), finalizersToNumRemaining: new Map() });
    assert.equal(again.update(s), false);
  });

  it('content and finalizers remaining are listed sorted, with upstream wording', () => {
    const u = new NamespaceConditionUpdater(NOW);
    u.processContentTotals({
      resourceToNumRemaining: new Map([['widgets.example.com', 2], ['pods.', 1]]),
      finalizersToNumRemaining: new Map([['example.com/keep', 2], ['other', 0]]),
    });
    const s: NamespaceStatus = {};
    u.update(s);
    const byType = new Map((s.conditions ?? []).map((c) => [c.type, c]));
    assert.deepEqual([byType.get('NamespaceContentRemaining')!.status, byType.get('NamespaceContentRemaining')!.reason, byType.get('NamespaceContentRemaining')!.message], [
      'True',
      'SomeResourcesRemain',
      'Some resources are remaining: pods. has 1 resource instances, widgets.example.com has 2 resource instances',
    ]);
    assert.deepEqual([byType.get('NamespaceFinalizersRemaining')!.reason, byType.get('NamespaceFinalizersRemaining')!.message], ['SomeFinalizerRemain', 'Some finalizers are remaining: example.com/keep in 2 resource instances']);
  });

  it('discovery and content failures become True conditions; a partial discovery failure counts its groups', () => {
    const u = new NamespaceConditionUpdater(NOW);
    u.processDiscoverResourcesErr(new GroupDiscoveryFailedError(new Map([['example.com/v1', new Error('the server is currently unable to handle the request')]])));
    u.processDeleteContentErr(new Error('b failed'));
    u.processDeleteContentErr(new Error('a failed'));
    u.processGroupVersionErr(new Error('unexpected GroupVersion string: a/b/c'));
    const s: NamespaceStatus = {};
    u.update(s);
    const byType = new Map((s.conditions ?? []).map((c) => [c.type, c]));
    assert.equal(byType.get('NamespaceDeletionDiscoveryFailure')!.reason, 'DiscoveryFailed');
    assert.equal(
      byType.get('NamespaceDeletionDiscoveryFailure')!.message,
      'Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: example.com/v1: the server is currently unable to handle the request',
    );
    assert.deepEqual([byType.get('NamespaceDeletionContentFailure')!.reason, byType.get('NamespaceDeletionContentFailure')!.message], ['ContentDeletionFailed', 'Failed to delete all resource types, 2 remaining: a failed, b failed']);
    assert.deepEqual([byType.get('NamespaceDeletionGroupVersionParsingFailure')!.status, byType.get('NamespaceDeletionGroupVersionParsingFailure')!.reason], ['True', 'GroupVersionParsingFailed']);
  });

  it('a condition that recovers flips to False with a new transition time', () => {
    const s: NamespaceStatus = {};
    const u = new NamespaceConditionUpdater(NOW);
    u.processDeleteContentErr(new Error('boom'));
    u.update(s);
    const later = new NamespaceConditionUpdater(NOW + 60_000);
    assert.equal(later.update(s), true);
    const c = s.conditions!.find((x) => x.type === 'NamespaceDeletionContentFailure')!;
    assert.deepEqual([c.status, c.reason, c.lastTransitionTime], ['False', 'ContentDeleted', '2025-01-01T00:01:00Z']);
  });
});

describe('namespace deletion: remaining content', () => {
  const cases = [
    { name: 'nothing left: done', items: [], estimate: 0, want: { estimate: 0, numRemaining: 0, unexpected: false } },
    { name: 'items waiting for a grace period keep the estimate', items: [{}], estimate: 30, want: { estimate: 30, numRemaining: 1, unexpected: false } },
    { name: 'items held by finalizers wait the default 15 s', items: [{ metadata: { finalizers: ['x'] } }, {}], estimate: 0, want: { estimate: 15, numRemaining: 2, unexpected: false } },
    { name: 'items left without finalizers or grace are unexpected', items: [{}], estimate: 0, want: { estimate: 0, numRemaining: 1, unexpected: true } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = remainingContent(c.items, c.estimate);
      assert.deepEqual({ estimate: got.estimate, numRemaining: got.numRemaining, unexpected: got.unexpected }, c.want);
    });
  }

  it('pods: the longest grace period of non-terminal pods, until the namespace has been deleting that long', () => {
    const pods = [{ spec: { terminationGracePeriodSeconds: 30 } }, { spec: { terminationGracePeriodSeconds: 90 }, status: { phase: 'Succeeded' } }, { spec: {} }];
    assert.equal(estimateGracefulTerminationForPods(pods, NOW, NOW + 10_000), 30);
    assert.equal(estimateGracefulTerminationForPods(pods, NOW, NOW + 30_000), 0);
  });
});
