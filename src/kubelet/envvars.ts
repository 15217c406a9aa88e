// A container's environment as the kubelet builds it (upstream pkg/kubelet/kubelet_pods.go
// makeEnvironmentVariables, pkg/kubelet/envvars, third_party/forked/golang/expansion): envFrom, env with
// `$(VAR)` expansion, valueFrom sources (configMap/secret keys, downward API fields and resources) and the
// service links (`<SVC>_SERVICE_HOST`, docker-link `<SVC>_PORT_…`). Pure: every lookup comes in through
// `EnvironmentSources`, so the kubelet decides where configMaps, secrets and services are read from.
import type { ConfigMap, Container, EnvVar, ObjectFieldSelector, Pod, ResourceFieldSelector, Secret, Service } from 'kubernetes-types/core/v1.js';
import { milliValue, quantityValue } from '../api/quantity.js';
import type { KeyValue } from './runtime/types.js';
import { podRef, type EventSink } from './prober/prober.js';

/** Why a container's environment could not be built; the kubelet reports `CreateContainerConfigError` with `message`. */
export type ContainerConfigErrorCode =
  | 'ConfigMapNotFound'
  | 'SecretNotFound'
  | 'KeyNotFound'
  | 'FieldPathNotSupported'
  | 'ResourceNotSupported'
  | 'HostIPUnknown'
  | 'ServicesNotSynced'
  | 'LookupFailed'
  | 'InvalidPod';

/** An expected failure to build a container's config; `message` is upstream's text (it lands in the container status). */
export class ContainerConfigError extends Error {
  override readonly name = 'ContainerConfigError';
  /** The container waiting reason the kubelet reports. */
  readonly reason = 'CreateContainerConfigError';
  constructor(
    readonly code: ContainerConfigErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isContainerConfigError(err: unknown, code?: ContainerConfigErrorCode): err is ContainerConfigError {
  return err instanceof ContainerConfigError && (code === undefined || err.code === code);
}

type MaybePromise<T> = T | Promise<T>;

/** What `makeEnvironmentVariables` reads from the outside world. */
export interface EnvironmentSources {
  /** The configMap, or undefined when it does not exist (other failures throw and are reported as they are). */
  getConfigMap(namespace: string, name: string): MaybePromise<ConfigMap | undefined>;
  getSecret(namespace: string, name: string): MaybePromise<Secret | undefined>;
  /**
   * The Services the kubelet knows, any namespace (only the pod's namespace and `default/kubernetes` are used).
   * undefined = the service informer has not synced yet: API pods then fail (upstream refuses to build an
   * environment without KUBERNETES_SERVICE_HOST), static pods proceed without service links.
   */
  services: readonly Service[] | undefined;
  /** The pod's IPs, primary first (status.podIP(s)). */
  podIPs: readonly string[];
  /** The node's IPs, primary first (status.hostIP(s)). */
  hostIPs: readonly string[];
  /** Node allocatable: the default for unset limits in resourceFieldRef (upstream defaultPodLimitsForDownwardAPI). */
  nodeAllocatable: Readonly<Record<string, string>>;
  /** Events about the pod (`InvalidEnvironmentVariableNames`): the kubelet's EventRecorder. */
  recorder?: EventSink;
  /**
   * Which envFrom keys are valid names: `relaxed` (default, 1.32's RelaxedEnvironmentVariableValidation: any
   * printable ASCII but `=`) or `strict` (a C-identifier-like `[-._a-zA-Z][-._a-zA-Z0-9]*`). Invalid keys are
   * skipped with a warning event, as upstream.
   */
  envVarNameValidation?: 'relaxed' | 'strict';
  /**
   * Whether the pod came from a manifest file rather than the API (upstream IsStaticPod). Default: the
   * `kubernetes.io/config.source` annotation is set and not `api`.
   */
  isStaticPod?: boolean;
}

// ---------------------------------------------------------------------------------------------
// $(VAR) expansion (upstream third_party/forked/golang/expansion)

/**
 * Expands `$(NAME)` references in `input` with the first map that has NAME; `$$` is an escaped `$`;
 * an undefined reference or an unterminated `$(` stays as written.
 */
export function expandVariables(input: string, ...contexts: ReadonlyArray<ReadonlyMap<string, string> | Readonly<Record<string, string>>>): string {
  return expandWith(input, (name) => {
    for (const ctx of contexts) {
      if (ctx instanceof Map) {
        const v = ctx.get(name);
        if (v !== undefined) return v;
      } else if (Object.prototype.hasOwnProperty.call(ctx, name)) {
        return (ctx as Readonly<Record<string, string>>)[name]!;
      }
    }
    return `$(${name})`;
  });
}

/** upstream expansion.Expand with its mapping function: `mapping(name)` replaces each `$(name)`. */
export function expandWith(input: string, mapping: (name: string) => string): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== '$' || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const next = input[cursor + 1]!;
    let advance = 1;
    if (next === '$') {
      out += '$';
    } else if (next === '(') {
      const close = input.indexOf(')', cursor + 2);
      if (close === -1) {
        out += '$(';
      } else {
        out += mapping(input.slice(cursor + 2, close));
        advance = close - cursor;
      }
    } else {
      // Not an expression: the operator and the next character, copied as they are.
      const cp = input.codePointAt(cursor + 1)!;
      const ch = String.fromCodePoint(cp);
      out += '$' + ch;
      advance = ch.length;
    }
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

/** Upstream ExpandContainerCommandAndArgs: `$(VAR)` in command and args, from the container's final environment. */
export function expandContainerCommandAndArgs(container: Pick<Container, 'command' | 'args'>, envs: readonly KeyValue[]): { command: string[]; args: string[] } {
  const vars = new Map(envs.map((e) => [e.key, e.value]));
  return {
    command: (container.command ?? []).map((c) => expandVariables(c, vars)),
    args: (container.args ?? []).map((a) => expandVariables(a, vars)),
  };
}

/**
 * A volume mount's subPathExpr expanded with the container's environment (upstream
 * ExpandContainerVolumeMounts); a reference to an undefined or empty variable is an error
 * `missing value for A, B` (names sorted).
 */
export function expandSubPathExpr(subPathExpr: string, envs: readonly KeyValue[]): string {
  const vars = new Map(envs.map((e) => [e.key, e.value]));
  const missing = new Set<string>();
  const expanded = expandWith(subPathExpr, (name) => {
    const v = vars.get(name);
    if (!v) missing.add(name);
    return v ?? '';
  });
  if (missing.size > 0) throw new ContainerConfigError('KeyNotFound', `missing value for ${[...missing].sort().join(', ')}`);
  return expanded;
}

/**
 * Upstream ExpandContainerCommandOnlyStatic (exec probes): only the `value`s written in the container's
 * `env` are known (a valueFrom variable expands to ""), never envFrom, services or the downward API.
 */
export function expandCommandOnlyStatic(command: readonly string[], env: readonly EnvVar[] | undefined): string[] {
  const vars = new Map((env ?? []).map((e) => [e.name, e.value ?? '']));
  return command.map((c) => expandVariables(c, vars));
}

// ---------------------------------------------------------------------------------------------
// Service links (upstream pkg/kubelet/envvars)

/** Upstream's service env var prefix: upper case, `.` and `-` → `_`, a leading digit gets a `_`. */
export function serviceEnvVarName(name: string): string {
  const n = name.replace(/[.-]/g, '_').toUpperCase();
  return /^[0-9]/.test(n) ? `_${n}` : n;
}

function isServiceIPSet(svc: Service): boolean {
  const ip = svc.spec?.clusterIP;
  return ip !== undefined && ip !== '' && ip !== 'None';
}

/** The variables of one service (upstream envvars.FromServices for one item). Services without a cluster IP give none. */
export function serviceEnvVars(svc: Service): KeyValue[] {
  const ports = svc.spec?.ports ?? [];
  if (!isServiceIPSet(svc) || ports.length === 0) return [];
  const ip = svc.spec!.clusterIP!;
  const prefix = serviceEnvVarName(svc.metadata?.name ?? '');
  const out: KeyValue[] = [
    { key: `${prefix}_SERVICE_HOST`, value: ip },
    { key: `${prefix}_SERVICE_PORT`, value: String(ports[0]!.port) },
  ];
  for (const p of ports) if (p.name) out.push({ key: `${prefix}_SERVICE_PORT_${serviceEnvVarName(p.name)}`, value: String(p.port) });
  // Docker-link compatible variables.
  ports.forEach((p, i) => {
    const proto = (p.protocol || 'TCP').toLowerCase();
    const url = `${proto}://${ip}:${p.port}`;
    if (i === 0) out.push({ key: `${prefix}_PORT`, value: url });
    const pp = `${prefix}_PORT_${p.port}_${proto.toUpperCase()}`;
    out.push({ key: pp, value: url }, { key: `${pp}_PROTO`, value: proto }, { key: `${pp}_PORT`, value: String(p.port) }, { key: `${pp}_ADDR`, value: ip });
  });
  return out;
}

/**
 * Upstream getServiceEnvVarMap: `default/kubernetes` always; with enableServiceLinks, every service with a
 * cluster IP in `namespace` too (a same-named service of the pod's namespace does not replace `kubernetes`
 * from default). Sorted by service name so the result is stable.
 */
export function serviceEnvironment(services: readonly Service[], namespace: string, enableServiceLinks: boolean): Map<string, string> {
  const chosen = new Map<string, Service>();
  for (const svc of services) {
    if (!isServiceIPSet(svc)) continue;
    const name = svc.metadata?.name ?? '';
    const ns = svc.metadata?.namespace ?? '';
    if (ns === 'default' && name === 'kubernetes') {
      if (!chosen.has(name) || chosen.get(name)!.metadata?.namespace !== 'default') chosen.set(name, svc);
    } else if (ns === namespace && enableServiceLinks) {
      if (!(name === 'kubernetes' && chosen.get(name)?.metadata?.namespace === 'default')) chosen.set(name, svc);
    }
  }
  const m = new Map<string, string>();
  for (const name of [...chosen.keys()].sort()) for (const kv of serviceEnvVars(chosen.get(name)!)) m.set(kv.key, kv.value);
  return m;
}

// ---------------------------------------------------------------------------------------------
// Downward API (upstream pkg/fieldpath, pkg/apis/core/pods ConvertDownwardAPIFieldLabel, pkg/api/v1/resource)

const SUPPORTED_FIELD_LABELS = new Set([
  'metadata.annotations',
  'metadata.labels',
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.restartPolicy',
  'spec.serviceAccountName',
  'spec.schedulerName',
  'status.phase',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
]);

/** `metadata.labels['app']` → ['metadata.labels', 'app']. */
export function splitSubscriptedPath(fieldPath: string): [string, string] | undefined {
  if (!fieldPath.endsWith("']")) return undefined;
  const s = fieldPath.slice(0, -2);
  const at = s.indexOf("['");
  if (at <= 0) return undefined;
  return [s.slice(0, at), s.slice(at + 2)];
}

/** Go's strconv.Quote, for upstream's downward API map format. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp >= 0x80 && cp <= 0x9f) out += '\\u' + cp.toString(16).padStart(4, '0');
    else if (cp === 0xfffd && ch !== '\ufffd') out += '\\ufffd';
    else out += ch;
  }
  return out + '"';
}

/** Upstream fieldpath.FormatMap: `key="value"` lines in key order (labels and annotations as a whole). */
export function formatMap(m: Readonly<Record<string, string>> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${goQuote(m![k]!)}`)
    .join('\n');
}

/** Orders pod IPs so the node's primary IP family comes first (upstream sortPodIPs, #97979). */
function sortPodIPs(podIPs: readonly string[], hostIPs: readonly string[]): string[] {
  const primaryV6 = (hostIPs[0] ?? '').includes(':');
  const v4 = podIPs.filter((ip) => !ip.includes(':'));
  const v6 = podIPs.filter((ip) => ip.includes(':'));
  return primaryV6 ? [...v6.slice(0, 1), ...v4.slice(0, 1)] : [...v4.slice(0, 1), ...v6.slice(0, 1)];
}

/** The value of a downward API `fieldRef` for a pod (env vars and downwardAPI volumes read the same fields). */
export function podFieldValue(fs: ObjectFieldSelector, pod: Pod, podIPs: readonly string[], hostIPs: readonly string[]): string {
  const version = fs.apiVersion || 'v1';
  if (version !== 'v1') throw new ContainerConfigError('FieldPathNotSupported', `unsupported pod version: ${version}`);
  let path = fs.fieldPath;
  const sub = splitSubscriptedPath(path);
  if (sub) {
    if (sub[0] !== 'metadata.annotations' && sub[0] !== 'metadata.labels') {
      throw new ContainerConfigError('FieldPathNotSupported', `field label does not support subscript: ${path}`);
    }
  } else if (path === 'spec.host') {
    path = 'spec.nodeName';
  } else if (!SUPPORTED_FIELD_LABELS.has(path)) {
    throw new ContainerConfigError('FieldPathNotSupported', `field label not supported: ${path}`);
  }
  const ips = sortPodIPs(podIPs, hostIPs);
  const hostIP = (): string => {
    if (hostIPs.length === 0) throw new ContainerConfigError('HostIPUnknown', 'host IP unknown; known addresses: []');
    return hostIPs[0]!;
  };
  switch (path) {
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.hostIP':
      return hostIP();
    case 'status.hostIPs':
      hostIP();
      return hostIPs.join(',');
    case 'status.podIP':
      return ips[0] ?? '';
    case 'status.podIPs':
      return ips.join(',');
  }
  if (sub) {
    const map = sub[0] === 'metadata.labels' ? pod.metadata?.labels : pod.metadata?.annotations;
    return map?.[sub[1]] ?? '';
  }
  switch (path) {
    case 'metadata.annotations':
      return formatMap(pod.metadata?.annotations);
    case 'metadata.labels':
      return formatMap(pod.metadata?.labels);
    case 'metadata.name':
      return pod.metadata?.name ?? '';
    case 'metadata.namespace':
      return pod.metadata?.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata?.uid ?? '';
  }
  throw new ContainerConfigError('FieldPathNotSupported', `unsupported fieldPath: ${path}`);
}

const DEFAULTED_LIMITS = ['cpu', 'memory', 'ephemeral-storage'];

/** The container with unset cpu/memory/ephemeral-storage limits defaulted to node allocatable (upstream MergeContainerResourceLimits). */
function withDefaultLimits(container: Container, allocatable: Readonly<Record<string, string>>): Container {
  const limits: Record<string, string> = { ...(container.resources?.limits as Record<string, string> | undefined) };
  for (const r of DEFAULTED_LIMITS) if (limits[r] === undefined && allocatable[r] !== undefined) limits[r] = allocatable[r]!;
  return { ...container, resources: { ...container.resources, limits } };
}

function ceilDiv(value: number, divisor: number): string {
  return String(Math.ceil(value / divisor));
}

/**
 * The value of a `resourceFieldRef` for `container` (upstream ExtractContainerResourceValue): cpu in units of
 * the divisor's millis, memory/storage/hugepages in bytes over the divisor, rounded up; divisor default `1`.
 * Limits not set default to node allocatable.
 */
export function containerResourceValue(fs: ResourceFieldSelector, pod: Pod, container: Container, nodeAllocatable: Readonly<Record<string, string>>): string {
  let target = container;
  if (fs.containerName) {
    const found = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((c) => c.name === fs.containerName);
    if (!found) throw new ContainerConfigError('ResourceNotSupported', `container ${fs.containerName} not found`);
    target = found;
  }
  target = withDefaultLimits(target, nodeAllocatable);
  const divisor = fs.divisor === undefined || milliValue(fs.divisor) === 0 ? '1' : String(fs.divisor);
  const [kind, ...rest] = fs.resource.split('.');
  const resource = rest.join('.');
  const list = (kind === 'limits' ? target.resources?.limits : kind === 'requests' ? target.resources?.requests : undefined) as Record<string, string> | undefined;
  if (kind === 'limits' || kind === 'requests') {
    const q = list?.[resource];
    if (resource === 'cpu') return ceilDiv(milliValue(q), milliValue(divisor));
    if (resource === 'memory' || resource === 'ephemeral-storage' || resource.startsWith('hugepages-')) return ceilDiv(quantityValue(q), quantityValue(divisor));
  }
  throw new ContainerConfigError('ResourceNotSupported', `unsupported container resource : ${fs.resource}`);
}

// ---------------------------------------------------------------------------------------------
// The environment

const STRICT_ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** Upstream IsEnvVarName (strict) / IsRelaxedEnvVarName. */
export function isValidEnvVarName(name: string, mode: 'relaxed' | 'strict' = 'relaxed'): boolean {
  if (mode === 'relaxed') return /^[\x20-\x3c\x3e-\x7e]+$/.test(name);
  return STRICT_ENV_NAME.test(name) && name !== '.' && name !== '..' && !name.startsWith('..');
}

function notFoundOrThrow<T>(kind: 'configmap' | 'secret', name: string, optional: boolean, value: T | undefined): T | undefined {
  if (value !== undefined || optional) return value;
  throw new ContainerConfigError(kind === 'configmap' ? 'ConfigMapNotFound' : 'SecretNotFound', `${kind} "${name}" not found`);
}

function secretValue(secret: Secret, key: string): string | undefined {
  const b64 = secret.data?.[key];
  if (b64 !== undefined) return Buffer.from(b64, 'base64').toString('utf8');
  return secret.stringData?.[key];
}

function secretEntries(secret: Secret): Array<[string, string]> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(secret.data ?? {})) out.set(k, Buffer.from(v, 'base64').toString('utf8'));
  for (const [k, v] of Object.entries(secret.stringData ?? {})) if (!out.has(k)) out.set(k, v);
  return [...out];
}

async function lookup<T>(what: string, get: () => MaybePromise<T>): Promise<T> {
  try {
    return await get();
  } catch (err) {
    throw new ContainerConfigError('LookupFailed', `failed to get ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * The environment of `container` in `pod`, as upstream's makeEnvironmentVariables builds it:
 * 1. envFrom (configMaps and secrets, with prefix; invalid names skipped with an
 *    `InvalidEnvironmentVariableNames` warning; a missing optional source is skipped);
 * 2. env in order, later entries overriding envFrom: `value` with `$(VAR)` expanded against the variables
 *    defined so far and the service variables; or `valueFrom`;
 * 3. the service variables not already defined.
 * The order is: envFrom and env keys in first-definition order, then service variables.
 *
 * Throws ContainerConfigError with upstream's message (`configmap "x" not found`,
 * `couldn't find key k in ConfigMap ns/x`, …), which the kubelet reports as CreateContainerConfigError.
 */
export async function makeEnvironmentVariables(pod: Pod, container: Container, sources: EnvironmentSources): Promise<KeyValue[]> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const source = pod.metadata?.annotations?.['kubernetes.io/config.source'];
  const isStatic = sources.isStaticPod ?? (source !== undefined && source !== 'api');
  if (sources.services === undefined && !isStatic) {
    throw new ContainerConfigError('ServicesNotSynced', 'services have not yet been read at least once, cannot construct envvars');
  }
  const serviceEnv = serviceEnvironment(sources.services ?? [], namespace, pod.spec?.enableServiceLinks ?? true);
  const nameMode = sources.envVarNameValidation ?? 'relaxed';

  const configMaps = new Map<string, ConfigMap>();
  const secrets = new Map<string, Secret>();
  const getConfigMap = async (name: string, optional: boolean): Promise<ConfigMap | undefined> => {
    if (configMaps.has(name)) return configMaps.get(name);
    const cm = notFoundOrThrow('configmap', name, optional, await lookup(`configmap "${name}"`, () => sources.getConfigMap(namespace, name)));
    if (cm) configMaps.set(name, cm);
    return cm;
  };
  const getSecret = async (name: string, optional: boolean): Promise<Secret | undefined> => {
    if (secrets.has(name)) return secrets.get(name);
    const s = notFoundOrThrow('secret', name, optional, await lookup(`secret "${name}"`, () => sources.getSecret(namespace, name)));
    if (s) secrets.set(name, s);
    return s;
  };

  const env = new Map<string, string>();
  for (const from of container.envFrom ?? []) {
    let entries: Array<[string, string]>;
    let kind: 'configMap' | 'secret';
    let name: string;
    if (from.configMapRef) {
      kind = 'configMap';
      name = from.configMapRef.name ?? '';
      const cm = await getConfigMap(name, from.configMapRef.optional === true);
      if (!cm) continue;
      entries = Object.entries(cm.data ?? {});
    } else if (from.secretRef) {
      kind = 'secret';
      name = from.secretRef.name ?? '';
      const s = await getSecret(name, from.secretRef.optional === true);
      if (!s) continue;
      entries = secretEntries(s);
    } else {
      continue;
    }
    const invalid: string[] = [];
    for (const [k0, v] of entries) {
      const k = (from.prefix ?? '') + k0;
      if (!isValidEnvVarName(k, nameMode)) {
        invalid.push(k);
        continue;
      }
      env.set(k, v);
    }
    if (invalid.length > 0) {
      invalid.sort();
      sources.recorder?.event(
        podRef(pod),
        'Warning',
        'InvalidEnvironmentVariableNames',
        `Keys [${invalid.join(', ')}] from the EnvFrom ${kind} ${namespace}/${name} were skipped since they are considered invalid environment variable names.`,
      );
    }
  }

  for (const v of container.env ?? []) {
    let value = v.value ?? '';
    if (value !== '') {
      value = expandVariables(value, env, serviceEnv);
    } else if (v.valueFrom) {
      const from = v.valueFrom;
      if (from.fieldRef) {
        value = podFieldValue(from.fieldRef, pod, sources.podIPs, sources.hostIPs);
      } else if (from.resourceFieldRef) {
        value = containerResourceValue(from.resourceFieldRef, pod, container, sources.nodeAllocatable);
      } else if (from.configMapKeyRef) {
        const { name = '', key, optional = false } = from.configMapKeyRef;
        const cm = await getConfigMap(name, optional);
        if (!cm) continue;
        const got = cm.data?.[key];
        if (got === undefined) {
          if (optional) continue;
          throw new ContainerConfigError('KeyNotFound', `couldn't find key ${key} in ConfigMap ${namespace}/${name}`);
        }
        value = got;
      } else if (from.secretKeyRef) {
        const { name = '', key, optional = false } = from.secretKeyRef;
        const s = await getSecret(name, optional);
        if (!s) continue;
        const got = secretValue(s, key);
        if (got === undefined) {
          if (optional) continue;
          throw new ContainerConfigError('KeyNotFound', `couldn't find key ${key} in Secret ${namespace}/${name}`);
        }
        value = got;
      }
    }
    env.set(v.name, value);
  }

  const result: KeyValue[] = [...env].map(([key, value]) => ({ key, value }));
  for (const [key, value] of serviceEnv) if (!env.has(key)) result.push({ key, value });
  return result;
}
