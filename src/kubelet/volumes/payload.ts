// Pure builders of the files configMap, secret and downwardAPI volumes (and projected sources)
// contain, as upstream's MakePayload (pkg/volume/configmap, pkg/volume/secret) and CollectData
// (pkg/volume/downwardapi), with upstream's error messages.
import { posix } from 'node:path';
import type { ConfigMap, Container, DownwardAPIVolumeFile, KeyToPath, Pod, ResourceFieldSelector, Secret } from 'kubernetes-types/core/v1.js';
import { milliValue, quantityValue } from '../../api/quantity.js';
import type { FileProjection, Payload } from './atomicWriter.js';

/** The API's default for defaultMode (0644). */
export const DEFAULT_MODE = 0o644;

/** A payload could not be built; the message is upstream's. */
export class PayloadError extends Error {
  override readonly name = 'PayloadError';
}

/** Files of a configMap volume or projected source: every key, or the listed `items`. */
export function configMapPayload(items: readonly KeyToPath[] | undefined, cm: Readonly<ConfigMap>, defaultMode: number, optional: boolean): Payload {
  const lookup = (key: string): Buffer | undefined => {
    const s = cm.data?.[key];
    if (s !== undefined) return Buffer.from(s, 'utf8');
    const b = cm.binaryData?.[key];
    return b === undefined ? undefined : Buffer.from(b, 'base64');
  };
  const all = [...Object.keys(cm.data ?? {}), ...Object.keys(cm.binaryData ?? {})];
  return keyPayload(items, all, lookup, defaultMode, optional, (k) => `configmap references non-existent config key: ${k}`);
}

/** Files of a secret volume or projected source (values arrive base64-encoded from the API). */
export function secretPayload(items: readonly KeyToPath[] | undefined, secret: Readonly<Secret>, defaultMode: number, optional: boolean): Payload {
  const lookup = (key: string): Buffer | undefined => {
    const b = secret.data?.[key];
    if (b !== undefined) return Buffer.from(b, 'base64');
    // stringData is write-only in the API; honour it if a caller hands us an unsubmitted object.
    const s = secret.stringData?.[key];
    return s === undefined ? undefined : Buffer.from(s, 'utf8');
  };
  const all = [...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})];
  return keyPayload(items, all, lookup, defaultMode, optional, (k) => `references non-existent secret key: ${k}`);
}

function keyPayload(
  items: readonly KeyToPath[] | undefined,
  allKeys: readonly string[],
  lookup: (key: string) => Buffer | undefined,
  defaultMode: number,
  optional: boolean,
  missing: (key: string) => string,
): Payload {
  const payload: Payload = new Map();
  if (!items || items.length === 0) {
    for (const key of allKeys) payload.set(key, { data: lookup(key)!, mode: defaultMode });
    return payload;
  }
  for (const item of items) {
    const data = lookup(item.key);
    if (data === undefined) {
      if (optional) continue;
      throw new PayloadError(missing(item.key));
    }
    payload.set(item.path, { data, mode: item.mode ?? defaultMode });
  }
  return payload;
}

/** Node allocatable quantities (`cpu`, `memory`, `ephemeral-storage`): the default of unset limits. */
export type NodeAllocatable = Readonly<Record<string, string>>;

/**
 * Files of a downwardAPI volume or projected source. Errors of several items are joined as
 * upstream's aggregate (`[a, b]`); items that failed are still written empty, as upstream does.
 */
export function downwardAPIPayload(items: readonly DownwardAPIVolumeFile[] | undefined, pod: Readonly<Pod>, defaultMode: number, allocatable: NodeAllocatable): { payload: Payload; errors: string[] } {
  const payload: Payload = new Map();
  const errors: string[] = [];
  for (const item of items ?? []) {
    const file: FileProjection = { data: Buffer.alloc(0), mode: item.mode ?? defaultMode };
    try {
      if (item.fieldRef) file.data = Buffer.from(extractFieldPathAsString(pod, item.fieldRef.fieldPath), 'utf8');
      else if (item.resourceFieldRef) file.data = Buffer.from(extractResourceValue(item.resourceFieldRef, pod, item.resourceFieldRef.containerName, allocatable), 'utf8');
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
    }
    payload.set(posix.normalize(item.path), file);
  }
  return { payload, errors };
}

/** The message of upstream's utilerrors.NewAggregate for these messages ('' for none). */
export function aggregateMessage(messages: readonly string[]): string {
  if (messages.length === 1) return messages[0]!;
  return messages.length ? `[${messages.join(', ')}]` : '';
}

/** `metadata.labels['app']` → ['metadata.labels', 'app']; undefined when not subscripted. */
export function splitSubscriptedPath(fieldPath: string): [string, string] | undefined {
  if (!fieldPath.endsWith("']")) return undefined;
  const i = fieldPath.indexOf("['");
  if (i < 0) return undefined;
  return [fieldPath.slice(0, i), fieldPath.slice(i + 2, -2)];
}

/** upstream fieldpath.ExtractFieldPathAsString for the fields a downward API volume may show. */
export function extractFieldPathAsString(pod: Readonly<Pod>, fieldPath: string): string {
  const meta = pod.metadata ?? {};
  const sub = splitSubscriptedPath(fieldPath);
  if (sub) {
    const [path, key] = sub;
    const problems = qualifiedNameErrors(key.toLowerCase());
    if (path === 'metadata.annotations' || path === 'metadata.labels') {
      if (problems.length) throw new PayloadError(`invalid key subscript in ${fieldPath}: ${problems.join(';')}`);
      return (path === 'metadata.annotations' ? meta.annotations : meta.labels)?.[key] ?? '';
    }
    throw new PayloadError(`fieldPath ${goQuote(fieldPath)} does not support subscript`);
  }
  switch (fieldPath) {
    case 'metadata.annotations':
      return formatMap(meta.annotations ?? {});
    case 'metadata.labels':
      return formatMap(meta.labels ?? {});
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
  }
  throw new PayloadError(`unsupported fieldPath: ${fieldPath}`);
}

/** upstream fieldpath.FormatMap: `key="value"` lines sorted by key, Go-quoted, no trailing newline. */
export function formatMap(m: Readonly<Record<string, string>>): string {
  return Object.keys(m)
    .sort()
    .map((k) => `${k}=${goQuote(m[k]!)}`)
    .join('\n');
}

/** Go's strconv.Quote: printable characters kept, `"` and `\` escaped, control characters as Go escapes. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c >= 0x80 && !/[\p{L}\p{M}\p{N}\p{P}\p{S}\u0020]/u.test(ch)) out += c > 0xffff ? `\\U${c.toString(16).padStart(8, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + '"';
}

const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** upstream validation.IsQualifiedName's messages (empty when valid). */
function qualifiedNameErrors(value: string): string[] {
  const parts = value.split('/');
  let name: string;
  const errs: string[] = [];
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else if (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix)) errs.push(`prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`);
  } else {
    return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  if (name.length > 0 && !QUALIFIED_NAME_PART.test(name))
    errs.push("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
  return errs;
}

/**
 * upstream resource.ExtractResourceValueByContainerNameAndNodeAllocatable: the container's limit
 * or request in units of the divisor, rounded up; unset limits are the node's allocatable.
 */
export function extractResourceValue(fs: Readonly<ResourceFieldSelector>, pod: Readonly<Pod>, containerName: string | undefined, allocatable: NodeAllocatable): string {
  const all: readonly Container[] = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  const container = all.find((c) => c.name === containerName);
  if (!container) throw new PayloadError(`container ${containerName ?? ''} not found`);
  const limits: Record<string, string | number> = { ...(container.resources?.limits ?? {}) };
  for (const r of ['cpu', 'memory', 'ephemeral-storage']) if (limits[r] === undefined && allocatable[r] !== undefined) limits[r] = allocatable[r];
  const requests = container.resources?.requests ?? {};
  const divisor = fs.divisor === undefined || (quantityValue(fs.divisor) === 0 && milliValue(fs.divisor) === 0) ? '1' : fs.divisor;
  const dot = fs.resource.indexOf('.');
  const kind = fs.resource.slice(0, dot);
  const name = fs.resource.slice(dot + 1);
  if (dot < 0 || (kind !== 'limits' && kind !== 'requests')) throw new PayloadError(`unsupported container resource : ${fs.resource}`);
  const value = (kind === 'limits' ? limits : requests)[name];
  if (name === 'cpu') return String(Math.ceil(milliValue(value) / milliValue(divisor)));
  if (name === 'memory' || name === 'ephemeral-storage' || name.startsWith('hugepages-')) return String(Math.ceil(quantityValue(value) / quantityValue(divisor)));
  throw new PayloadError(`unsupported container resource : ${fs.resource}`);
}
