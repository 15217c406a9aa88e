import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conversionFor, eventsV1Conversion } from '../../../src/apiserver/conversion.js';

describe('events.k8s.io/v1 ⇄ core/v1 Event conversion', () => {
  const core = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'e1', namespace: 'default' },
    involvedObject: { kind: 'Pod', name: 'web-1' },
    reason: 'Scheduled',
    message: 'Successfully assigned default/web-1 to node-2',
    source: { component: 'default-scheduler' },
    firstTimestamp: '2026-01-01T00:00:00Z',
    lastTimestamp: '2026-01-01T00:01:00Z',
    count: 3,
    reportingComponent: 'default-scheduler',
    type: 'Normal',
  };
  it('serves a stored core event with the events.k8s.io field names', () => {
    const served = eventsV1Conversion.fromStorage(core);
    assert.equal(served.apiVersion, 'events.k8s.io/v1');
    assert.deepEqual(served.regarding, core.involvedObject);
    assert.equal(served.note, core.message);
    assert.equal(served.deprecatedCount, 3);
    assert.equal(served.reportingController, 'default-scheduler');
    assert.equal(served.involvedObject, undefined);
  });
  it('stores what it serves unchanged after a round trip', () => {
    assert.deepEqual(eventsV1Conversion.toStorage(eventsV1Conversion.fromStorage(core)), core);
  });
  it('leaves every other resource alone', () => {
    const c = conversionFor('', 'configmaps');
    const obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } };
    assert.equal(c.fromStorage(obj), obj);
  });
});
