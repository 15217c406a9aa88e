import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKeyValueList, parseTaint, SimulatedAgentConfigError } from '../../../../src/cli/simulatedAgent.js';

test('agent flags: key=value lists', () => {
  assert.deepEqual(parseKeyValueList('cpu=32, memory=256Gi,pods=110', 'capacity'), { cpu: '32', memory: '256Gi', pods: '110' });
  assert.deepEqual(parseKeyValueList('', 'label'), {});
  assert.deepEqual(parseKeyValueList('a=b=c', 'label'), { a: 'b=c' });
  assert.throws(() => parseKeyValueList('cpu', 'capacity'), SimulatedAgentConfigError);
});

test('agent flags: taints as kubectl taint spells them', () => {
  const cases: Array<[string, object]> = [
    ['sim=true:NoSchedule', { key: 'sim', value: 'true', effect: 'NoSchedule' }],
    ['dedicated:NoExecute', { key: 'dedicated', effect: 'NoExecute' }],
    ['k=:PreferNoSchedule', { key: 'k', effect: 'PreferNoSchedule' }],
  ];
  for (const [s, want] of cases) assert.deepEqual(parseTaint(s), want, s);
  for (const bad of ['sim=true', 'sim=true:Sometimes', ':NoSchedule']) assert.throws(() => parseTaint(bad), SimulatedAgentConfigError, bad);
});
