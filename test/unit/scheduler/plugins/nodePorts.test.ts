import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { NodePorts, REASON_NODE_PORTS } from '../../../../src/scheduler/plugins/nodePorts.js';
import { ActionType, Code, type EnqueueExtensions, type FilterPlugin, type PreFilterPlugin } from '../../../../src/scheduler/framework/types.js';
import { makeNode, makeNodeInfo, makePod, newPlugin, newState, statusOf } from './builders.js';

type Plugin = PreFilterPlugin & FilterPlugin & EnqueueExtensions;
type Port = [number, string?, string?];

const podWithPorts = (...ports: Port[]) => makePod({ hostPorts: ports });

describe('NodePorts Filter', () => {
  const U = { code: Code.Unschedulable, reasons: [REASON_NODE_PORTS] };
  const OK = { code: 0, reasons: [] };
  const cases: Array<[string, Pod, Pod[], { code: number; reasons: string[] }]> = [
    ['a free port fits', podWithPorts([8080, 'UDP', '127.0.0.1']), [podWithPorts([9090, 'UDP', '127.0.0.1'])], OK],
    ['the same port, protocol and IP conflicts', podWithPorts([8080, 'UDP', '127.0.0.1']), [podWithPorts([8080, 'UDP', '127.0.0.1'])], U],
    ['the same port on another IP fits', podWithPorts([8080, 'TCP', '127.0.0.1']), [podWithPorts([8080, 'TCP', '127.0.0.2'])], OK],
    ['the same port over another protocol fits', podWithPorts([8080, 'TCP', '127.0.0.1']), [podWithPorts([8080, 'UDP', '127.0.0.1'])], OK],
    ['one conflicting port among several is enough to fail', podWithPorts([8080, 'UDP', '127.0.0.1'], [8081, 'TCP', '127.0.0.1']), [podWithPorts([8081, 'TCP', '127.0.0.1'])], U],
    ['a wanted 0.0.0.0 conflicts with the port on any IP', podWithPorts([8001, 'TCP', '0.0.0.0']), [podWithPorts([8001, 'TCP', '127.0.0.1'])], U],
    ['a used 0.0.0.0 conflicts with a wanted specific IP', podWithPorts([8001, 'TCP', '127.0.0.1']), [podWithPorts([8001, 'TCP', '0.0.0.0'])], U],
    ['an empty host IP means 0.0.0.0', podWithPorts([8001, 'TCP']), [podWithPorts([8001, 'TCP', '10.0.0.1'])], U],
    ['an empty protocol means TCP', podWithPorts([8001]), [podWithPorts([8001, 'TCP', '10.0.0.1'])], U],
    ['0.0.0.0 on another protocol fits', podWithPorts([8001, 'UDP', '0.0.0.0']), [podWithPorts([8001, 'TCP', '127.0.0.1'])], OK],
    [
      'a sidecar’s host port is wanted too',
      makePod({ initContainers: [{ restartPolicy: 'Always', ports: [{ containerPort: 80, hostPort: 80 }] }] }),
      [podWithPorts([80])],
      U,
    ],
    ['a regular init container’s host port is not', makePod({ initContainers: [{ ports: [{ containerPort: 80, hostPort: 80 }] }] }), [podWithPorts([80])], OK],
  ];
  for (const [name, pod, existing, want] of cases) {
    it(name, () => {
      const p = newPlugin<Plugin>(NodePorts);
      const state = newState();
      const pre = p.preFilter(state, pod, []);
      if (pre.status?.code === Code.Skip) {
        assert.deepEqual(want, OK);
        return;
      }
      assert.deepEqual(statusOf(p.filter(state, pod, makeNodeInfo(makeNode(), existing))), want);
    });
  }

  it('PreFilter skips a pod without host ports', () => {
    assert.equal(newPlugin<Plugin>(NodePorts).preFilter(newState(), makePod(), []).status?.code, Code.Skip);
  });
});

describe('NodePorts events', () => {
  const [podEvent, nodeEvent] = newPlugin<Plugin>(NodePorts).eventsToRegister();
  it('registers pod deletion and node add', () => {
    assert.deepEqual(podEvent!.event, { resource: 'Pod', actionType: ActionType.Delete });
    assert.deepEqual(nodeEvent!.event, { resource: 'Node', actionType: ActionType.Add });
  });
  const pod = podWithPorts([8080]);
  const cases: Array<[string, Pod, string]> = [
    ['deleting a scheduled pod holding the port helps', makePod({ nodeName: 'n', hostPorts: [[8080]] }), 'Queue'],
    ['deleting a scheduled pod holding another port does not', makePod({ nodeName: 'n', hostPorts: [[9090]] }), 'QueueSkip'],
    ['deleting a scheduled pod without host ports does not', makePod({ nodeName: 'n' }), 'QueueSkip'],
    ['deleting an unscheduled pod does not', makePod({ hostPorts: [[8080]] }), 'QueueSkip'],
  ];
  for (const [name, deleted, want] of cases) it(name, () => assert.equal(podEvent!.hint!(pod, deleted, undefined), want));
});
