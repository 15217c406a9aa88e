// Swagger 2.0 paths for the served resources, named as upstream names them (operationId,
// tags, x-kubernetes-action, x-kubernetes-group-version-kind): kubectl finds a kind's operations
// (and whether PATCH takes fieldValidation) through these.
import type { ResourceType } from '../catalog.js';
import type { JsonSchema } from './factTypes.js';
import { V2_REF_PREFIX, type GroupVersionKind } from './definitions.js';

export interface Parameter {
  name: string;
  in: 'query' | 'path' | 'body';
  description?: string;
  required?: boolean;
  type?: string;
  uniqueItems?: boolean;
  schema?: JsonSchema;
}

export type ParameterOrRef = Parameter | { $ref: string };

export interface Operation {
  description: string;
  operationId: string;
  consumes: string[];
  produces: string[];
  schemes: string[];
  tags: string[];
  parameters?: ParameterOrRef[];
  responses: Record<string, { description: string; schema?: JsonSchema }>;
  'x-kubernetes-action'?: string;
  'x-kubernetes-group-version-kind'?: GroupVersionKind;
}

export type PathItem = { parameters?: ParameterOrRef[] } & Partial<Record<HttpMethod, Operation>>;
export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'patch' | 'head' | 'options';

const q = (name: string, type: string, description: string): Parameter => ({ name, in: 'query', description, type, uniqueItems: true });

/** Shared parameters, referenced as #/parameters/<key>. Descriptions are ours. */
export const SHARED_PARAMETERS: Record<string, Parameter> = {
  namespace: { name: 'namespace', in: 'path', description: 'The namespace the object belongs to.', required: true, type: 'string', uniqueItems: true },
  pretty: q('pretty', 'string', "If 'true', the output is indented for people to read."),
  allowWatchBookmarks: q('allowWatchBookmarks', 'boolean', 'Ask for BOOKMARK events in a watch; servers may send them or not.'),
  continue: q('continue', 'string', 'The continue token a previous paged list returned, to get the next page.'),
  fieldSelector: q('fieldSelector', 'string', 'Only return objects whose fields match this selector. Defaults to everything.'),
  labelSelector: q('labelSelector', 'string', 'Only return objects whose labels match this selector. Defaults to everything.'),
  limit: q('limit', 'integer', 'The most items to return in one response; more are fetched with the continue token.'),
  resourceVersion: q('resourceVersion', 'string', 'Which version of the data to serve; see resourceVersionMatch.'),
  resourceVersionMatch: q('resourceVersionMatch', 'string', 'How resourceVersion applies: Exact or NotOlderThan.'),
  sendInitialEvents: q('sendInitialEvents', 'boolean', 'With watch=true, start the watch with synthetic ADDED events for existing objects.'),
  timeoutSeconds: q('timeoutSeconds', 'integer', 'End the list or watch call after this many seconds.'),
  watch: q('watch', 'boolean', 'Watch for changes to the described objects instead of listing them.'),
  dryRun: q('dryRun', 'string', 'If set to All, run every stage of the request without persisting anything.'),
  fieldManager: q('fieldManager', 'string', 'The name of the actor making the change, recorded in managedFields.'),
  'fieldManager-patch': q('fieldManager', 'string', 'The name of the actor making the change; required for apply patches.'),
  fieldValidation: q('fieldValidation', 'string', 'What to do with unknown or duplicate fields in the body: Ignore, Warn (the default) or Strict.'),
  force: q('force', 'boolean', 'Take ownership of conflicting fields in an apply patch. Only valid for apply patches.'),
  gracePeriodSeconds: q('gracePeriodSeconds', 'integer', 'Seconds to wait before deleting; 0 deletes at once. Defaults per kind.'),
  ignoreStoreReadErrorWithClusterBreakingPotential: q(
    'ignoreStoreReadErrorWithClusterBreakingPotential',
    'boolean',
    'Delete objects that cannot be read from storage. Dangerous; for administrators only.',
  ),
  orphanDependents: q('orphanDependents', 'boolean', 'Deprecated: use propagationPolicy. Whether to orphan dependents.'),
  propagationPolicy: q('propagationPolicy', 'string', 'Garbage collection of dependents: Orphan, Background or Foreground.'),
  'body-delete': { name: 'body', in: 'body', schema: { $ref: `${V2_REF_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions` } },
  'body-patch': { name: 'body', in: 'body', required: true, schema: { $ref: `${V2_REF_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.Patch` } },
  // pods/log
  'container-log': q('container', 'string', 'The container whose log to return; may be omitted for single-container pods.'),
  follow: q('follow', 'boolean', 'Stream the log as it grows.'),
  insecureSkipTLSVerifyBackend: q('insecureSkipTLSVerifyBackend', 'boolean', "Do not verify the kubelet's serving certificate."),
  limitBytes: q('limitBytes', 'integer', 'Stop after this many bytes of log.'),
  previous: q('previous', 'boolean', "Return the previous, terminated container's log."),
  sinceSeconds: q('sinceSeconds', 'integer', 'Only log lines newer than this many seconds.'),
  stream: q('stream', 'string', 'Which stream to return: All, Stdout or Stderr.'),
  tailLines: q('tailLines', 'integer', 'Only this many lines from the end of the log.'),
  timestamps: q('timestamps', 'boolean', 'Prefix every line with an RFC3339 timestamp.'),
  // pods/exec and pods/attach
  command: q('command', 'string', 'The command to run (repeat the parameter for each argument).'),
  container: q('container', 'string', 'The container to use; may be omitted for single-container pods.'),
  stdin: q('stdin', 'boolean', "Redirect the client's standard input to the container."),
  stdout: q('stdout', 'boolean', "Redirect the container's standard output to the client."),
  stderr: q('stderr', 'boolean', "Redirect the container's standard error to the client."),
  tty: q('tty', 'boolean', 'Allocate a terminal.'),
  // pods/portforward
  ports: q('ports', 'integer', 'Container ports to forward.'),
  // */proxy
  'path-query': q('path', 'string', 'The path to proxy to.'),
  'path-path': { name: 'path', in: 'path', description: 'The path to proxy to.', required: true, type: 'string', uniqueItems: true },
};

const ref = (key: keyof typeof SHARED_PARAMETERS & string): { $ref: string } => ({ $ref: `#/parameters/${key}` });

const LIST_PARAMS = ['allowWatchBookmarks', 'continue', 'fieldSelector', 'labelSelector', 'limit', 'resourceVersion', 'resourceVersionMatch', 'sendInitialEvents', 'timeoutSeconds', 'watch'] as const;
const DELETE_PARAMS = ['dryRun', 'gracePeriodSeconds', 'ignoreStoreReadErrorWithClusterBreakingPotential', 'orphanDependents', 'propagationPolicy'] as const;

const JSON_YAML = ['application/json', 'application/yaml'];
const WATCH_PRODUCES = [...JSON_YAML, 'application/json;stream=watch'];
const PATCH_CONSUMES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
const PROXY_METHODS: HttpMethod[] = ['delete', 'get', 'head', 'options', 'patch', 'post', 'put'];

const capitalize = (s: string) => (s === '' ? s : s[0]!.toUpperCase() + s.slice(1));

/** `rbac.authorization.k8s.io` → `RbacAuthorization`; '' → `Core`; `stable.example.com` → `StableExampleCom`. */
export function groupIdentifier(group: string): string {
  if (group === '') return 'Core';
  return group
    .replace(/\.k8s\.io$/, '')
    .split(/[.-]/)
    .map(capitalize)
    .join('');
}

/** The tag upstream gives a group-version's operations: `core_v1`, `rbacAuthorization_v1`. */
export function groupVersionTag(group: string, version?: string): string {
  const id = groupIdentifier(group);
  const tag = id[0]!.toLowerCase() + id.slice(1);
  return version === undefined ? tag : `${tag}_${version}`;
}

/** `/api/v1` or `/apis/apps/v1`. */
export function groupVersionPrefix(group: string, version: string): string {
  return group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
}

/** What a subresource's operations send and receive, where that is not the resource's own kind. */
interface SubresourceShape {
  gvk: GroupVersionKind;
  definition: string;
}

const SUBRESOURCE_KINDS: Record<string, SubresourceShape> = {
  scale: { gvk: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, definition: 'io.k8s.api.autoscaling.v1.Scale' },
  binding: { gvk: { group: '', version: 'v1', kind: 'Binding' }, definition: 'io.k8s.api.core.v1.Binding' },
  eviction: { gvk: { group: 'policy', version: 'v1', kind: 'Eviction' }, definition: 'io.k8s.api.policy.v1.Eviction' },
  token: { gvk: { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' }, definition: 'io.k8s.api.authentication.v1.TokenRequest' },
};

const CONNECT_PARAMS: Record<string, (keyof typeof SHARED_PARAMETERS & string)[]> = {
  exec: ['command', 'container', 'stderr', 'stdin', 'stdout', 'tty'],
  attach: ['container', 'stderr', 'stdin', 'stdout', 'tty'],
  portforward: ['ports'],
};

export interface PathContext {
  /** Definition name of a served kind (built-in or custom). */
  definitionFor(gvk: GroupVersionKind): string | undefined;
  /** "group/version/Kind" keys of kinds whose DELETE returns the object. */
  deleteReturnsObject: ReadonlySet<string>;
}

function schemaRef(name: string): JsonSchema {
  return { $ref: V2_REF_PREFIX + name };
}

/** Adds every operation of one resource to `paths`. */
export function addResourcePaths(paths: Record<string, PathItem>, r: ResourceType, ctx: PathContext): void {
  const gvk: GroupVersionKind = { group: r.group, version: r.version, kind: r.kind };
  const def = ctx.definitionFor(gvk);
  if (def === undefined) return;
  const listDef = ctx.definitionFor({ ...gvk, kind: `${r.kind}List` });
  const id = groupIdentifier(r.group) + capitalize(r.version);
  const ns = r.namespaced ? 'Namespaced' : '';
  const tags = [groupVersionTag(r.group, r.version)];
  const prefix = groupVersionPrefix(r.group, r.version);
  const scope = r.namespaced ? `/namespaces/{namespace}` : '';
  const collection = `${prefix}${scope}/${r.plural}`;
  const item = `${collection}/{name}`;
  const nameParam: Parameter = { name: 'name', in: 'path', description: `name of the ${r.kind}`, required: true, type: 'string', uniqueItems: true };
  const scopeParams: ParameterOrRef[] = r.namespaced ? [ref('namespace')] : [];
  const verbs = new Set(r.verbs);
  const obj = schemaRef(def);

  const op = (
    action: string,
    operationId: string,
    description: string,
    responses: Operation['responses'],
    extra: Partial<Operation> = {},
    kind: GroupVersionKind = gvk,
  ): Operation => ({
    consumes: ['*/*'],
    description,
    operationId,
    produces: JSON_YAML,
    responses: { ...responses, '401': { description: 'Unauthorized' } },
    schemes: ['https'],
    tags,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': kind,
    ...extra,
  });
  const ok = (schema: JsonSchema, ...codes: string[]): Operation['responses'] => {
    const names: Record<string, string> = { '200': 'OK', '201': 'Created', '202': 'Accepted' };
    return Object.fromEntries(codes.map((c) => [c, { description: names[c] ?? c, schema }]));
  };
  const writeParams = (body: JsonSchema): ParameterOrRef[] => [
    { name: 'body', in: 'body', required: true, schema: body },
    ref('dryRun'),
    ref('fieldManager'),
    ref('fieldValidation'),
  ];
  const patchParams: ParameterOrRef[] = [ref('body-patch'), ref('dryRun'), ref('fieldManager-patch'), ref('fieldValidation'), ref('force')];
  const at = (path: string, parameters: ParameterOrRef[]): PathItem => (paths[path] ??= { parameters });

  // Collection: list, create, deletecollection.
  if (verbs.has('list') || verbs.has('create') || verbs.has('deletecollection')) {
    const p = at(collection, [...scopeParams, ref('pretty')]);
    if (verbs.has('list') && listDef) {
      p.get = op('list', `list${id}${ns}${r.kind}`, `list or watch objects of kind ${r.kind}`, ok(schemaRef(listDef), '200'), {
        parameters: LIST_PARAMS.map(ref),
        produces: WATCH_PRODUCES,
      });
    }
    if (verbs.has('create')) {
      p.post = op('post', `create${id}${ns}${r.kind}`, `create ${article(r.kind)} ${r.kind}`, ok(obj, '200', '201', '202'), { parameters: writeParams(obj) });
    }
    if (verbs.has('deletecollection')) {
      const status = schemaRef('io.k8s.apimachinery.pkg.apis.meta.v1.Status');
      p.delete = op('deletecollection', `delete${id}Collection${ns}${r.kind}`, `delete collection of ${r.kind}`, ok(status, '200'), {
        parameters: [ref('body-delete'), ...DELETE_PARAMS.map(ref), ...LIST_PARAMS.filter((x) => x !== 'watch' && x !== 'allowWatchBookmarks').map(ref)],
      });
    }
  }
  // All namespaces: list and watch across namespaces.
  if (r.namespaced && verbs.has('list') && listDef) {
    const params = [...LIST_PARAMS.map(ref), ref('pretty')];
    at(`${prefix}/${r.plural}`, params).get = op('list', `list${id}${r.kind}ForAllNamespaces`, `list or watch objects of kind ${r.kind}`, ok(schemaRef(listDef), '200'), {
      produces: WATCH_PRODUCES,
    });
  }
  // One object.
  if (verbs.has('get') || verbs.has('update') || verbs.has('patch') || verbs.has('delete')) {
    const p = at(item, [nameParam, ...scopeParams, ref('pretty')]);
    if (verbs.has('get')) p.get = op('get', `read${id}${ns}${r.kind}`, `read the specified ${r.kind}`, ok(obj, '200'));
    if (verbs.has('update')) p.put = op('put', `replace${id}${ns}${r.kind}`, `replace the specified ${r.kind}`, ok(obj, '200', '201'), { parameters: writeParams(obj) });
    if (verbs.has('patch')) {
      p.patch = op('patch', `patch${id}${ns}${r.kind}`, `partially update the specified ${r.kind}`, ok(obj, '200', '201'), {
        consumes: PATCH_CONSUMES,
        parameters: patchParams,
      });
    }
    if (verbs.has('delete')) {
      const returned = ctx.deleteReturnsObject.has(`${r.group}/${r.version}/${r.kind}`) ? obj : schemaRef('io.k8s.apimachinery.pkg.apis.meta.v1.Status');
      p.delete = op('delete', `delete${id}${ns}${r.kind}`, `delete ${article(r.kind)} ${r.kind}`, ok(returned, '200', '202'), {
        parameters: [ref('body-delete'), ...DELETE_PARAMS.map(ref)],
      });
    }
  }
  // Watch paths (deprecated upstream, still published).
  if (verbs.has('watch')) {
    const watchEvent = schemaRef('io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent');
    const listParams = [...LIST_PARAMS.map(ref), ref('pretty')];
    const w = (action: string, operationId: string, description: string) => op(action, operationId, description, ok(watchEvent, '200'), { produces: WATCH_PRODUCES });
    at(`${prefix}/watch${scope}/${r.plural}`, [...scopeParams, ...listParams]).get = w('watchlist', `watch${id}${ns}${r.kind}List`, `watch individual changes to a list of ${r.kind}`);
    at(`${prefix}/watch${scope}/${r.plural}/{name}`, [nameParam, ...scopeParams, ...listParams]).get = w('watch', `watch${id}${ns}${r.kind}`, `watch changes to an object of kind ${r.kind}`);
    if (r.namespaced) {
      at(`${prefix}/watch/${r.plural}`, listParams).get = w('watchlist', `watch${id}${r.kind}ListForAllNamespaces`, `watch individual changes to a list of ${r.kind}`);
    }
  }
  for (const sub of r.subresources ?? []) addSubresourcePaths(paths, r, sub, { id, ns, item, nameParam, scopeParams, op, ok, writeParams, patchParams, obj, ctx });
}

interface SubresourceContext {
  id: string;
  ns: string;
  item: string;
  nameParam: Parameter;
  scopeParams: ParameterOrRef[];
  op: (
    action: string,
    operationId: string,
    description: string,
    responses: Operation['responses'],
    extra?: Partial<Operation>,
    kind?: GroupVersionKind,
  ) => Operation;
  ok: (schema: JsonSchema, ...codes: string[]) => Operation['responses'];
  writeParams: (body: JsonSchema) => ParameterOrRef[];
  patchParams: ParameterOrRef[];
  obj: JsonSchema;
  ctx: PathContext;
}

function addSubresourcePaths(paths: Record<string, PathItem>, r: ResourceType, sub: string, c: SubresourceContext): void {
  const Sub = capitalize(sub);
  const base = `${c.id}${c.ns}${r.kind}${Sub}`;
  const path = `${c.item}/${sub}`;
  const gvk: GroupVersionKind = { group: r.group, version: r.version, kind: r.kind };
  const shape = SUBRESOURCE_KINDS[sub];
  const kind = shape?.gvk ?? gvk;
  const schema = shape ? schemaRef(shape.definition) : c.obj;
  const string: JsonSchema = { type: 'string' };
  const at = (parameters: ParameterOrRef[], p = path): PathItem => (paths[p] ??= { parameters });

  switch (sub) {
    case 'binding':
    case 'eviction':
    case 'token': {
      const p = at([...c.scopeParams, c.nameParam, ref('dryRun'), ref('fieldManager'), ref('fieldValidation'), ref('pretty')]);
      p.post = c.op('post', `create${base}`, `create ${sub} of ${article(r.kind)} ${r.kind}`, c.ok(schema, '200', '201', '202'), {
        parameters: [{ name: 'body', in: 'body', required: true, schema }],
      }, kind);
      return;
    }
    case 'finalize': {
      const p = at([...c.scopeParams, c.nameParam, ref('dryRun'), ref('fieldManager'), ref('fieldValidation'), ref('pretty')]);
      p.put = c.op('put', `replace${base}`, `replace ${sub} of the specified ${r.kind}`, c.ok(schema, '200', '201'), {
        parameters: [{ name: 'body', in: 'body', required: true, schema }],
      }, kind);
      return;
    }
    case 'log': {
      const params = ['container-log', 'follow', 'insecureSkipTLSVerifyBackend', 'limitBytes', 'previous', 'sinceSeconds', 'stream', 'tailLines', 'timestamps'] as const;
      const p = at([c.nameParam, ...c.scopeParams, ref('pretty'), ...params.map(ref)]);
      p.get = c.op('get', `read${base}`, `read log of the specified ${r.kind}`, c.ok(string, '200'), { produces: ['text/plain', ...JSON_YAML] }, kind);
      return;
    }
    case 'exec':
    case 'attach':
    case 'portforward': {
      const p = at([c.nameParam, ...c.scopeParams, ...(CONNECT_PARAMS[sub] ?? []).map(ref)]);
      const options = { ...gvk, kind: `${r.kind}${sub === 'portforward' ? 'PortForward' : Sub}Options` };
      for (const m of ['get', 'post'] as const) {
        p[m] = c.op('connect', `connect${c.id}${capitalize(m)}${c.ns}${r.kind}${Sub}`, `connect ${m.toUpperCase()} requests to ${sub} of ${r.kind}`, c.ok(string, '200'), {
          produces: ['*/*'],
        }, options);
      }
      return;
    }
    case 'proxy': {
      const options = { ...gvk, kind: `${r.kind}ProxyOptions` };
      const plain = at([c.nameParam, ...c.scopeParams, ref('path-query')]);
      const withPath = at([c.nameParam, ...c.scopeParams, ref('path-path'), ref('path-query')], `${path}/{path}`);
      for (const m of PROXY_METHODS) {
        const M = capitalize(m);
        const description = `connect ${m.toUpperCase()} requests to proxy of ${r.kind}`;
        plain[m] = c.op('connect', `connect${c.id}${M}${c.ns}${r.kind}Proxy`, description, c.ok(string, '200'), { produces: ['*/*'] }, options);
        withPath[m] = c.op('connect', `connect${c.id}${M}${c.ns}${r.kind}ProxyWithPath`, description, c.ok(string, '200'), { produces: ['*/*'] }, options);
      }
      return;
    }
    default: {
      // status, scale, approval, ephemeralcontainers, resize: get, replace and patch the subresource.
      const p = at([c.nameParam, ...c.scopeParams, ref('pretty')]);
      p.get = c.op('get', `read${base}`, `read ${sub} of the specified ${r.kind}`, c.ok(schema, '200'), {}, kind);
      p.put = c.op('put', `replace${base}`, `replace ${sub} of the specified ${r.kind}`, c.ok(schema, '200', '201'), { parameters: c.writeParams(schema) }, kind);
      p.patch = c.op('patch', `patch${base}`, `partially update ${sub} of the specified ${r.kind}`, c.ok(schema, '200', '201'), {
        consumes: PATCH_CONSUMES,
        parameters: c.patchParams,
      }, kind);
    }
  }
}

function article(kind: string): string {
  return /^[AEIOU]/.test(kind) ? 'an' : 'a';
}

/** The discovery endpoints' paths (/api/, /apis/, /apis/<group>/, /<prefix>/, /version/), as upstream lists them. */
export function addDiscoveryPaths(paths: Record<string, PathItem>, resources: readonly ResourceType[]): void {
  const simple = (operationId: string, description: string, tag: string, definition: string): Operation => ({
    consumes: JSON_YAML,
    description,
    operationId,
    produces: JSON_YAML,
    responses: { '200': { description: 'OK', schema: schemaRef(definition) }, '401': { description: 'Unauthorized' } },
    schemes: ['https'],
    tags: [tag],
  });
  const meta = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
  if (resources.some((r) => r.group === '')) paths['/api/'] = { get: simple('getCoreAPIVersions', 'get available API versions', 'core', `${meta}APIVersions`) };
  paths['/apis/'] = { get: simple('getAPIVersions', 'get available API versions', 'apis', `${meta}APIGroupList`) };
  const seen = new Set<string>();
  for (const r of resources) {
    const gv = `${r.group}/${r.version}`;
    if (seen.has(gv)) continue;
    seen.add(gv);
    const id = groupIdentifier(r.group);
    if (r.group !== '' && !paths[`/apis/${r.group}/`]) {
      paths[`/apis/${r.group}/`] = { get: simple(`get${id}APIGroup`, 'get information of a group', groupVersionTag(r.group), `${meta}APIGroup`) };
    }
    paths[`${groupVersionPrefix(r.group, r.version)}/`] = {
      get: simple(`get${id}${capitalize(r.version)}APIResources`, 'get available resources', groupVersionTag(r.group, r.version), `${meta}APIResourceList`),
    };
  }
  paths['/version/'] = {
    get: { ...simple('getCodeVersion', 'get the code version', 'version', 'io.k8s.apimachinery.pkg.version.Info'), consumes: ['application/json'], produces: ['application/json'] },
  };
}
