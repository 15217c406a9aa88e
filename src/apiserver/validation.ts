// Validation as upstream's ValidateObjectMeta and Validate<Kind>: a list of field errors whose
// paths and texts match upstream's, so `kubectl apply` prints the same 422 messages.
import { parseStandard, UnknownTimeZoneError, Zone } from '../api/cronSchedule.js';
import { fromLabelSelector, matches } from '../api/labels.js';
import { validateServiceSpec } from './services/validation.js';
import { FieldError, duplicate, invalidValue, notSupported, required, tooLong } from './status.js';

type Obj = Record<string, any>;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

export function dns1123Subdomain(path: string, v: string): FieldError[] {
  if (v.length > 253) return [tooLong(path, 253)];
  return DNS1123_SUBDOMAIN.test(v) ? [] : [invalidValue(path, v, SUBDOMAIN_MSG)];
}

export function dns1123Label(path: string, v: string): FieldError[] {
  if (v.length > 63) return [invalidValue(path, v, 'must be no more than 63 characters')];
  return DNS1123_LABEL.test(v) ? [] : [invalidValue(path, v, LABEL_MSG)];
}

/** Kinds whose names must be DNS labels rather than subdomains. */
const LABEL_NAMED = new Set(['/Namespace', 'apps/StatefulSet']);
/** Kinds whose names must be DNS-1035 labels (start with a letter): upstream's ValidateServiceName. */
const DNS1035_NAMED = new Set(['/Service']);
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
/** Kinds whose names are free-form path segments (RBAC, events, …). */
const PATH_SEGMENT_NAMED = new Set([
  'rbac.authorization.k8s.io/Role',
  'rbac.authorization.k8s.io/ClusterRole',
  'rbac.authorization.k8s.io/RoleBinding',
  'rbac.authorization.k8s.io/ClusterRoleBinding',
  '/Event',
  'events.k8s.io/Event',
  // Upstream's ValidateCertificateRequestName accepts any name (kubelets use `node-csr-<base64url>`).
  'certificates.k8s.io/CertificateSigningRequest',
  '/Node',
]);

export function validateLabelMap(path: string, labels: unknown): FieldError[] {
  if (labels === undefined || labels === null) return [];
  if (typeof labels !== 'object' || Array.isArray(labels)) return [invalidValue(path, labels, 'must be a map of strings')];
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels as Obj)) {
    const name = k.includes('/') ? k.slice(k.lastIndexOf('/') + 1) : k;
    const prefix = k.includes('/') ? k.slice(0, k.lastIndexOf('/')) : '';
    if (!QUALIFIED_NAME.test(name) || name.length > 63 || (prefix && !DNS1123_SUBDOMAIN.test(prefix))) {
      errs.push(
        invalidValue(
          path,
          k,
          "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ),
      );
    }
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) {
      errs.push(
        invalidValue(
          path,
          v,
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
      );
    }
  }
  return errs;
}

export function validateObjectMeta(group: string, kind: string, meta: Obj, namespaced: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const name = meta.name;
  if (typeof name !== 'string' || name === '') {
    errs.push(required('metadata.name', 'name or generateName is required'));
  } else if (PATH_SEGMENT_NAMED.has(`${group}/${kind}`)) {
    if (name === '.' || name === '..' || name.includes('/') || name.includes('%')) {
      errs.push(invalidValue('metadata.name', name, 'may not contain \'/\' or \'%\' and may not be \'.\' or \'..\''));
    }
  } else if (LABEL_NAMED.has(`${group}/${kind}`)) {
    errs.push(...dns1123Label('metadata.name', name));
  } else if (DNS1035_NAMED.has(`${group}/${kind}`)) {
    if (name.length > 63) errs.push(invalidValue('metadata.name', name, 'must be no more than 63 characters'));
    if (!DNS1035_LABEL.test(name)) errs.push(invalidValue('metadata.name', name, DNS1035_MSG));
  } else {
    errs.push(...dns1123Subdomain('metadata.name', name));
  }
  if (namespaced && !meta.namespace) errs.push(required('metadata.namespace'));
  errs.push(...validateLabelMap('metadata.labels', meta.labels));
  if (meta.annotations !== undefined && (typeof meta.annotations !== 'object' || Array.isArray(meta.annotations))) {
    errs.push(invalidValue('metadata.annotations', meta.annotations, 'must be a map of strings'));
  } else if (meta.annotations) {
    const size = Object.entries(meta.annotations as Obj).reduce((n, [k, v]) => n + k.length + String(v).length, 0);
    if (size > 256 * 1024) errs.push(tooLong('metadata.annotations', 256 * 1024));
  }
  return errs;
}

function validateContainers(path: string, list: unknown, requireOne: boolean): FieldError[] {
  if (!Array.isArray(list) || list.length === 0) return requireOne ? [required(path)] : [];
  const errs: FieldError[] = [];
  const names = new Set<string>();
  list.forEach((c: Obj, i) => {
    const p = `${path}[${i}]`;
    if (!c || typeof c !== 'object') return errs.push(invalidValue(p, c, 'must be an object'));
    if (!c.name) errs.push(required(`${p}.name`));
    else {
      errs.push(...dns1123Label(`${p}.name`, String(c.name)));
      if (names.has(c.name)) errs.push(duplicate(`${p}.name`, c.name));
      names.add(c.name);
    }
    if (!c.image) errs.push(required(`${p}.image`));
    (Array.isArray(c.ports) ? c.ports : []).forEach((port: Obj, j: number) => {
      const cp = port?.containerPort;
      if (typeof cp !== 'number' || cp < 1 || cp > 65535) {
        errs.push(invalidValue(`${p}.ports[${j}].containerPort`, cp ?? 0, 'must be between 1 and 65535, inclusive'));
      }
      if (port?.protocol && !['TCP', 'UDP', 'SCTP'].includes(port.protocol)) {
        errs.push(notSupported(`${p}.ports[${j}].protocol`, port.protocol, ['SCTP', 'TCP', 'UDP']));
      }
    });
    if (c.imagePullPolicy && !['Always', 'IfNotPresent', 'Never'].includes(c.imagePullPolicy)) {
      errs.push(notSupported(`${p}.imagePullPolicy`, c.imagePullPolicy, ['Always', 'IfNotPresent', 'Never']));
    }
  });
  return errs;
}

function validatePodSpec(path: string, spec: Obj | undefined): FieldError[] {
  if (!spec || typeof spec !== 'object') return [required(path)];
  const errs = [...validateContainers(`${path}.containers`, spec.containers, true), ...validateContainers(`${path}.initContainers`, spec.initContainers, false)];
  if (spec.restartPolicy && !['Always', 'OnFailure', 'Never'].includes(spec.restartPolicy)) {
    errs.push(notSupported(`${path}.restartPolicy`, spec.restartPolicy, ['Always', 'Never', 'OnFailure']));
  }
  if (spec.dnsPolicy && !['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'].includes(spec.dnsPolicy)) {
    errs.push(notSupported(`${path}.dnsPolicy`, spec.dnsPolicy, ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None']));
  }
  return errs;
}

function validateSelectorAndTemplate(spec: Obj | undefined, needSelector: boolean): FieldError[] {
  if (!spec) return [required('spec')];
  const errs: FieldError[] = [];
  if (needSelector && !spec.selector) errs.push(required('spec.selector'));
  if (spec.replicas !== undefined && (typeof spec.replicas !== 'number' || spec.replicas < 0)) {
    errs.push(invalidValue('spec.replicas', spec.replicas, 'must be greater than or equal to 0'));
  }
  const labels = spec.template?.metadata?.labels;
  if (spec.selector && spec.template) {
    const reqs = fromLabelSelector(spec.selector);
    if (reqs.length === 0) errs.push(invalidValue('spec.selector', spec.selector, 'empty selector is invalid for deployment'));
    else if (!matches(reqs, labels)) {
      errs.push(invalidValue('spec.template.metadata.labels', labels ?? {}, '`selector` does not match template `labels`'));
    }
  }
  errs.push(...validatePodSpec('spec.template.spec', spec.template?.spec));
  return errs;
}

/** Field errors for `obj` of `group/kind` (metadata included). */
/** Upstream's validateScheduleFormat and time zone check: the schedule must parse as cron, without TZ= in it. */
function validateCronJobSchedule(spec: Obj | undefined): FieldError[] {
  if (!spec) return [required('spec')];
  const errs: FieldError[] = [];
  const schedule = spec.schedule;
  if (typeof schedule !== 'string' || schedule === '') return [required('spec.schedule')];
  try {
    parseStandard(schedule, Zone.UTC);
  } catch (err) {
    if (!(err instanceof UnknownTimeZoneError)) errs.push(invalidValue('spec.schedule', schedule, (err as Error).message));
  }
  if (schedule.includes('TZ')) errs.push(invalidValue('spec.schedule', schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'));
  if (typeof spec.timeZone === 'string') {
    try {
      Zone.load(spec.timeZone);
    } catch (err) {
      errs.push(invalidValue('spec.timeZone', spec.timeZone, (err as Error).message));
    }
  }
  return errs;
}

export function validate(group: string, kind: string, obj: Obj, namespaced: boolean): FieldError[] {
  const errs = validateObjectMeta(group, kind, obj.metadata ?? {}, namespaced);
  const spec = obj.spec as Obj | undefined;
  switch (`${group}/${kind}`) {
    case '/Pod':
      errs.push(...validatePodSpec('spec', spec));
      break;
    case 'apps/Deployment':
    case 'apps/ReplicaSet':
    case 'apps/DaemonSet':
    case 'apps/StatefulSet':
      errs.push(...validateSelectorAndTemplate(spec, true));
      break;
    case '/ReplicationController':
      errs.push(...validateSelectorAndTemplate(spec ? { ...spec, selector: spec.selector ? { matchLabels: spec.selector } : undefined } : spec, true));
      break;
    case 'batch/Job':
      if (spec) errs.push(...validatePodSpec('spec.template.spec', spec.template?.spec));
      else errs.push(required('spec'));
      break;
    case 'batch/CronJob':
      errs.push(...validateCronJobSchedule(spec));
      break;
    case '/Service':
      errs.push(...validateServiceSpec(obj));
      break;
    case '/ConfigMap':
    case '/Secret':
      for (const field of ['data', 'binaryData', 'stringData']) {
        for (const k of Object.keys((obj[field] as Obj | undefined) ?? {})) {
          if (!CONFIG_KEY.test(k) || k.length > 253) {
            errs.push(invalidValue(`${field}[${k}]`, k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
          }
        }
      }
      break;
  }
  return errs;
}
