// Field selectors: `metadata.name=x,status.phase!=Running`, with upstream's supported fields per
// resource; anything else is refused with upstream's "field label not supported" error.
import { SelectorParseError } from './labels.js';

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

type Getter = (obj: Record<string, any>) => string | undefined;

const str = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v));
const at = (path: string): Getter => {
  const parts = path.split('.');
  return (obj) => str(parts.reduce<any>((o, p) => (o === undefined || o === null ? undefined : o[p]), obj));
};

/** Per resource (group/plural) the fields upstream lets you select on, besides metadata.name/namespace. */
const EXTRA_FIELDS: Record<string, Record<string, Getter>> = {
  '/pods': {
    'spec.nodeName': (o) => str(o.spec?.nodeName) ?? '',
    'spec.restartPolicy': at('spec.restartPolicy'),
    'spec.schedulerName': at('spec.schedulerName'),
    'spec.serviceAccountName': at('spec.serviceAccountName'),
    'spec.hostNetwork': (o) => String(o.spec?.hostNetwork === true),
    'status.phase': (o) => str(o.status?.phase) ?? '',
    'status.podIP': (o) => str(o.status?.podIP) ?? '',
    'status.nominatedNodeName': (o) => str(o.status?.nominatedNodeName) ?? '',
  },
  '/events': {
    'involvedObject.kind': at('involvedObject.kind'),
    'involvedObject.namespace': at('involvedObject.namespace'),
    'involvedObject.name': at('involvedObject.name'),
    'involvedObject.uid': at('involvedObject.uid'),
    'involvedObject.apiVersion': at('involvedObject.apiVersion'),
    'involvedObject.resourceVersion': at('involvedObject.resourceVersion'),
    'involvedObject.fieldPath': at('involvedObject.fieldPath'),
    reason: at('reason'),
    reportingComponent: at('reportingComponent'),
    source: (o) => str(o.source?.component) ?? str(o.reportingComponent),
    type: at('type'),
  },
  'events.k8s.io/events': {
    'regarding.kind': at('regarding.kind'),
    'regarding.namespace': at('regarding.namespace'),
    'regarding.name': at('regarding.name'),
    'regarding.uid': at('regarding.uid'),
    reason: at('reason'),
    reportingController: at('reportingController'),
    type: at('type'),
  },
  '/secrets': { type: at('type') },
  '/nodes': { 'spec.unschedulable': (o) => String(o.spec?.unschedulable === true) },
  '/namespaces': { 'status.phase': at('status.phase') },
  '/replicationcontrollers': { 'status.replicas': at('status.replicas') },
  'apps/replicasets': { 'status.replicas': at('status.replicas') },
  'batch/jobs': { 'status.successful': at('status.successful') },
  '/services': { 'spec.clusterIP': at('spec.clusterIP'), 'spec.type': at('spec.type') },
  'certificates.k8s.io/certificatesigningrequests': { 'spec.signerName': at('spec.signerName') },
};

/** Parses a fieldSelector for `group/plural`; unknown fields fail as upstream does. */
export function parseFieldSelector(text: string, group: string, plural: string): FieldRequirement[] {
  const s = text.trim();
  if (s === '') return [];
  const known = EXTRA_FIELDS[`${group}/${plural}`] ?? {};
  const out: FieldRequirement[] = [];
  for (const term of splitUnescaped(s, ',')) {
    const m = /^([^=!]+?)\s*(==|!=|=)\s*(.*)$/s.exec(term);
    if (!m) throw new SelectorParseError(`invalid selector: '${term}'; can't understand '${term}'`);
    const field = m[1]!.trim();
    if (field !== 'metadata.name' && field !== 'metadata.namespace' && !(field in known)) {
      throw new SelectorParseError(`field label not supported: ${field}`);
    }
    out.push({ field, op: m[2] === '!=' ? '!=' : '=', value: unescape(m[3]!.trim()) });
  }
  return out;
}

export function fieldsMatch(reqs: readonly FieldRequirement[], obj: Record<string, any>, group: string, plural: string): boolean {
  const known = EXTRA_FIELDS[`${group}/${plural}`] ?? {};
  return reqs.every((r) => {
    const get: Getter =
      r.field === 'metadata.name' ? (o) => str(o.metadata?.name) : r.field === 'metadata.namespace' ? (o) => str(o.metadata?.namespace) ?? '' : known[r.field]!;
    const v = get(obj) ?? '';
    return r.op === '=' ? v === r.value : v !== r.value;
  });
}

/** The single `metadata.name=x` a selector pins, if any (lets a list read one key). */
export function pinnedName(reqs: readonly FieldRequirement[]): string | undefined {
  return reqs.find((r) => r.field === 'metadata.name' && r.op === '=')?.value;
}

function splitUnescaped(s: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && i + 1 < s.length) {
      cur += s[i]! + s[i + 1]!;
      i++;
    } else if (s[i] === sep) {
      parts.push(cur);
      cur = '';
    } else cur += s[i]!;
  }
  parts.push(cur);
  return parts.filter((p) => p.trim() !== '');
}

function unescape(v: string): string {
  return v.replace(/\\(.)/g, '$1');
}
