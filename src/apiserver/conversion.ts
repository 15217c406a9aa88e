// Conversions between a resource's served form and its stored form, for resources that share
// storage with another version: events.k8s.io/v1 Events are stored as core v1 Events (as upstream).
type Obj = Record<string, any>;

/** core/v1 Event field → events.k8s.io/v1 Event field. */
const EVENT_FIELDS: ReadonlyArray<[core: string, events: string]> = [
  ['involvedObject', 'regarding'],
  ['message', 'note'],
  ['source', 'deprecatedSource'],
  ['firstTimestamp', 'deprecatedFirstTimestamp'],
  ['lastTimestamp', 'deprecatedLastTimestamp'],
  ['count', 'deprecatedCount'],
  ['reportingComponent', 'reportingController'],
];

function rename(obj: Obj, pairs: ReadonlyArray<[string, string]>, from: 0 | 1): Obj {
  const out: Obj = { ...obj };
  for (const pair of pairs) {
    const a = pair[from];
    const b = pair[from === 0 ? 1 : 0];
    if (a in out) {
      out[b] = out[a];
      delete out[a];
    }
  }
  return out;
}

export interface Conversion {
  /** Served form → stored form. */
  toStorage(obj: Obj): Obj;
  /** Stored form → served form. */
  fromStorage(obj: Obj): Obj;
}

const identity: Conversion = { toStorage: (o) => o, fromStorage: (o) => o };

export const eventsV1Conversion: Conversion = {
  toStorage: (o) => ({ ...rename(o, EVENT_FIELDS, 1), apiVersion: 'v1', kind: 'Event' }),
  fromStorage: (o) => ({ ...rename(o, EVENT_FIELDS, 0), apiVersion: 'events.k8s.io/v1', kind: 'Event' }),
};

export function conversionFor(group: string, plural: string): Conversion {
  return group === 'events.k8s.io' && plural === 'events' ? eventsV1Conversion : identity;
}
