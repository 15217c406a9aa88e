import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Event } from 'kubernetes-types/core/v1.js';
import type { Event as EventV1 } from 'kubernetes-types/events/v1.js';
import { toTable, type TableCell } from '../../../src/api/tables/index.js';
import { ago, NOW, onlyRow } from './clock.js';

const EVENT = { group: '', kind: 'Event' };

function event(extra: Partial<Event> = {}): Event {
  return {
    metadata: { name: 'web-1.17c0a1', namespace: 'default' },
    involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'default', fieldPath: 'spec.containers{app}' },
    reason: 'BackOff',
    type: 'Warning',
    message: '  Back-off restarting failed container\n',
    source: { component: 'kubelet', host: 'node-a' },
    firstTimestamp: ago(10, 'm'),
    lastTimestamp: ago(3, 'm'),
    count: 5,
    ...extra,
  };
}

function cells(e: Event): TableCell[] {
  return onlyRow(toTable(EVENT, [e], { now: NOW }).rows).cells;
}

describe('event printer', () => {
  it('columns: LAST SEEN TYPE REASON OBJECT, wide SUBOBJECT SOURCE, MESSAGE, wide FIRST SEEN COUNT NAME', () => {
    const t = toTable(EVENT, [], { now: NOW });
    assert.deepEqual(
      t.columnDefinitions.map((c) => [c.name, c.priority]),
      [
        ['Last Seen', 0],
        ['Type', 0],
        ['Reason', 0],
        ['Object', 0],
        ['Subobject', 1],
        ['Source', 1],
        ['Message', 0],
        ['First Seen', 1],
        ['Count', 1],
        ['Name', 1],
      ],
    );
  });

  const cases: Array<[string, Event, TableCell[]]> = [
    [
      'a repeated event: ages of last and first occurrence, kind/name, trimmed message, count',
      event(),
      ['3m', 'Warning', 'BackOff', 'pod/web-1', 'spec.containers{app}', 'kubelet, node-a', 'Back-off restarting failed container', '10m', 5, 'web-1.17c0a1'],
    ],
    [
      'without lastTimestamp, LAST SEEN is the first occurrence',
      event({ lastTimestamp: undefined }),
      ['10m', 'Warning', 'BackOff', 'pod/web-1', 'spec.containers{app}', 'kubelet, node-a', 'Back-off restarting failed container', '10m', 5, 'web-1.17c0a1'],
    ],
    [
      'without any timestamp both ages are <unknown> and a zero count reads 1',
      event({ firstTimestamp: undefined, lastTimestamp: undefined, count: 0 }),
      ['<unknown>', 'Warning', 'BackOff', 'pod/web-1', 'spec.containers{app}', 'kubelet, node-a', 'Back-off restarting failed container', '<unknown>', 1, 'web-1.17c0a1'],
    ],
    [
      'a new-API event uses eventTime, its series and the reporting controller',
      event({
        firstTimestamp: undefined,
        lastTimestamp: undefined,
        count: undefined,
        source: {},
        eventTime: '2024-05-01T11:40:00.000000Z',
        series: { count: 7, lastObservedTime: '2024-05-01T11:58:00.000000Z' },
        reportingComponent: 'default-scheduler',
        reportingInstance: 'sched-1',
      }),
      ['2m', 'Warning', 'BackOff', 'pod/web-1', 'spec.containers{app}', 'default-scheduler, sched-1', 'Back-off restarting failed container', '20m', 7, 'web-1.17c0a1'],
    ],
    [
      'an object without a name prints its kind alone; a source without host its component alone',
      event({ involvedObject: { kind: 'Node' }, source: { component: 'kubelet' } }),
      ['3m', 'Warning', 'BackOff', 'node', '', 'kubelet', 'Back-off restarting failed container', '10m', 5, 'web-1.17c0a1'],
    ],
  ];
  for (const [name, e, want] of cases) it(name, () => assert.deepEqual(cells(e), want));

  it('narrow output keeps LAST SEEN TYPE REASON OBJECT MESSAGE', () => {
    const row = onlyRow(toTable(EVENT, [event()], { now: NOW, wide: false }).rows);
    assert.deepEqual(row.cells, ['3m', 'Warning', 'BackOff', 'pod/web-1', 'Back-off restarting failed container']);
  });

  it('events.k8s.io/v1 events print like the core events they are', () => {
    const e: EventV1 = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: 'web-1.17c0a1', namespace: 'default' },
      eventTime: '2024-05-01T11:50:00.000000Z',
      regarding: { kind: 'Pod', name: 'web-1' },
      reason: 'Scheduled',
      type: 'Normal',
      note: 'Successfully assigned default/web-1 to node-a',
      reportingController: 'default-scheduler',
      reportingInstance: 'default-scheduler-node-a',
      action: 'Binding',
    };
    const t = toTable({ group: 'events.k8s.io', kind: 'Event' }, [e], { now: NOW, includeObject: 'Object' });
    const row = onlyRow(t.rows);
    assert.deepEqual(row.cells, [
      '10m',
      'Normal',
      'Scheduled',
      'pod/web-1',
      '',
      'default-scheduler, default-scheduler-node-a',
      'Successfully assigned default/web-1 to node-a',
      '10m',
      1,
      'web-1.17c0a1',
    ]);
    assert.equal(row.object, e, 'the row carries the object as requested, not its core form');
  });
});
