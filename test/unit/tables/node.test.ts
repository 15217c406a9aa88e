import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node, NodeCondition } from 'kubernetes-types/core/v1.js';
import { toTable, type TableCell } from '../../../src/api/tables/index.js';
import { ago, NOW, onlyRow } from './clock.js';

const NODE = { group: '', kind: 'Node' };

function node(opts: { labels?: Record<string, string>; ready?: NodeCondition['status']; unschedulable?: boolean } = {}): Node {
  const n: Node = {
    metadata: { name: 'node-a', creationTimestamp: ago(8, 'd'), ...(opts.labels ? { labels: opts.labels } : {}) },
    spec: opts.unschedulable ? { unschedulable: true } : {},
    status: {
      conditions: [
        { type: 'MemoryPressure', status: 'False' },
        ...(opts.ready ? [{ type: 'Ready', status: opts.ready }] : []),
      ],
      nodeInfo: {
        kubeletVersion: 'v1.32.0',
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        kernelVersion: '6.1.0-18-amd64',
        containerRuntimeVersion: 'containerd://1.7.13',
        architecture: 'amd64',
        bootID: '',
        kubeProxyVersion: '',
        machineID: '',
        operatingSystem: 'linux',
        systemUUID: '',
      },
    },
  };
  return n;
}

function cells(n: Node): TableCell[] {
  return onlyRow(toTable(NODE, [n], { now: NOW }).rows).cells;
}

describe('node printer: STATUS', () => {
  const cases: Array<[string, Node, string]> = [
    ['a Ready=True node is Ready', node({ ready: 'True' }), 'Ready'],
    ['a Ready=False node is NotReady', node({ ready: 'False' }), 'NotReady'],
    ['a Ready=Unknown node is NotReady too', node({ ready: 'Unknown' }), 'NotReady'],
    ['a node without a Ready condition is Unknown', node(), 'Unknown'],
    ['a cordoned ready node adds SchedulingDisabled', node({ ready: 'True', unschedulable: true }), 'Ready,SchedulingDisabled'],
    ['a cordoned node without conditions', node({ unschedulable: true }), 'Unknown,SchedulingDisabled'],
  ];
  for (const [name, n, want] of cases) it(name, () => assert.equal(cells(n)[1], want));
});

describe('node printer: ROLES', () => {
  const cases: Array<[string, Record<string, string> | undefined, string]> = [
    ['no role labels is <none>', { 'kubernetes.io/hostname': 'node-a' }, '<none>'],
    ['no labels at all is <none>', undefined, '<none>'],
    ['a node-role label names the role, whatever its value', { 'node-role.kubernetes.io/control-plane': '' }, 'control-plane'],
    [
      'several roles are sorted and comma-joined',
      { 'node-role.kubernetes.io/worker': 'true', 'node-role.kubernetes.io/control-plane': '' },
      'control-plane,worker',
    ],
    ['the legacy kubernetes.io/role label names its value', { 'kubernetes.io/role': 'master' }, 'master'],
    ['an empty legacy role is ignored', { 'kubernetes.io/role': '' }, '<none>'],
    ['the bare prefix names no role', { 'node-role.kubernetes.io/': 'x' }, '<none>'],
    ['a role named by both label kinds appears once', { 'kubernetes.io/role': 'infra', 'node-role.kubernetes.io/infra': '' }, 'infra'],
  ];
  for (const [name, labels, want] of cases) it(name, () => assert.equal(cells(node({ ready: 'True', ...(labels ? { labels } : {}) }))[2], want));
});

describe('node printer: other columns', () => {
  it('AGE, VERSION and the wide columns', () => {
    const n = node({ ready: 'True' });
    n.status!.addresses = [
      { type: 'Hostname', address: 'node-a' },
      { type: 'InternalIP', address: '10.0.0.2' },
      { type: 'InternalIP', address: '10.0.0.3' },
    ];
    assert.deepEqual(cells(n), [
      'node-a',
      'Ready',
      '<none>',
      '8d',
      'v1.32.0',
      '10.0.0.2',
      '<none>',
      'Debian GNU/Linux 12 (bookworm)',
      '6.1.0-18-amd64',
      'containerd://1.7.13',
    ]);
  });

  it('missing node info prints <unknown> in the wide columns', () => {
    const n: Node = { metadata: { name: 'bare' } };
    assert.deepEqual(cells(n), ['bare', 'Unknown', '<none>', '<unknown>', '', '<none>', '<none>', '<unknown>', '<unknown>', '<unknown>']);
  });
});
