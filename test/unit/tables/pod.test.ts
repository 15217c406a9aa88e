import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Container, ContainerStatus, Pod, PodCondition } from 'kubernetes-types/core/v1.js';
import { toTable, type TableCell } from '../../../src/api/tables/index.js';
import { ago, NOW, onlyRow } from './clock.js';

const POD = { group: '', kind: 'Pod' };

interface PodShape {
  name?: string;
  containers?: number;
  init?: Container[];
  phase?: string;
  reason?: string;
  statuses?: ContainerStatus[];
  initStatuses?: ContainerStatus[];
  conditions?: PodCondition[];
  deleting?: boolean;
  created?: string;
}

/** A pod with `containers` unnamed containers and the given status; `c0`… name them in statuses. */
function pod(s: PodShape): Pod {
  const p: Pod = {
    metadata: {
      name: s.name ?? 'web-1',
      ...(s.created ? { creationTimestamp: s.created } : {}),
      ...(s.deleting ? { deletionTimestamp: ago(10) } : {}),
    },
    spec: { containers: Array.from({ length: s.containers ?? 1 }, (_, i) => ({ name: `c${i}` })) },
    status: {},
  };
  if (s.init) p.spec!.initContainers = s.init;
  if (s.phase) p.status!.phase = s.phase;
  if (s.reason) p.status!.reason = s.reason;
  if (s.statuses) p.status!.containerStatuses = s.statuses;
  if (s.initStatuses) p.status!.initContainerStatuses = s.initStatuses;
  if (s.conditions) p.status!.conditions = s.conditions;
  return p;
}

function cs(name: string, extra: Partial<ContainerStatus> = {}): ContainerStatus {
  return { name, image: 'img', imageID: '', ready: false, restartCount: 0, ...extra };
}
const running = { running: {} };
const waiting = (reason?: string) => ({ waiting: reason ? { reason } : {} });
const terminated = (exitCode: number, reason?: string, signal?: number) => ({
  terminated: { exitCode, ...(reason ? { reason } : {}), ...(signal ? { signal } : {}) },
});
const restartedAgo = (amount: number, unit: 's' | 'm' | 'd' = 's') => ({ terminated: { exitCode: 1, finishedAt: ago(amount, unit) } });
const sidecar = (name: string): Container => ({ name, restartPolicy: 'Always' });
const initialized = (status: 'True' | 'False'): PodCondition => ({ type: 'Initialized', status });

function narrow(p: Pod): TableCell[] {
  return onlyRow(toTable(POD, [p], { now: NOW, wide: false }).rows).cells;
}

describe('pod printer: READY, STATUS and RESTARTS', () => {
  const cases: Array<[string, Pod, TableCell[]]> = [
    [
      'counts ready running containers and sums restarts; the phase is the status',
      pod({ containers: 2, phase: 'Running', statuses: [cs('c0', { ready: true, restartCount: 3, state: running }), cs('c1', { restartCount: 3 })] }),
      ['web-1', '1/2', 'Running', '6', '<unknown>'],
    ],
    [
      'a waiting container’s reason replaces the phase (CrashLoopBackOff)',
      pod({
        containers: 2,
        phase: 'Running',
        statuses: [cs('c0', { ready: true, restartCount: 3, state: running }), cs('c1', { restartCount: 5, state: waiting('CrashLoopBackOff') })],
      }),
      ['web-1', '1/2', 'CrashLoopBackOff', '8', '<unknown>'],
    ],
    [
      'containers are read last to first, so the first container’s reason wins',
      pod({
        containers: 2,
        phase: 'Running',
        statuses: [cs('c0', { state: waiting('ImagePullBackOff') }), cs('c1', { state: terminated(1, 'Error') })],
      }),
      ['web-1', '0/2', 'ImagePullBackOff', '0', '<unknown>'],
    ],
    [
      'ready without running is not counted as ready',
      pod({ containers: 2, phase: 'Running', statuses: [cs('c0', { ready: true, state: running }), cs('c1', { ready: true })] }),
      ['web-1', '1/2', 'Running', '0', '<unknown>'],
    ],
    [
      'the pod’s status reason replaces the phase (Evicted)',
      pod({ containers: 1, phase: 'Failed', reason: 'Evicted' }),
      ['web-1', '0/1', 'Evicted', '0', '<unknown>'],
    ],
    [
      'a pending pod with nothing started shows Pending',
      pod({ containers: 1, phase: 'Pending', statuses: [cs('c0', { state: waiting('ContainerCreating') })] }),
      ['web-1', '0/1', 'ContainerCreating', '0', '<unknown>'],
    ],
    [
      'one container completed while another runs, without the Ready condition, is NotReady',
      pod({ containers: 2, phase: 'Running', statuses: [cs('c0', { ready: true, state: terminated(0, 'Completed') }), cs('c1', { ready: true, state: running })] }),
      ['web-1', '1/2', 'NotReady', '0', '<unknown>'],
    ],
    [
      'one container completed while another runs, with the Ready condition, is Running',
      pod({
        containers: 2,
        phase: 'Running',
        statuses: [cs('c0', { ready: true, state: terminated(0, 'Completed') }), cs('c1', { ready: true, state: running })],
        conditions: [{ type: 'Ready', status: 'True' }],
      }),
      ['web-1', '1/2', 'Running', '0', '<unknown>'],
    ],
    [
      'a terminated container without a reason shows its exit code',
      pod({ containers: 1, phase: 'Failed', statuses: [cs('c0', { state: terminated(137) })] }),
      ['web-1', '0/1', 'ExitCode:137', '0', '<unknown>'],
    ],
    [
      'a terminated container without a reason but with a signal shows the signal',
      pod({ containers: 1, phase: 'Failed', statuses: [cs('c0', { state: terminated(0, undefined, 9) })] }),
      ['web-1', '0/1', 'Signal:9', '0', '<unknown>'],
    ],
    [
      'a succeeded pod shows Completed',
      pod({ containers: 1, phase: 'Succeeded', statuses: [cs('c0', { state: terminated(0, 'Completed') })] }),
      ['web-1', '0/1', 'Completed', '0', '<unknown>'],
    ],
    [
      'scheduling gates show SchedulingGated',
      pod({ containers: 2, phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated' }] }),
      ['web-1', '0/2', 'SchedulingGated', '0', '<unknown>'],
    ],
    [
      'a pod being deleted that still runs is Terminating',
      pod({ containers: 1, phase: 'Running', deleting: true, statuses: [cs('c0', { state: running })] }),
      ['web-1', '0/1', 'Terminating', '0', '<unknown>'],
    ],
    [
      'a pending pod being deleted is Terminating',
      pod({ containers: 1, phase: 'Pending', deleting: true }),
      ['web-1', '0/1', 'Terminating', '0', '<unknown>'],
    ],
    [
      'a succeeded pod being deleted stays Completed',
      pod({ containers: 1, phase: 'Succeeded', deleting: true, statuses: [cs('c0', { state: terminated(0, 'Completed') })] }),
      ['web-1', '0/1', 'Completed', '0', '<unknown>'],
    ],
    [
      'a pod being deleted on a lost node is Unknown',
      pod({ containers: 1, phase: 'Running', reason: 'NodeLost', deleting: true }),
      ['web-1', '0/1', 'Unknown', '0', '<unknown>'],
    ],
    [
      'the age comes from the creation timestamp',
      pod({ containers: 1, phase: 'Running', created: ago(3, 'd') }),
      ['web-1', '0/1', 'Running', '0', '3d'],
    ],
  ];
  for (const [name, p, want] of cases) it(name, () => assert.deepEqual(narrow(p), want));
});

describe('pod printer: init containers', () => {
  const cases: Array<[string, Pod, TableCell[]]> = [
    [
      'a running init container shows Init:0/1 and its restarts with the last restart’s age',
      pod({
        containers: 1,
        init: [{ name: 'i0' }],
        phase: 'Pending',
        initStatuses: [cs('i0', { restartCount: 3, state: running, lastState: restartedAgo(10) })],
        statuses: [cs('c0', { state: waiting() })],
      }),
      ['web-1', '0/1', 'Init:0/1', '3 (10s ago)', '<unknown>'],
    ],
    [
      'the first unfinished of two init containers decides: Init:0/2',
      pod({
        containers: 1,
        init: [{ name: 'i0' }, { name: 'i1' }],
        phase: 'Pending',
        initStatuses: [cs('i0', { restartCount: 3, state: running, lastState: restartedAgo(10) }), cs('i1', { state: waiting() })],
      }),
      ['web-1', '0/1', 'Init:0/2', '3 (10s ago)', '<unknown>'],
    ],
    [
      'a finished first init container moves on to Init:1/2',
      pod({
        containers: 1,
        init: [{ name: 'i0' }, { name: 'i1' }],
        phase: 'Pending',
        initStatuses: [cs('i0', { state: terminated(0) }), cs('i1', { restartCount: 3, state: running, lastState: restartedAgo(10) })],
      }),
      ['web-1', '0/1', 'Init:1/2', '3 (10s ago)', '<unknown>'],
    ],
    [
      'restarts of every init container add up and the latest restart counts',
      pod({
        containers: 1,
        init: [{ name: 'i0' }, { name: 'i1' }],
        phase: 'Pending',
        initStatuses: [
          cs('i0', { restartCount: 2, state: terminated(0), lastState: restartedAgo(2, 'm') }),
          cs('i1', { restartCount: 3, state: running, lastState: restartedAgo(10) }),
        ],
      }),
      ['web-1', '0/1', 'Init:1/2', '5 (10s ago)', '<unknown>'],
    ],
    [
      'once initialized, finished init containers’ restarts no longer count',
      pod({
        containers: 1,
        init: [{ name: 'i0' }],
        phase: 'Running',
        initStatuses: [cs('i0', { restartCount: 2, state: terminated(0), lastState: restartedAgo(2, 'm') })],
        statuses: [cs('c0', { restartCount: 4, state: running, lastState: restartedAgo(20) })],
      }),
      ['web-1', '0/1', 'Running', '4 (20s ago)', '<unknown>'],
    ],
    [
      'a waiting init container shows Init:<reason>',
      pod({ containers: 1, init: [{ name: 'i0' }], phase: 'Pending', initStatuses: [cs('i0', { state: waiting('CrashLoopBackOff') })] }),
      ['web-1', '0/1', 'Init:CrashLoopBackOff', '0', '<unknown>'],
    ],
    [
      'PodInitializing is not an init reason: the position shows instead',
      pod({ containers: 1, init: [{ name: 'i0' }], phase: 'Pending', initStatuses: [cs('i0', { state: waiting('PodInitializing') })] }),
      ['web-1', '0/1', 'Init:0/1', '0', '<unknown>'],
    ],
    [
      'a failed init container shows Init:<reason>',
      pod({ containers: 1, init: [{ name: 'i0' }], phase: 'Pending', initStatuses: [cs('i0', { state: terminated(1, 'Error') })] }),
      ['web-1', '0/1', 'Init:Error', '0', '<unknown>'],
    ],
    [
      'a failed init container without a reason shows its exit code',
      pod({ containers: 1, init: [{ name: 'i0' }], phase: 'Pending', initStatuses: [cs('i0', { state: terminated(2) })] }),
      ['web-1', '0/1', 'Init:ExitCode:2', '0', '<unknown>'],
    ],
    [
      'a killed init container without a reason shows its signal',
      pod({ containers: 1, init: [{ name: 'i0' }], phase: 'Pending', initStatuses: [cs('i0', { state: terminated(1, undefined, 15) })] }),
      ['web-1', '0/1', 'Init:Signal:15', '0', '<unknown>'],
    ],
  ];
  for (const [name, p, want] of cases) it(name, () => assert.deepEqual(narrow(p), want));
});

describe('pod printer: sidecar (restartable init) containers', () => {
  const cases: Array<[string, Pod, TableCell[]]> = [
    [
      'sidecars count toward READY’s total; a sidecar not yet started holds initialization',
      pod({
        containers: 1,
        init: [sidecar('s0'), sidecar('s1')],
        phase: 'Pending',
        initStatuses: [cs('s0', { restartCount: 3, state: running, started: false, lastState: restartedAgo(10) }), cs('s1', { state: waiting(), started: false })],
        statuses: [cs('c0', { state: waiting() })],
        conditions: [initialized('False')],
      }),
      ['web-1', '0/3', 'Init:0/2', '3 (10s ago)', '<unknown>'],
    ],
    [
      'a started sidecar lets initialization move on',
      pod({
        containers: 1,
        init: [sidecar('s0'), sidecar('s1')],
        phase: 'Pending',
        initStatuses: [cs('s0', { restartCount: 3, state: running, started: true, lastState: restartedAgo(10) }), cs('s1', { state: running, started: false })],
        statuses: [cs('c0', { state: waiting() })],
        conditions: [initialized('False')],
      }),
      ['web-1', '0/3', 'Init:1/2', '3 (10s ago)', '<unknown>'],
    ],
    [
      'once initialized, sidecar restarts count with the containers’',
      pod({
        containers: 1,
        init: [sidecar('s0'), sidecar('s1')],
        phase: 'Running',
        initStatuses: [cs('s0', { restartCount: 3, state: running, started: true, lastState: restartedAgo(10) }), cs('s1', { state: running, started: true })],
        statuses: [cs('c0', { ready: true, restartCount: 4, state: running, lastState: restartedAgo(20) })],
        conditions: [initialized('True')],
      }),
      ['web-1', '1/3', 'Running', '7 (10s ago)', '<unknown>'],
    ],
    [
      'a ready started sidecar counts as ready',
      pod({
        containers: 1,
        init: [sidecar('s0')],
        phase: 'Running',
        initStatuses: [cs('s0', { ready: true, state: running, started: true })],
        statuses: [cs('c0', { ready: true, state: running })],
        conditions: [initialized('True')],
      }),
      ['web-1', '2/2', 'Running', '0', '<unknown>'],
    ],
    [
      'statuses naming containers the spec lacks are not sidecars',
      pod({
        containers: 1,
        init: [{ name: 'i0' }, sidecar('s0')],
        phase: 'Running',
        initStatuses: [cs('ghost'), cs('i0'), cs('s0')],
        statuses: [cs('other'), cs('c0')],
      }),
      ['web-1', '0/2', 'Init:0/2', '0', '<unknown>'],
    ],
  ];
  for (const [name, p, want] of cases) it(name, () => assert.deepEqual(narrow(p), want));
});

describe('pod printer: RESTARTS ages', () => {
  const cases: Array<[string, Pod, string]> = [
    [
      'a restart five days ago',
      pod({ phase: 'Running', statuses: [cs('c0', { ready: true, restartCount: 3, state: running, lastState: restartedAgo(5, 'd') })] }),
      '3 (5d ago)',
    ],
    [
      'the most recent restart among containers counts',
      pod({
        containers: 2,
        phase: 'Running',
        statuses: [
          cs('c0', { restartCount: 6, state: running, lastState: restartedAgo(5, 'd') }),
          cs('c1', { restartCount: 3, state: running, lastState: restartedAgo(20, 'd') }),
        ],
      }),
      '9 (5d ago)',
    ],
    [
      'restarts without a recorded finish time show the count alone',
      pod({ phase: 'Running', statuses: [cs('c0', { restartCount: 2, state: running, lastState: { terminated: { exitCode: 1 } } })] }),
      '2',
    ],
  ];
  for (const [name, p, want] of cases) it(name, () => assert.equal(narrow(p)[3], want));
});

describe('pod printer: wide columns', () => {
  it('IP, NODE, NOMINATED NODE and READINESS GATES (true gates of all gates)', () => {
    const p = pod({ containers: 2, phase: 'Running', statuses: [cs('c0', { ready: true, restartCount: 3, state: running }), cs('c1', { restartCount: 3 })] });
    p.spec!.nodeName = 'node-a';
    p.spec!.readinessGates = [{ conditionType: 'g1' }, { conditionType: 'g2' }, { conditionType: 'g3' }];
    p.status!.conditions = [
      { type: 'g1', status: 'False' },
      { type: 'g2', status: 'True' },
    ];
    p.status!.podIPs = [{ ip: '10.0.0.5' }, { ip: 'fd00::5' }];
    p.status!.nominatedNodeName = 'node-b';
    const row = onlyRow(toTable(POD, [p], { now: NOW }).rows);
    assert.deepEqual(row.cells, ['web-1', '1/2', 'Running', '6', '<unknown>', '10.0.0.5', 'node-a', 'node-b', '1/3']);
  });

  it('status.podIP is authoritative over podIPs', () => {
    const p = pod({ phase: 'Running' });
    p.status!.podIP = '10.0.0.9';
    p.status!.podIPs = [{ ip: '10.0.0.5' }];
    assert.equal(onlyRow(toTable(POD, [p], { now: NOW }).rows).cells[5], '10.0.0.9');
  });

  it('a pod without IP, node, nomination or gates shows <none> in each', () => {
    const row = onlyRow(toTable(POD, [pod({ phase: 'Pending' })], { now: NOW }).rows);
    assert.deepEqual(row.cells.slice(5), ['<none>', '<none>', '<none>', '<none>']);
  });
});

describe('pod printer: row conditions', () => {
  const cases: Array<[string, string, unknown]> = [
    ['a running pod has none', 'Running', undefined],
    ['a succeeded pod is Completed: Succeeded', 'Succeeded', [{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }]],
    ['a failed pod is Completed: Failed', 'Failed', [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }]],
  ];
  for (const [name, phase, want] of cases) {
    it(name, () => assert.deepEqual(onlyRow(toTable(POD, [pod({ phase })], { now: NOW }).rows).conditions, want));
  }
});
