// `kubectl get events`: LAST SEEN TYPE REASON OBJECT MESSAGE (wide adds SUBOBJECT, SOURCE between OBJECT and
// MESSAGE, then FIRST SEEN COUNT NAME). events.k8s.io/v1 events are the same objects and print the same.
import type { Event } from 'kubernetes-types/core/v1.js';
import type { Event as EventV1 } from 'kubernetes-types/events/v1.js';
import { ageSince, parseTime } from '../humanDuration.js';
import { column, NAME_DESCRIPTION, printer, wide, type PrintContext } from '../printer.js';
import type { TableCell } from '../types.js';

const columns = [
  column('Last Seen', 'string', 'How long ago the event last happened.'),
  column('Type', 'string', 'Normal or Warning.'),
  column('Reason', 'string', 'A short, machine-readable word for why the event happened.'),
  column('Object', 'string', 'The object the event is about, as kind/name.'),
  wide('Subobject', 'string', 'The part of the object the event is about, such as a container.'),
  wide('Source', 'string', 'The component (and host) that reported the event.'),
  column('Message', 'string', 'What happened, for humans.'),
  wide('First Seen', 'string', 'How long ago the event first happened.'),
  wide('Count', 'string', 'How many times the event happened.'),
  column('Name', 'string', NAME_DESCRIPTION, { priority: 1, format: 'name' }),
];

/** An events.k8s.io/v1 event in the core v1 shape: the same stored object, as upstream converts it. */
export function coreEventOf(e: Readonly<EventV1>): Event {
  const out: Event = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: e.metadata ?? {},
    involvedObject: e.regarding ?? {},
  };
  if (e.note !== undefined) out.message = e.note;
  if (e.reason !== undefined) out.reason = e.reason;
  if (e.type !== undefined) out.type = e.type;
  if (e.action !== undefined) out.action = e.action;
  if (e.related !== undefined) out.related = e.related;
  if (e.eventTime !== undefined) out.eventTime = e.eventTime;
  if (e.series !== undefined) out.series = e.series;
  if (e.deprecatedSource !== undefined) out.source = e.deprecatedSource;
  if (e.deprecatedFirstTimestamp !== undefined) out.firstTimestamp = e.deprecatedFirstTimestamp;
  if (e.deprecatedLastTimestamp !== undefined) out.lastTimestamp = e.deprecatedLastTimestamp;
  if (e.deprecatedCount !== undefined) out.count = e.deprecatedCount;
  if (e.reportingController !== undefined) out.reportingComponent = e.reportingController;
  if (e.reportingInstance !== undefined) out.reportingInstance = e.reportingInstance;
  return out;
}

function isSet(ts: string | undefined | null): boolean {
  return parseTime(ts) !== undefined;
}

/** component, or `component, host` — falling back to the reporting controller and instance. */
export function eventSource(e: Readonly<Event>): string {
  const component = e.source?.component || e.reportingComponent || '';
  const host = e.source?.host || e.reportingInstance || '';
  return host === '' ? component : `${component}, ${host}`;
}

function printEvent(e: Readonly<Event>, ctx: PrintContext): TableCell[] {
  const firstSeen = isSet(e.firstTimestamp) ? ageSince(e.firstTimestamp, ctx.now) : ageSince(e.eventTime, ctx.now);
  let lastSeen = isSet(e.lastTimestamp) ? ageSince(e.lastTimestamp, ctx.now) : firstSeen;
  let count = e.count ?? 0;
  if (e.series) {
    lastSeen = ageSince(e.series.lastObservedTime, ctx.now);
    count = e.series.count ?? 0;
  } else if (count === 0) {
    count = 1; // singleton events of the new API carry no count
  }
  const kind = (e.involvedObject?.kind ?? '').toLowerCase();
  const name = e.involvedObject?.name ?? '';
  return [
    lastSeen,
    e.type ?? '',
    e.reason ?? '',
    name === '' ? kind : `${kind}/${name}`,
    e.involvedObject?.fieldPath ?? '',
    eventSource(e),
    (e.message ?? '').trim(),
    firstSeen,
    count,
    e.metadata?.name ?? '',
  ];
}

export const eventPrinter = printer<Event>(columns, printEvent);
