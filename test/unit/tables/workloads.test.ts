import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DaemonSet, Deployment, ReplicaSet, StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { CronJob, Job } from 'kubernetes-types/batch/v1.js';
import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import { toTable, type TableCell } from '../../../src/api/tables/index.js';
import { ago, NOW, onlyRow } from './clock.js';

const template: PodTemplateSpec = {
  metadata: { labels: { app: 'web' } },
  spec: {
    containers: [
      { name: 'app', image: 'nginx:1.27' },
      { name: 'sidecar', image: 'envoy:1.30' },
    ],
  },
};

function cells(group: string, kind: string, obj: object): TableCell[] {
  return onlyRow(toTable({ group, kind }, [obj], { now: NOW }).rows).cells;
}

describe('deployment printer', () => {
  const deployment = (replicas: number | undefined, status: Deployment['status']): Deployment => ({
    metadata: { name: 'web', creationTimestamp: ago(2, 'h') },
    spec: { ...(replicas === undefined ? {} : { replicas }), selector: { matchLabels: { app: 'web' } }, template },
    ...(status ? { status } : {}),
  });
  const cases: Array<[string, Deployment, TableCell[]]> = [
    [
      'READY is ready of desired; UP-TO-DATE and AVAILABLE are numbers; wide lists containers, images, selector',
      deployment(3, { replicas: 3, readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 }),
      ['web', '2/3', 3, 2, '120m', 'app,sidecar', 'nginx:1.27,envoy:1.30', 'app=web'],
    ],
    ['a new deployment without status reads 0 ready', deployment(5, undefined), ['web', '0/5', 0, 0, '120m', 'app,sidecar', 'nginx:1.27,envoy:1.30', 'app=web']],
    ['replicas default to 1', deployment(undefined, undefined), ['web', '0/1', 0, 0, '120m', 'app,sidecar', 'nginx:1.27,envoy:1.30', 'app=web']],
  ];
  for (const [name, d, want] of cases) it(name, () => assert.deepEqual(cells('apps', 'Deployment', d), want));

  it('selector expressions print sorted by key with sorted values', () => {
    const d = deployment(1, undefined);
    d.spec!.selector = {
      matchLabels: { tier: 'front' },
      matchExpressions: [
        { key: 'env', operator: 'In', values: ['prod', 'canary'] },
        { key: 'legacy', operator: 'DoesNotExist' },
        { key: 'app', operator: 'Exists' },
      ],
    };
    assert.equal(cells('apps', 'Deployment', d)[7], 'app,env in (canary,prod),!legacy,tier=front');
  });
});

describe('replica set, stateful set and daemon set printers', () => {
  it('replica set: DESIRED CURRENT READY as numbers', () => {
    const rs: ReplicaSet = {
      metadata: { name: 'web-7d9f8', creationTimestamp: ago(30, 'm') },
      spec: { replicas: 3, selector: { matchLabels: { app: 'web', 'pod-template-hash': '7d9f8' } }, template },
      status: { replicas: 3, readyReplicas: 1 },
    };
    assert.deepEqual(cells('apps', 'ReplicaSet', rs), ['web-7d9f8', 3, 3, 1, '30m', 'app,sidecar', 'nginx:1.27,envoy:1.30', 'app=web,pod-template-hash=7d9f8']);
  });

  it('stateful set: READY is ready of desired', () => {
    const ss: StatefulSet = {
      metadata: { name: 'db', creationTimestamp: ago(3, 'd') },
      spec: { replicas: 3, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template },
      status: { replicas: 3, readyReplicas: 2 },
    };
    assert.deepEqual(cells('apps', 'StatefulSet', ss), ['db', '2/3', '3d', 'app,sidecar', 'nginx:1.27,envoy:1.30']);
  });

  it('daemon set: counts, node selector, and <none> without one', () => {
    const ds: DaemonSet = {
      metadata: { name: 'agent', creationTimestamp: ago(9, 'd') },
      spec: { selector: { matchLabels: { app: 'agent' } }, template: { ...template, spec: { ...template.spec!, nodeSelector: { 'kubernetes.io/os': 'linux' } } } },
      status: { desiredNumberScheduled: 3, currentNumberScheduled: 2, numberReady: 1, updatedNumberScheduled: 2, numberAvailable: 0, numberMisscheduled: 0 },
    };
    assert.deepEqual(cells('apps', 'DaemonSet', ds), [
      'agent',
      3,
      2,
      1,
      2,
      0,
      'kubernetes.io/os=linux',
      '9d',
      'app,sidecar',
      'nginx:1.27,envoy:1.30',
      'app=agent',
    ]);
    ds.spec!.template = template;
    assert.equal(cells('apps', 'DaemonSet', ds)[6], '<none>');
  });
});

describe('job printer', () => {
  const job = (spec: Partial<NonNullable<Job['spec']>>, status: Job['status'] = {}, deleting = false): Job => ({
    metadata: { name: 'migrate', creationTimestamp: ago(1, 'h'), ...(deleting ? { deletionTimestamp: ago(1) } : {}) },
    spec: { template, selector: { matchLabels: { 'batch.kubernetes.io/job-name': 'migrate' } }, ...spec },
    status,
  });
  const cond = (type: string, status = 'True') => ({ type, status });
  const cases: Array<[string, Job, TableCell[]]> = [
    ['a job that has not started: Running, no duration', job({ completions: 2 }, { succeeded: 1 }), ['migrate', 'Running', '1/2', '', '60m']],
    ['without completions: succeeded of 1', job({}), ['migrate', 'Running', '0/1', '', '60m']],
    ['parallel without completions: of N', job({ parallelism: 3 }, { succeeded: 1 }), ['migrate', 'Running', '1/1 of 3', '', '60m']],
    [
      'a running job’s duration runs from its start to now',
      job({ completions: 1 }, { startTime: ago(20, 'm') }),
      ['migrate', 'Running', '0/1', '20m', '60m'],
    ],
    [
      'a finished job’s duration is start to completion',
      job({ completions: 1 }, { succeeded: 1, startTime: ago(50, 'm'), completionTime: ago(20, 'm'), conditions: [cond('Complete')] }),
      ['migrate', 'Complete', '1/1', '30m', '60m'],
    ],
    ['a failed job', job({ completions: 1 }, { conditions: [cond('Failed')] }), ['migrate', 'Failed', '0/1', '', '60m']],
    ['a suspended job', job({ completions: 1 }, { conditions: [cond('Suspended')] }), ['migrate', 'Suspended', '0/1', '', '60m']],
    ['a job about to fail', job({ completions: 1 }, { conditions: [cond('FailureTarget')] }), ['migrate', 'FailureTarget', '0/1', '', '60m']],
    ['a job being deleted', job({ completions: 1 }, {}, true), ['migrate', 'Terminating', '0/1', '', '60m']],
    ['Complete wins over Terminating', job({ completions: 1 }, { conditions: [cond('Complete')] }, true), ['migrate', 'Complete', '0/1', '', '60m']],
    ['a false condition does not count', job({ completions: 1 }, { conditions: [cond('Failed', 'False')] }), ['migrate', 'Running', '0/1', '', '60m']],
  ];
  for (const [name, j, want] of cases) it(name, () => assert.deepEqual(cells('batch', 'Job', j).slice(0, 5), want));

  it('wide: containers, images, selector', () => {
    assert.deepEqual(cells('batch', 'Job', job({ completions: 1 })).slice(5), ['app,sidecar', 'nginx:1.27,envoy:1.30', 'batch.kubernetes.io/job-name=migrate']);
  });
});

describe('cronjob printer', () => {
  const cronJob = (spec: Partial<NonNullable<CronJob['spec']>>, status: CronJob['status'] = {}): CronJob => ({
    metadata: { name: 'backup', creationTimestamp: ago(10, 'd') },
    spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template } }, ...spec },
    status,
  });
  const cases: Array<[string, CronJob, TableCell[]]> = [
    ['never scheduled: LAST SCHEDULE <none>, no time zone, not suspended', cronJob({}), ['backup', '*/5 * * * *', '<none>', 'False', 0, '<none>', '10d']],
    [
      'scheduled, with a time zone, suspended, with active jobs',
      cronJob({ timeZone: 'Europe/Paris', suspend: true }, { lastScheduleTime: ago(4, 'm'), active: [{ name: 'backup-1' }, { name: 'backup-2' }] }),
      ['backup', '*/5 * * * *', 'Europe/Paris', 'True', 2, '4m', '10d'],
    ],
  ];
  for (const [name, cj, want] of cases) it(name, () => assert.deepEqual(cells('batch', 'CronJob', cj).slice(0, 7), want));

  it('the SUSPEND column is typed boolean although its cells are True/False strings', () => {
    const col = toTable({ group: 'batch', kind: 'CronJob' }, [], { now: NOW }).columnDefinitions[3];
    assert.deepEqual([col?.name, col?.type], ['Suspend', 'boolean']);
  });
});
