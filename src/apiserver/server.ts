// The API server's HTTP front: TLS, authentication, routing of Kubernetes REST paths to the
// handlers, discovery, OpenAPI, health, version and metrics. Everything else is in handlers.ts.

import { createServer as createHttpsServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import type { TLSSocket } from 'node:tls';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { stringify as toYaml } from 'yaml';
import { BUILTIN_RESOURCES, groupVersion, type ResourceType } from '../api/catalog.js';
import { fromLabelSelector, matches } from '../api/labels.js';
import { OPENAPI_V2_PROTOBUF_CONTENT_TYPE, openapiV2FormatFor } from '../api/openapi/protobuf/index.js';
import { isStorageError } from '../storage/errors.js';
import type { Store } from '../storage/store.js';
import { logger } from '../util/log.js';
import {
  AGGREGATED_DISCOVERY_V2,
  AGGREGATED_DISCOVERY_V2BETA1,
  aggregatedDiscovery,
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
  groupVersions,
  wantsAggregated,
} from './discovery.js';
import {
  bindPod,
  handleCreate,
  handleDelete,
  handleDeleteCollection,
  handleGet,
  handleList,
  handlePatch,
  handleUpdate,
  handleWatch,
  scaleOf,
  writeScale,
  type HandlerHooks,
  type Obj,
  type Reply,
  type ResourceRequest,
} from './handlers.js';
import { PATCH_TYPES, chooseResponse, decodeBody, mediaType, readBody, type PatchType, type ResponseForm } from './negotiate.js';
import { KubeletProxy, type KubeletClientConfig } from './proxy.js';
import { ResourceRegistry, nowTimestamp } from './registry.js';
import { ServiceAllocator, type ServiceNetworkOptions } from './services/allocator.js';
import { parseServiceNetwork } from './services/config.js';
import { DEFAULT_REPAIR_INTERVAL_MS, ServiceAllocationRepair, type RepairEvent } from './services/repair.js';
import { serviceStrategy } from './services/strategy.js';
import { StatusError, badRequest, internalError, methodNotAllowed, notAcceptable, notFound, serviceUnavailable, unauthorized, unsupportedMediaType } from './status.js';
import type { K8sObject } from './watchCache.js';

const log = logger('apiserver');

export const KUBERNETES_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0+k8ts', gitCommit: 'k8ts', gitTreeState: 'clean', buildDate: '2026-11-25T00:00:00Z', goVersion: 'go1.23 (node)', compiler: 'gc', platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}` };

export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export type Authenticate = (req: IncomingMessage) => Promise<UserInfo | undefined>;

/** Handlers for non-stored resources and subresources that live elsewhere (tokens, reviews). */
export interface ExtraHandlers {
  /** POST serviceaccounts/<name>/token. */
  tokenRequest?(req: ResourceRequest, body: Obj): Promise<Obj>;
  /** POST tokenreviews. */
  tokenReview?(body: Obj): Promise<Obj>;
  /** GET componentstatuses. */
  componentStatuses?(): Promise<Obj[]>;
}

export interface ApiServerOptions {
  store: Store;
  tls: { cert: string; key: string; ca: string };
  authenticate: Authenticate;
  resources?: readonly ResourceType[];
  hooks?: Partial<Omit<HandlerHooks, 'store' | 'registryFor' | 'immortalNamespaces'>>;
  extra?: ExtraHandlers;
  openapi?: {
    v2(): object;
    /** The same document as gnostic's openapi.v2.Document protobuf. */
    v2Protobuf(): Buffer;
    v3Index(): object;
    v3(path: string): object | undefined;
  };
  /** Health checks for /readyz (name → check). */
  readyChecks?: Record<string, () => Promise<void>>;
  /** How the API server reaches kubelets for pods/log, exec, attach, portforward and nodes/proxy. */
  kubeletClient?: KubeletClientConfig;
  /** Service ClusterIP and NodePort ranges (default 10.96.0.0/12 and 30000-32767). */
  serviceNetwork?: ServiceNetworkOptions;
}

const COMPONENT_STATUS_DEPRECATED = 'v1 ComponentStatus is deprecated in v1.19+';

// /cacerts: the cluster CA for joining agents, which pin it by the hash in their node token (as k3s).
const NON_RESOURCE_PUBLIC = new Set(['/healthz', '/livez', '/readyz', '/version', '/version/', '/cacerts']);

export class ApiServer {
  private readonly builtin: readonly ResourceType[];
  /** Resources defined by CustomResourceDefinitions, by group/version/plural. */
  private readonly custom = new Map<string, { type: ResourceType; registry: ResourceRegistry }>();
  private resourceList: readonly ResourceType[];
  private readonly registries = new Map<string, ResourceRegistry>();
  private readonly server: Server;
  private readonly hooks: HandlerHooks;
  private readonly metrics = new Registry();
  private readonly requestCounter: Counter<string>;
  private readonly requestDuration: Histogram<string>;
  private readonly inflight = new Set<AbortController>();
  private readonly kubelets: KubeletProxy;
  /** Connections handed over to kubelets (exec, attach, port-forward): ended with the server. */
  private readonly upgraded = new Set<Duplex>();
  private address = '';
  /** ClusterIP and NodePort allocation for Services. */
  readonly serviceAllocator: ServiceAllocator;
  private serviceRepair: ServiceAllocationRepair | undefined;

  constructor(private readonly opts: ApiServerOptions) {
    this.builtin = opts.resources ?? BUILTIN_RESOURCES;
    this.resourceList = this.builtin;
    for (const t of this.builtin) {
      if (t.storage === undefined && t.storageOf === undefined) continue;
      this.registries.set(`${t.group}/${t.plural}`, new ResourceRegistry(t, opts.store));
    }
    this.serviceAllocator = new ServiceAllocator(opts.store, opts.serviceNetwork ?? parseServiceNetwork());
    const services = this.registries.get('/services');
    if (services) services.strategy = serviceStrategy(this.serviceAllocator);
    this.hooks = {
      store: opts.store,
      registryFor: (group, plural) => this.registries.get(`${group}/${plural}`),
      immortalNamespaces: new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']),
      ...opts.hooks,
    };
    collectDefaultMetrics({ register: this.metrics, prefix: 'k8ts_' });
    this.requestCounter = new Counter({
      name: 'apiserver_request_total',
      help: 'Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.',
      labelNames: ['verb', 'dry_run', 'group', 'version', 'resource', 'subresource', 'scope', 'component', 'code'],
      registers: [this.metrics],
    });
    this.requestDuration = new Histogram({
      name: 'apiserver_request_duration_seconds',
      help: 'Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.',
      labelNames: ['verb', 'dry_run', 'group', 'version', 'resource', 'subresource', 'scope', 'component'],
      buckets: [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60],
      registers: [this.metrics],
    });
    this.server = createHttpsServer(
      { cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.ca, requestCert: true, rejectUnauthorized: false, keepAlive: true },
      (req, res) => void this.handle(req, res),
    );
    this.kubelets = new KubeletProxy({
      getPod: async (ns, name) => (await this.registries.get('/pods')!.get(ns, name)) as unknown as Pod,
      getNode: async (name) => (await this.registries.get('/nodes')!.get(undefined, name)) as unknown as Node,
      client: opts.kubeletClient ?? {},
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.handleUpgrade(req, socket, head));
    this.server.keepAliveTimeout = 90_000;
    this.server.headersTimeout = 60_000;
    this.server.requestTimeout = 0; // watches are long
  }

  /** Every served resource type: the built-in ones, then those of established CRDs. */
  get resources(): readonly ResourceType[] {
    return this.resourceList;
  }

  registryFor(group: string, plural: string): ResourceRegistry | undefined {
    return this.registries.get(`${group}/${plural}`);
  }

  /** The registry serving group/version/plural, built-in or custom. */
  registryForVersion(group: string, version: string, plural: string): ResourceRegistry | undefined {
    return this.custom.get(`${group}/${version}/${plural}`)?.registry ?? this.registries.get(`${group}/${plural}`);
  }

  /** Serves (or re-declares) a custom resource version; keeps its watch cache when nothing about storage changed. */
  setCustomResource(type: ResourceType): void {
    const key = `${type.group}/${type.version}/${type.plural}`;
    const existing = this.custom.get(key);
    if (existing && JSON.stringify(existing.type) === JSON.stringify(type)) return;
    if (existing && existing.type.storage === type.storage && existing.type.namespaced === type.namespaced) {
      existing.registry.type = type;
      existing.type = type;
    } else {
      existing?.registry.stop();
      this.custom.set(key, { type, registry: new ResourceRegistry(type, this.opts.store) });
    }
    this.resourceList = [...this.builtin, ...[...this.custom.values()].map((c) => c.type)];
  }

  removeCustomResource(group: string, version: string, plural: string): void {
    const key = `${group}/${version}/${plural}`;
    const existing = this.custom.get(key);
    if (!existing) return;
    existing.registry.stop();
    this.custom.delete(key);
    this.resourceList = [...this.builtin, ...[...this.custom.values()].map((c) => c.type)];
  }

  customResources(): ResourceType[] {
    return [...this.custom.values()].map((c) => c.type);
  }

  async listen(port: number, host: string): Promise<{ port: number; host: string }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address();
    const actual = typeof addr === 'object' && addr ? addr.port : port;
    this.address = `${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${actual}`;
    return { port: actual, host };
  }

  /**
   * The ClusterIP and NodePort repair loops, as upstream's apiserver runs them: one pass now
   * (before the caller creates the `kubernetes` Service), then every `intervalMs`.
   */
  async startServiceRepair(intervalMs = DEFAULT_REPAIR_INTERVAL_MS): Promise<ServiceAllocationRepair> {
    const services = this.registries.get('/services')!;
    const events = this.registries.get('/events')!;
    this.serviceRepair ??= new ServiceAllocationRepair(this.serviceAllocator, {
      listServices: async () => {
        const out: K8sObject[] = [];
        let cont: string | undefined;
        do {
          const page = await this.opts.store.list(services.prefix, { limit: 500, continueFrom: cont });
          for (const item of page.items) {
            const svc = JSON.parse(item.value.toString('utf8')) as K8sObject;
            svc.metadata.resourceVersion = String(item.modRevision);
            out.push(svc);
          }
          cont = page.continue;
        } while (cont);
        return out;
      },
      recordEvent: (e) => recordServiceEvent(events, e),
    });
    await this.serviceRepair.runOnce();
    this.serviceRepair.start(intervalMs);
    return this.serviceRepair;
  }

  async close(): Promise<void> {
    this.serviceRepair?.stop();
    for (const ac of this.inflight) ac.abort();
    for (const s of this.upgraded) s.destroy();
    for (const r of this.registries.values()) r.stop();
    for (const c of this.custom.values()) c.registry.stop();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Starts the watch caches of every stored resource (so the first watch does not wait). */
  async warm(): Promise<void> {
    await Promise.all([...this.registries.values()].map((r) => r.watchCache().ready));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const url = new URL(req.url ?? '/', 'https://k8ts');
    const labels = { verb: req.method ?? 'GET', dry_run: url.searchParams.has('dryRun') ? 'All' : '', group: '', version: '', resource: '', subresource: '', scope: '', component: 'apiserver' };
    const ac = new AbortController();
    this.inflight.add(ac);
    // Abort work for clients that went away (an abort per finished request would cost an exception each).
    res.on('close', () => {
      if (!res.writableFinished) ac.abort();
    });
    let code = 200;
    try {
      const user = await this.opts.authenticate(req);
      if (!user && !NON_RESOURCE_PUBLIC.has(url.pathname)) throw unauthorized();
      const reply = await this.route(req, res, url, user ?? { name: 'system:anonymous', groups: ['system:unauthenticated'] }, labels, ac.signal);
      if (reply) {
        code = reply.code;
        this.send(req, res, reply);
      } else code = res.statusCode;
    } catch (err) {
      const status = toStatusError(err);
      code = status.code;
      if (status.code >= 500) log.error({ err, path: url.pathname, method: req.method }, 'request failed');
      if (!res.headersSent) this.send(req, res, { code: status.code, body: status.toStatus() as Obj });
      else res.end();
    } finally {
      this.inflight.delete(ac);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const { ...base } = labels;
      this.requestCounter.inc({ ...base, code: String(code) });
      if (labels.verb !== 'WATCH') this.requestDuration.observe(base, seconds);
    }
  }

  private send(req: IncomingMessage, res: ServerResponse, reply: Reply & { raw?: string | Buffer; contentType?: string }): void {
    if (reply.warnings?.length) {
      res.setHeader('Warning', reply.warnings.map((w) => `299 - ${JSON.stringify(w)}`));
    }
    let yaml = false;
    try {
      yaml = reply.raw === undefined && chooseResponse(req.headers.accept).yaml;
    } catch {
      yaml = false;
    }
    const text = reply.raw ?? (yaml ? toYaml(reply.body) : JSON.stringify(reply.body));
    res.writeHead(reply.code, {
      'Content-Type': reply.contentType ?? (yaml ? 'application/yaml' : 'application/json'),
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-cache, private',
    });
    res.end(text);
  }

  private async route(req: IncomingMessage, res: ServerResponse, url: URL, user: UserInfo, labels: Record<string, string>, signal: AbortSignal): Promise<(Reply & { raw?: string | Buffer; contentType?: string }) | undefined> {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    switch (path) {
      case '/version':
        return { code: 200, body: KUBERNETES_VERSION };
      case '/cacerts':
        return { code: 200, body: {}, raw: this.opts.tls.ca, contentType: 'text/plain; charset=utf-8' };
      case '/healthz':
      case '/livez':
        return this.health(url, path.slice(1), {});
      case '/readyz':
        return this.health(url, 'readyz', this.opts.readyChecks ?? {});
      case '/metrics':
        return { code: 200, body: {}, raw: await this.metrics.metrics(), contentType: this.metrics.contentType };
      case '/api':
        return this.discovery(req, true);
      case '/apis':
        return this.discovery(req, false);
      case '/openapi/v2':
      case '/swagger-2.0.0.pb-v1': {
        if (!this.opts.openapi) throw notFound({ group: '', resource: '' }, path);
        // kubectl asks for gnostic's protobuf form (1.27 only for that); others take JSON.
        const format = path === '/swagger-2.0.0.pb-v1' ? 'protobuf' : openapiV2FormatFor(String(req.headers.accept ?? ''));
        if (!format) throw notAcceptable(['application/json', OPENAPI_V2_PROTOBUF_CONTENT_TYPE]);
        if (format === 'protobuf') {
          return { code: 200, body: {}, raw: this.opts.openapi.v2Protobuf(), contentType: OPENAPI_V2_PROTOBUF_CONTENT_TYPE };
        }
        return { code: 200, body: this.opts.openapi.v2() };
      }
      case '/openapi/v3':
        if (!this.opts.openapi) throw notFound({ group: '', resource: '' }, path);
        return { code: 200, body: this.opts.openapi.v3Index() };
      case '/':
        return { code: 200, body: { paths: this.rootPaths() } };
    }
    if (path.startsWith('/healthz/') || path.startsWith('/livez/') || path.startsWith('/readyz/')) {
      return { code: 200, body: {}, raw: 'ok', contentType: 'text/plain; charset=utf-8' };
    }
    if (path.startsWith('/openapi/v3/')) {
      const doc = this.opts.openapi?.v3(path.slice('/openapi/v3/'.length));
      if (!doc) throw notFound({ group: '', resource: '' }, path);
      return { code: 200, body: doc };
    }
    const parts = path.split('/').slice(1).map(decodeURIComponent);
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api') {
      if (parts.length === 2) {
        const list = apiResourceList(this.resources, '', parts[1]!);
        if (!list) throw notFound({ group: '', resource: '' }, path);
        return { code: 200, body: list };
      }
      group = '';
      version = parts[1]!;
      rest = parts.slice(2);
    } else if (parts[0] === 'apis') {
      if (parts.length === 2) {
        const versions = groupVersions(this.resources).filter((gv) => gv.group === parts[1]).map((gv) => gv.version);
        if (versions.length === 0) throw notFound({ group: '', resource: '' }, path);
        return { code: 200, body: apiGroup(parts[1]!, versions) };
      }
      if (parts.length === 3) {
        const list = apiResourceList(this.resources, parts[1]!, parts[2]!);
        if (!list) throw notFound({ group: '', resource: '' }, path);
        return { code: 200, body: list };
      }
      group = parts[1]!;
      version = parts[2]!;
      rest = parts.slice(3);
    } else {
      throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    }
    let watchPrefix = false;
    if (rest[0] === 'watch') {
      watchPrefix = true;
      rest = rest.slice(1);
    }
    let namespace: string | undefined;
    let resource: string;
    let name: string | undefined;
    let subresource: string | undefined;
    if (rest[0] === 'namespaces' && rest.length === 3 && group === '' && (rest[2] === 'status' || rest[2] === 'finalize')) {
      // A namespace's own subresources: /api/v1/namespaces/<name>/status and /finalize.
      resource = 'namespaces';
      name = rest[1];
      subresource = rest[2];
    } else if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      resource = rest[2]!;
      name = rest[3];
      subresource = rest[4];
      if (rest.length > 5) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    } else {
      resource = rest[0] ?? '';
      name = rest[1];
      subresource = rest[2];
      if (group === '' && resource === 'nodes' && name && subresource === 'proxy') {
        // nodes/<name>/proxy/<any path>: to the node's kubelet.
        const subpath = url.pathname.split('/').slice(6).join('/');
        await this.kubelets.nodeProxy(name, subpath, req, await readBody(req), res, signal);
        return undefined;
      }
      if (rest.length > 3) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const type = this.resources.find((t) => t.group === group && t.version === version && t.plural === resource);
    if (!type) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    if (namespace !== undefined && !type.namespaced) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    if (subresource && !(type.subresources ?? []).includes(subresource)) {
      throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const isWatch = watchPrefix || url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    Object.assign(labels, { group, version, resource, subresource: subresource ?? '', scope: name ? 'resource' : namespace ? 'namespace' : 'cluster' });
    const rr: ResourceRequest = {
      type,
      registry: this.registryForVersion(group, version, resource),
      namespace,
      name,
      subresource,
      query: url.searchParams,
      user,
      userAgent: String(req.headers['user-agent'] ?? ''),
    };
    const form = () => chooseResponse(req.headers.accept);
    switch (method) {
      case 'GET': {
        if (isWatch) {
          labels.verb = 'WATCH';
          if (subresource) throw methodNotAllowed();
          const f = form();
          await handleWatch(rr, res, f, this.hooks, signal);
          return undefined;
        }
        if (subresource === 'log' && group === '' && resource === 'pods') {
          await this.kubelets.podLog(namespace!, name!, url.searchParams, res, signal);
          return undefined;
        }
        if (subresource) return this.getSubresource(rr, form());
        if (!name) {
          labels.verb = 'LIST';
          if (type.kind === 'ComponentStatus') return { code: 200, body: this.present(rr, await this.componentStatusList(), form(), true), warnings: [COMPONENT_STATUS_DEPRECATED] };
          if (!rr.registry) throw methodNotAllowed();
          return { code: 200, body: this.presentList(rr, await handleList(rr), form()) };
        }
        if (type.kind === 'ComponentStatus') {
          const cs = (await this.componentStatusList()).items.find((c: Obj) => c.metadata.name === name);
          if (!cs) throw notFound({ group: '', resource: 'componentstatuses' }, name);
          return { code: 200, body: this.present(rr, cs, form(), false), warnings: [COMPONENT_STATUS_DEPRECATED] };
        }
        return { code: 200, body: this.present(rr, await handleGet(rr), form(), false) };
      }
      case 'POST': {
        const body = await readBody(req);
        if (name && subresource) return this.postSubresource(rr, body, req.headers['content-type']);
        if (name) throw methodNotAllowed();
        if (!type.verbs.includes('create')) throw methodNotAllowed();
        if (!rr.registry) return this.postVirtual(rr, body, req.headers['content-type']);
        const reply = await handleCreate(rr, body, req.headers['content-type'], this.hooks);
        return { ...reply, body: this.present(rr, reply.body as K8sObject, form(), false) };
      }
      case 'PUT': {
        const body = await readBody(req);
        if (!name) throw methodNotAllowed();
        if (subresource === 'scale') return { code: 200, body: await writeScale(rr, decodeBody(body, req.headers['content-type']) as Obj) };
        if (subresource && subresource !== 'status' && subresource !== 'finalize' && subresource !== 'approval') throw methodNotAllowed();
        const reply = await handleUpdate({ ...rr, subresource: subresource === 'status' || subresource === 'finalize' || subresource === 'approval' ? subresource : undefined }, body, req.headers['content-type'], this.hooks);
        return { ...reply, body: this.present(rr, reply.body as K8sObject, form(), false) };
      }
      case 'PATCH': {
        const body = await readBody(req);
        if (!name) throw methodNotAllowed();
        const ct = mediaType(req.headers['content-type']);
        // Custom resources have no patch-merge keys, so upstream refuses strategic merge for them.
        const accepted = type.custom ? PATCH_TYPES.filter((t) => t !== 'application/strategic-merge-patch+json') : [...PATCH_TYPES];
        if (!(accepted as readonly string[]).includes(ct)) throw unsupportedMediaType(ct, accepted);
        if (ct === 'application/apply-patch+yaml') labels.verb = 'APPLY';
        if (subresource === 'scale') {
          const current = scaleOf(rr, await handleGet(rr));
          const patched = await this.hooks.patch!({ ...type, group: 'autoscaling', version: 'v1', kind: 'Scale', plural: 'scale' }, current as K8sObject, body, ct as PatchType, rr);
          return { code: 200, body: await writeScale(rr, patched) };
        }
        if (subresource && subresource !== 'status' && subresource !== 'approval') throw methodNotAllowed();
        const reply = await handlePatch(rr, body, ct as PatchType, this.hooks);
        return { ...reply, body: this.present(rr, reply.body as K8sObject, form(), false) };
      }
      case 'DELETE': {
        const body = await readBody(req);
        if (subresource) throw methodNotAllowed();
        if (!name) {
          if (!type.verbs.includes('deletecollection')) throw methodNotAllowed();
          return handleDeleteCollection(rr, body, req.headers['content-type'], this.hooks);
        }
        if (!type.verbs.includes('delete')) throw methodNotAllowed();
        return handleDelete(rr, body, req.headers['content-type'], this.hooks);
      }
      default:
        throw methodNotAllowed();
    }
  }

  private health(url: URL, name: string, checks: Record<string, () => Promise<void>>): Promise<Reply & { raw: string; contentType: string }> {
    return (async () => {
      const lines: string[] = ['[+]ping ok', '[+]log ok', '[+]etcd ok'];
      let failed = false;
      try {
        await this.opts.store.currentRevision();
      } catch {
        lines[2] = '[-]etcd failed: reason withheld';
        failed = true;
      }
      for (const [check, fn] of Object.entries(checks)) {
        try {
          await fn();
          lines.push(`[+]${check} ok`);
        } catch {
          lines.push(`[-]${check} failed: reason withheld`);
          failed = true;
        }
      }
      const verbose = url.searchParams.has('verbose');
      const text = verbose ? `${lines.join('\n')}\n${name} check ${failed ? 'failed' : 'passed'}\n` : failed ? `${lines.filter((l) => l.startsWith('[-]')).join('\n')}\n${name} check failed\n` : 'ok';
      return { code: failed ? 500 : 200, body: {}, raw: text, contentType: 'text/plain; charset=utf-8' };
    })();
  }

  private discovery(req: IncomingMessage, core: boolean): Reply & { raw?: string; contentType?: string } {
    const aggregated = wantsAggregated(req.headers.accept);
    if (aggregated) {
      const body = aggregatedDiscovery(this.resources, core) as Obj;
      if (aggregated === 'v2beta1') body.apiVersion = 'apidiscovery.k8s.io/v2beta1';
      const raw = JSON.stringify(body);
      return { code: 200, body, raw, contentType: aggregated === 'v2' ? AGGREGATED_DISCOVERY_V2 : AGGREGATED_DISCOVERY_V2BETA1 };
    }
    return { code: 200, body: core ? apiVersions(this.address) : apiGroupList(this.resources) };
  }

  private rootPaths(): string[] {
    const paths = new Set(['/api', '/api/v1', '/apis', '/healthz', '/livez', '/readyz', '/metrics', '/openapi/v2', '/openapi/v3', '/swagger-2.0.0.pb-v1', '/version']);
    for (const gv of groupVersions(this.resources)) {
      if (gv.group === '') continue;
      paths.add(`/apis/${gv.group}`);
      paths.add(`/apis/${groupVersion(gv)}`);
    }
    return [...paths].sort();
  }

  /** An object in the form the client asked for: itself, a one-row Table, or its metadata. */
  private present(rr: ResourceRequest, obj: Obj, form: ResponseForm, isList: boolean): Obj {
    if (isList) return this.presentList(rr, obj, form);
    if (form.form === 'table' && this.hooks.table && obj.kind !== 'Status') {
      const table = this.hooks.table(rr.type, [obj as K8sObject], true);
      table.metadata = { resourceVersion: obj.metadata?.resourceVersion };
      return table;
    }
    if (form.form === 'partial' && obj.kind !== 'Status') return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
    return obj;
  }

  private presentList(rr: ResourceRequest, list: Obj, form: ResponseForm): Obj {
    if (form.form === 'table' && this.hooks.table) {
      const table = this.hooks.table(rr.type, list.items, true);
      table.metadata = list.metadata;
      return table;
    }
    if (form.form === 'partial') {
      return {
        kind: 'PartialObjectMetadataList',
        apiVersion: 'meta.k8s.io/v1',
        metadata: list.metadata,
        items: (list.items as Obj[]).map((o) => ({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata })),
      };
    }
    return list;
  }

  private async getSubresource(rr: ResourceRequest, form: ResponseForm): Promise<Reply> {
    switch (rr.subresource) {
      case 'status':
      case 'approval':
      case 'ephemeralcontainers':
        return { code: 200, body: this.present(rr, await handleGet(rr), form, false) };
      case 'scale':
        return { code: 200, body: scaleOf(rr, await handleGet(rr)) };
      case 'exec':
      case 'attach':
      case 'portforward':
        return upgradeRequired(rr);
      case 'log':
      case 'proxy':
        return noBackendYet(rr);
      default:
        throw methodNotAllowed();
    }
  }

  /**
   * HTTP upgrades (WebSocket, SPDY): pods/exec, pods/attach and pods/portforward are relayed to the
   * pod's kubelet; anything else is refused with a Status.
   */
  private async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => undefined);
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
    const url = new URL(req.url ?? '/', 'https://k8ts');
    try {
      const user = await this.opts.authenticate(req);
      if (!user) throw unauthorized();
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|attach|portforward)\/?$/.exec(url.pathname);
      if (!m) throw badRequest(`upgrade is not supported for ${url.pathname}`);
      const [, ns, name, kind] = m;
      await this.kubelets.upgrade(kind as 'exec' | 'attach' | 'portforward', decodeURIComponent(ns!), decodeURIComponent(name!), req, socket, head);
    } catch (err) {
      const status = toStatusError(err);
      if (status.code >= 500) log.error({ err, path: url.pathname }, 'upgrade failed');
      if (socket.destroyed) return;
      const body = JSON.stringify(status.toStatus());
      socket.end(`HTTP/1.1 ${status.code} ${status.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
  }

  private async postSubresource(rr: ResourceRequest, body: Buffer, contentType: string | undefined): Promise<Reply> {
    switch (rr.subresource) {
      case 'binding':
        return bindPod(rr, decodeBody(body, contentType) as Obj, this.hooks);
      case 'token': {
        if (!this.opts.extra?.tokenRequest) throw serviceUnavailable('token issuing is not configured');
        await handleGet(rr);
        return { code: 201, body: await this.opts.extra.tokenRequest(rr, (decodeBody(body, contentType) ?? {}) as Obj) };
      }
      case 'eviction':
        return this.evict(rr, decodeBody(body, contentType) as Obj);
      case 'exec':
      case 'attach':
      case 'portforward':
        return upgradeRequired(rr);
      case 'proxy':
        return noBackendYet(rr);
      default:
        throw methodNotAllowed();
    }
  }

  /** POST pods/<name>/eviction: deletes the pod unless a PodDisruptionBudget forbids it. */
  /**
   * pods/eviction as upstream: a pod covered by a PodDisruptionBudget is deleted only if the budget
   * (as its controller last computed it) allows a disruption, which the eviction then uses up by
   * recording the pod in `status.disruptedPods`; terminal, pending and terminating pods need no budget.
   */
  private async evict(rr: ResourceRequest, eviction: Obj): Promise<Reply> {
    const pods = this.registryFor('', 'pods')!;
    const pdbs = this.registryFor('policy', 'poddisruptionbudgets')!;
    const opts = eviction?.deleteOptions ?? {};
    const tooMany = (message: string) => new StatusError(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", { causes: [{ reason: 'DisruptionBudget', message }] });
    for (let attempt = 0; attempt < 5; attempt++) {
      const pod = await pods.get(rr.namespace, rr.name!);
      const phase = pod.status?.phase;
      const ignoresBudget = phase === 'Succeeded' || phase === 'Failed' || phase === 'Pending' || pod.metadata.deletionTimestamp !== undefined;
      if (!ignoresBudget) {
        const list = await pdbs.store.list(pdbs.listPrefix(rr.namespace));
        const covering = list.items
          .map((item) => JSON.parse(item.value.toString('utf8')) as Obj)
          .filter((pdb) => {
            const sel = fromLabelSelector(pdb.spec?.selector);
            return pdb.spec?.selector && sel.length > 0 && matches(sel, pod.metadata.labels);
          });
        if (covering.length > 1) throw new StatusError(500, 'InternalError', 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
        const pdb = covering[0];
        if (pdb) {
          const name = pdb.metadata.name as string;
          if ((pdb.status?.observedGeneration ?? 0) < (pdb.metadata.generation ?? 0)) throw tooMany(`The disruption budget ${name} is still being processed by the server.`);
          const allowed = pdb.status?.disruptionsAllowed ?? 0;
          if (allowed < 0) throw new StatusError(403, 'Forbidden', 'pdb disruptions allowed is negative');
          if (allowed === 0) throw tooMany(`The disruption budget ${name} needs ${pdb.status?.desiredHealthy ?? 0} healthy pods and has ${pdb.status?.currentHealthy ?? 0} currently`);
          const current = await pdbs.get(rr.namespace, name);
          const next = structuredClone(current);
          next.status = { ...(next.status ?? {}), disruptionsAllowed: allowed - 1, disruptedPods: { ...(next.status?.disruptedPods ?? {}), [rr.name!]: nowTimestamp() } };
          try {
            await pdbs.update(current, next, { subresource: 'status' });
          } catch (err) {
            if (err instanceof StatusError && err.reason === 'Conflict') continue;
            throw err;
          }
        }
      }
      await pods.delete(rr.namespace, rr.name!, { gracePeriodSeconds: opts.gracePeriodSeconds, preconditions: opts.preconditions });
      return { code: 201, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 } };
    }
    throw new StatusError(429, 'TooManyRequests', 'too many conflicts updating the disruption budget; retry', { retryAfterSeconds: 1 });
  }

  /** POST of resources that are not stored: reviews and bindings. */
  private async postVirtual(rr: ResourceRequest, body: Buffer, contentType: string | undefined): Promise<Reply> {
    const obj = decodeBody(body, contentType) as Obj;
    if (!obj || typeof obj !== 'object') throw badRequest('the body of the request must be a JSON object');
    const apiVersion = groupVersion(rr.type);
    const user = rr.user;
    switch (rr.type.kind) {
      case 'Binding':
        return bindPod(rr, obj, this.hooks);
      case 'SelfSubjectReview':
        return {
          code: 201,
          body: {
            kind: 'SelfSubjectReview',
            apiVersion,
            metadata: { creationTimestamp: null },
            status: { userInfo: { username: user.name, ...(user.uid ? { uid: user.uid } : {}), groups: user.groups, ...(user.extra ? { extra: user.extra } : {}) } },
          },
        };
      case 'TokenReview': {
        if (!this.opts.extra?.tokenReview) throw serviceUnavailable('token review is not configured');
        return { code: 201, body: await this.opts.extra.tokenReview(obj) };
      }
      case 'SelfSubjectAccessReview':
      case 'SubjectAccessReview':
      case 'LocalSubjectAccessReview':
        // Authorization is "authenticated = allowed" until RBAC lands.
        return { code: 201, body: { ...obj, apiVersion, kind: rr.type.kind, metadata: { creationTimestamp: null, ...(obj.metadata ?? {}) }, status: { allowed: true, reason: 'k8ts: every authenticated user is allowed (RBAC not enabled)' } } };
      case 'SelfSubjectRulesReview':
        return {
          code: 201,
          body: {
            ...obj,
            apiVersion,
            kind: rr.type.kind,
            metadata: { creationTimestamp: null },
            status: { resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }], incomplete: false },
          },
        };
      default:
        throw methodNotAllowed();
    }
  }

  private async componentStatusList(): Promise<Obj> {
    const items = (await this.opts.extra?.componentStatuses?.()) ?? [];
    return { kind: 'ComponentStatusList', apiVersion: 'v1', metadata: {}, items };
  }
}

/** exec, attach and port-forward are upgrades (WebSocket or SPDY); a plain request is refused as upstream. */
async function upgradeRequired(rr: ResourceRequest): Promise<never> {
  await handleGet(rr);
  throw badRequest('Upgrade request required');
}

/** pods/services proxy: 404 for a missing object, else 503 until a service proxy exists. */
async function noBackendYet(rr: ResourceRequest): Promise<never> {
  await handleGet(rr);
  throw serviceUnavailable(`${rr.subresource} of ${rr.type.plural}/${rr.name} needs a kubelet or service proxy, and none is running in this k8ts server yet`);
}

function toStatusError(err: unknown): StatusError {
  if (err instanceof StatusError) return err;
  if (isStorageError(err)) {
    switch (err.code) {
      case 'ValueTooLarge':
        return new StatusError(413, 'RequestEntityTooLarge', `Request entity too large: ${err.message}`);
      case 'TooOldRevision':
        return new StatusError(410, 'Expired', `too old resource version: ${err.message}`);
      case 'InvalidKey':
      case 'InvalidContinue':
        return badRequest(err.message);
      case 'Unavailable':
      case 'Closed':
      case 'Locked':
        return serviceUnavailable(`storage is unavailable: ${err.message}`);
      default:
        return internalError(err.message);
    }
  }
  return internalError((err as Error)?.message ?? String(err));
}

/** A core/v1 Warning event about a Service, as the repair controllers' recorders write them. */
async function recordServiceEvent(events: ResourceRegistry, e: RepairEvent): Promise<void> {
  const m = e.service.metadata;
  const now = nowTimestamp();
  const event: K8sObject = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${m.name}.${(BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6))).toString(16)}`, namespace: m.namespace },
    involvedObject: { kind: 'Service', apiVersion: 'v1', namespace: m.namespace, name: m.name, uid: m.uid, resourceVersion: m.resourceVersion },
    reason: e.reason,
    message: e.message,
    type: 'Warning',
    source: { component: e.component },
    reportingComponent: e.component,
    reportingInstance: '',
    action: e.action,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
  events.prepareForCreate(event);
  await events.create(event);
}
