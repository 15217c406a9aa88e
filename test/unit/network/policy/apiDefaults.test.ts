import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults } from '../../../../src/apiserver/defaults.js';

// The API server's NetworkPolicy defaulting, as upstream's SetDefaults_NetworkPolicySpec/Port.
describe('NetworkPolicy defaulting in the API server', () => {
  const table: [string, Record<string, unknown>, unknown][] = [
    ['no policyTypes and no egress: [Ingress]', { podSelector: {} }, ['Ingress']],
    ['an empty egress list adds no Egress', { podSelector: {}, egress: [] }, ['Ingress']],
    ['egress rules add Egress', { podSelector: {}, egress: [{}] }, ['Ingress', 'Egress']],
    ['an empty policyTypes list counts as unset', { podSelector: {}, policyTypes: [] }, ['Ingress']],
    ['given policyTypes are kept', { podSelector: {}, policyTypes: ['Egress'] }, ['Egress']],
  ];
  for (const [name, spec, want] of table) {
    it(name, () => {
      const obj = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p' }, spec: structuredClone(spec) };
      applyDefaults('networking.k8s.io', 'NetworkPolicy', obj);
      assert.deepEqual((obj.spec as { policyTypes?: unknown }).policyTypes, want);
    });
  }
  it('ports without a protocol get TCP', () => {
    const obj = { spec: { podSelector: {}, ingress: [{ ports: [{ port: 80 }, { port: 53, protocol: 'UDP' }] }] } };
    applyDefaults('networking.k8s.io', 'NetworkPolicy', obj);
    assert.deepEqual(obj.spec.ingress[0]!.ports, [{ port: 80, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }]);
  });
});
