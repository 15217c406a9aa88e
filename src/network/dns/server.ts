// k8ts's cluster DNS server: UDP and TCP listeners running each query through the Corefile's plugin
// chain (loadbalance → cache → kubernetes → loop → forward, CoreDNS's order), plus the health,
// ready and metrics HTTP endpoints. `startDns` runs it in-process; `k8ts dns` wraps it as a command.
import { createHash, randomInt } from 'node:crypto';
import * as dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import * as net from 'node:net';
import { networkInterfaces } from 'node:os';
import * as packet from 'dns-packet';
import type { DecodedPacket, Question } from 'dns-packet';
import type { Counter, Histogram } from 'prom-client';
import type { Namespace, Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { loadClientConfig, loadKubeconfigConfig, type ClientConfig } from '../../client/config.js';
import { SharedInformerFactory } from '../../client/informerFactory.js';
import { stripManagedFields, type ResourceEventHandler, type HandlerRegistration } from '../../client/informer.js';
import { RestClient } from '../../client/restClient.js';
import type { KubeObject } from '../../client/resourceClient.js';
import { logger, type Logger } from '../../util/log.js';
import { cacheKey, ResponseCache } from './cache.js';
import { ClusterIndex } from './clusterIndex.js';
import { CorefileError, defaultCorefile, fqdn, matchZone, parseCorefile, type DnsConfig, type ServerBlockConfig } from './corefile.js';
import { Forwarder, resolveUpstreams } from './forward.js';
import { KubernetesPlugin, type PluginResult, type UpstreamLookup } from './kubernetesPlugin.js';
import { DnsMetrics } from './metrics.js';
import { acceptQuery, BADVERS, ednsOf, encodeQuery, encodeReply, headerOnlyReply, RCODE, rcodeName, type EdnsInfo } from './wire.js';

export interface StartDnsOptions {
  /** Corefile text; default: the file at `corefilePath`, else `defaultCorefile(clusterDomain)`. */
  corefile?: string;
  /** A Corefile on disk (watched for changes when the `reload` plugin is on). */
  corefilePath?: string;
  clusterDomain?: string;
  /** The API client the kubernetes plugin watches through (default: its kubeconfig/endpoint, else `kubeconfig`, else in-cluster or ~/.kube/config). */
  client?: RestClient;
  kubeconfig?: string;
  /** Serve these objects instead of watching a cluster (benchmarks, tools); the index counts as synced. */
  objects?: { services?: Service[]; endpointSlices?: EndpointSlice[]; namespaces?: Namespace[]; pods?: Pod[] };
  /** Overrides the server blocks' port (like CoreDNS's -dns.port); 0 = a free port. */
  dnsPort?: number;
  /** Address(es) to listen on, overriding `bind` (default: every IPv4 address). */
  listen?: string[];
  /** Override the addresses of the health, ready and prometheus plugins (tests use 127.0.0.1:0). */
  healthAddress?: string;
  readyAddress?: string;
  metricsAddress?: string;
  /** Override the health plugin's lameduck wait on stop. */
  lameduckMs?: number;
  /** Per-attempt and total upstream timeouts (default 2 s and 5 s, as CoreDNS). */
  forwardTimeouts?: { attemptMs: number; totalMs: number };
  /** Also export Node process metrics (for a DNS process of its own). */
  processMetrics?: boolean;
  /** How long to wait for the informers before serving anyway (CoreDNS: 5 s). */
  startupSyncTimeoutMs?: number;
}

export interface RunningDns {
  /** The port DNS listens on (UDP and TCP). */
  port: number;
  addresses: string[];
  healthPort?: number;
  readyPort?: number;
  metricsPort?: number;
  metrics: DnsMetrics;
  index: ClusterIndex;
  /** The kubernetes plugin has synced (what /ready reports). */
  ready(): boolean;
  /** Re-reads the Corefile file now (as the reload plugin does periodically, and CoreDNS on SIGUSR1); true if a changed, valid one was applied. */
  reload(): boolean;
  /** Resolves when the server stops, with the reason if it stopped by itself (loop detected). */
  done: Promise<string | undefined>;
  stop(): Promise<void>;
}

/** One query on its way through a server block's plugins. */
interface Request {
  /** Lowercase, fully qualified. */
  name: string;
  /** As asked (owner names of answers keep the client's case). */
  qname: string;
  type: string;
  qclass: string;
  /** The client's raw message, forwarded upstream as is; absent for the server's own lookups. */
  raw?: Buffer;
  tcp: boolean;
  dnssecOk: boolean;
  checkingDisabled: boolean;
  depth: number;
  /** Set when an answer depended on something other than the index (upstream, cache). */
  volatile: boolean;
}

interface Block {
  cfg: ServerBlockConfig;
  kubernetes?: KubernetesPlugin;
  forward?: Forwarder;
  cache?: ResponseCache;
  loopName?: string;
  loopSeen: number;
}

/** A memoized reply: the index answers the same bytes until it changes. */
interface MemoEntry {
  generation: number;
  bytes?: Buffer;
  /** Replies that shuffle their records are re-encoded each time. */
  result?: PluginResult;
  reply?: Parameters<typeof encodeReply>[1];
  req: Counter.Internal;
  /** Set when the query had the DNSSEC OK bit (coredns_dns_do_requests_total). */
  doReq?: Counter.Internal;
  resp: Counter.Internal;
  dur: Histogram.Internal<string>;
  reqSize: Histogram.Internal<string>;
  respSize: Histogram.Internal<string>;
}

const MEMO_MAX = 20_000;
const TCP_IDLE_MS = 10_000;
const COMMON_TYPES = new Set(['A', 'AAAA', 'MX', 'SOA', 'CNAME', 'PTR', 'TXT', 'NS', 'SRV', 'DS', 'DNSKEY', 'RRSIG', 'NSEC', 'NSEC3', 'HTTPS', 'IXFR', 'AXFR', 'ANY']);

export class DnsServer {
  readonly metrics: DnsMetrics;
  readonly index = new ClusterIndex();
  private config: DnsConfig;
  private blocks: Block[] = [];
  private allZones: string[] = [];
  private readonly log: Logger = logger('dns');
  private readonly memo = new Map<string, MemoEntry>();
  private readonly udp: dgram.Socket[] = [];
  private readonly tcp: net.Server[] = [];
  private readonly tcpConns = new Set<net.Socket>();
  private readonly http: HttpServer[] = [];
  private informers: SharedInformerFactory | undefined;
  private readonly abort = new AbortController();
  private client: RestClient | undefined;
  private ownClient = false;
  private shuttingDown = false;
  private stopped = false;
  private reloadTimer: NodeJS.Timeout | undefined;
  private corefileHash = '';
  private serverLabel = 'dns://:53';
  private port = 0;
  private addresses: string[] = [];
  private ports: { health?: number; ready?: number; metrics?: number } = {};
  private doneResolve!: (reason: string | undefined) => void;
  readonly done = new Promise<string | undefined>((r) => (this.doneResolve = r));

  constructor(private readonly opts: StartDnsOptions) {
    this.metrics = new DnsMetrics({ processMetrics: opts.processMetrics ?? false });
    const text = opts.corefile ?? (opts.corefilePath ? readFileSync(opts.corefilePath, 'utf8') : defaultCorefile(opts.clusterDomain ?? 'cluster.local'));
    this.corefileHash = sha(text);
    this.config = parseCorefile(text);
  }

  async start(): Promise<RunningDns> {
    this.blocks = this.buildBlocks(this.config);
    await this.startIndex();
    const first = this.config.blocks[0]!;
    const port = this.opts.dnsPort ?? first.port;
    const listen = this.opts.listen ?? (first.bind.length > 0 ? first.bind : ['0.0.0.0']);
    this.port = await this.listen(listen, port);
    this.addresses = listen;
    // CoreDNS names a server by what it listens on: dns://:53, or dns://10.0.0.1:53 with bind.
    this.serverLabel = `dns://${listen.length === 1 && listen[0] !== '0.0.0.0' ? listen[0] : ''}:${this.port}`;
    for (const b of this.blocks) for (const z of b.cfg.zones) for (const name of this.pluginNames(b)) this.metrics.pluginEnabled.labels(this.serverLabel, z, '', name).set(1);
    await this.startHttp();
    this.startReload();
    void this.probeLoop();
    this.log.info({ port: this.port, addresses: listen, zones: this.allZones }, 'DNS server listening');
    return {
      port: this.port,
      addresses: this.addresses,
      ...(this.ports.health !== undefined ? { healthPort: this.ports.health } : {}),
      ...(this.ports.ready !== undefined ? { readyPort: this.ports.ready } : {}),
      ...(this.ports.metrics !== undefined ? { metricsPort: this.ports.metrics } : {}),
      metrics: this.metrics,
      index: this.index,
      ready: () => this.isReady(),
      reload: () => (this.opts.corefilePath ? this.checkReload(this.opts.corefilePath) : false),
      done: this.done,
      stop: () => this.stop(),
    };
  }

  private pluginNames(b: Block): string[] {
    const c = b.cfg;
    const names: string[] = [];
    if (c.errors) names.push('errors');
    if (c.log) names.push('log');
    if (c.loadbalance) names.push('loadbalance');
    if (c.cache) names.push('cache');
    if (c.kubernetes) names.push('kubernetes');
    if (c.loop) names.push('loop');
    if (c.forward) names.push('forward');
    return names;
  }

  private isReady(): boolean {
    return !this.shuttingDown && (!this.blocks.some((b) => b.kubernetes) || this.index.hasSynced());
  }

  private buildBlocks(config: DnsConfig): Block[] {
    const blocks: Block[] = [];
    for (const cfg of config.blocks) {
      const b: Block = { cfg, loopSeen: 0 };
      if (cfg.kubernetes) b.kubernetes = new KubernetesPlugin({ config: cfg.kubernetes, index: this.index, localIPs: () => this.localIPs() });
      if (cfg.forward) b.forward = new Forwarder(cfg.forward, resolveUpstreams(cfg.forward.to), this.metrics, this.opts.forwardTimeouts);
      if (cfg.cache) b.cache = new ResponseCache(cfg.cache);
      if (cfg.loop) b.loopName = `${randomInt(1e9)}.${randomInt(1e9)}.${cfg.zones[0] === '.' ? '' : cfg.zones[0]}`;
      blocks.push(b);
    }
    this.allZones = blocks.flatMap((b) => b.cfg.zones);
    return blocks;
  }

  private localIPs(): string[] {
    const specific = this.addresses.filter((a) => a !== '0.0.0.0' && a !== '::' && !a.startsWith('127.') && a !== '::1');
    if (specific.length > 0) return specific;
    const out: string[] = [];
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (!a.internal && a.family === 'IPv4') out.push(a.address);
    return out;
  }

  private async startIndex(): Promise<void> {
    const k = this.config.blocks.find((b) => b.kubernetes)?.kubernetes;
    if (!k) return;
    if (this.opts.objects) {
      for (const ns of this.opts.objects.namespaces ?? []) this.index.upsertNamespace(ns);
      for (const s of this.opts.objects.services ?? []) this.index.upsertService(s);
      for (const s of this.opts.objects.endpointSlices ?? []) this.index.upsertSlice(s);
      for (const p of this.opts.objects.pods ?? []) this.index.upsertPod(p);
      return;
    }
    this.client = this.opts.client;
    if (!this.client) {
      let cc: ClientConfig;
      if (this.opts.kubeconfig) cc = await loadClientConfig({ path: this.opts.kubeconfig });
      else if (k.kubeconfig) cc = await loadKubeconfigConfig({ path: k.kubeconfig.path, ...(k.kubeconfig.context ? { context: k.kubeconfig.context } : {}) });
      else if (k.endpoint) cc = { server: k.endpoint.replace(/\/+$/, '') };
      else cc = await loadClientConfig({});
      this.client = new RestClient(cc, { component: 'coredns' });
      this.ownClient = true;
    }
    const factory = new SharedInformerFactory(this.client, { transform: stripManagedFields });
    this.informers = factory;
    const registrations: HandlerRegistration[] = [];
    const bind = <T extends KubeObject>(group: string, plural: string, up: (o: T) => void, del: (o: T) => void) => {
      const handler: ResourceEventHandler<T> = { onAdd: (o) => up(o as T), onUpdate: (_old, o) => up(o as T), onDelete: (o) => del(o as T) };
      registrations.push(factory.informerFor<T>(group, 'v1', plural).addEventHandler(handler));
    };
    bind<Service>('', 'services', (o) => this.index.upsertService(o), (o) => this.index.deleteService(o));
    bind<EndpointSlice>(
      'discovery.k8s.io',
      'endpointslices',
      (o) => {
        this.index.upsertSlice(o);
        this.observeProgramming(o);
      },
      (o) => this.index.deleteSlice(o),
    );
    bind<Namespace>('', 'namespaces', (o) => this.index.upsertNamespace(o), (o) => this.index.deleteNamespace(o));
    // Pods are watched only when pod names are verified against them (CoreDNS does the same).
    if (this.config.blocks.some((b) => b.kubernetes?.podMode === 'verified')) {
      bind<Pod>('', 'pods', (o) => this.index.upsertPod(o), (o) => this.index.deletePod(o));
    }
    this.index.setSyncedCheck(() => registrations.every((r) => r.hasSynced()));
    factory.start(this.abort.signal);
    // Serve only once the cluster is known (or after a timeout, then answering SERVFAIL until synced).
    const deadline = Date.now() + (this.opts.startupSyncTimeoutMs ?? 5000);
    while (!this.index.hasSynced() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!this.index.hasSynced()) this.log.warn('starting server with unsynced Kubernetes API');
  }

  /**
   * How long an endpoint change took to reach DNS, from the trigger time the EndpointSlice
   * controller stamps on the slice; CoreDNS reports it for headless services with a selector.
   */
  private observeProgramming(slice: Readonly<EndpointSlice>): void {
    const trigger = slice.metadata?.annotations?.['endpoints.kubernetes.io/last-change-trigger-time'];
    const svcName = slice.metadata?.labels?.['kubernetes.io/service-name'];
    if (!trigger || !svcName) return;
    const svc = this.index.service(svcName, slice.metadata?.namespace ?? 'default');
    if (!svc?.headless) return;
    const ms = Date.now() - Date.parse(trigger);
    if (Number.isFinite(ms) && ms >= 0) this.metrics.kubernetesProgramming.labels('headless_with_selector').observe(ms / 1000);
  }

  private async listen(addresses: string[], port: number): Promise<number> {
    // UDP and TCP share the port; with port 0, retry until both get the same free one.
    for (let attempt = 0; ; attempt++) {
      let chosen = port;
      const udps: dgram.Socket[] = [];
      const tcps: net.Server[] = [];
      try {
        for (const addr of addresses) {
          const u = dgram.createSocket({ type: net.isIPv6(addr) ? 'udp6' : 'udp4', ...(net.isIPv6(addr) ? { ipv6Only: true } : {}) });
          udps.push(u);
          await new Promise<void>((resolve, reject) => {
            u.once('error', reject);
            u.bind(chosen, addr, () => {
              u.off('error', reject);
              resolve();
            });
          });
          chosen = u.address().port;
          const t = net.createServer((sock) => this.serveTcp(sock));
          tcps.push(t);
          await new Promise<void>((resolve, reject) => {
            t.once('error', reject);
            t.listen({ port: chosen, host: addr, ...(net.isIPv6(addr) ? { ipv6Only: true } : {}) }, () => {
              t.off('error', reject);
              resolve();
            });
          });
        }
      } catch (err) {
        for (const u of udps) u.close();
        for (const t of tcps) t.close();
        if (port === 0 && attempt < 10) continue;
        throw new Error(`listen udp/tcp ${addresses.join(',')}:${port}: ${(err as Error).message}`);
      }
      for (const u of udps) {
        u.on('message', (msg, rinfo) => this.onUdp(u, msg, rinfo));
        u.on('error', (err) => this.log.error({ err }, 'UDP socket error'));
        this.udp.push(u);
      }
      this.tcp.push(...tcps);
      return chosen;
    }
  }

  private onUdp(sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.handle(msg, false, rinfo.family === 'IPv6' ? 2 : 1, (out) => sock.send(out, rinfo.port, rinfo.address));
  }

  private serveTcp(sock: net.Socket): void {
    this.tcpConns.add(sock);
    sock.setNoDelay(true);
    sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
    let buf: Buffer = Buffer.alloc(0);
    const family = sock.remoteFamily === 'IPv6' ? 2 : 1;
    sock.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        this.handle(msg, true, family, (out) => {
          if (sock.destroyed) return;
          const framed = Buffer.allocUnsafe(out.length + 2);
          framed.writeUInt16BE(out.length, 0);
          out.copy(framed, 2);
          sock.write(framed);
        });
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => this.tcpConns.delete(sock));
  }

  /** Answers one message; never throws (a bug answers SERVFAIL and counts a panic). */
  handle(msg: Buffer, tcp: boolean, family: 1 | 2, reply: (out: Buffer) => void): void {
    const started = process.hrtime.bigint();
    const accept = acceptQuery(msg);
    if (accept.action === 'ignore') return;
    if (accept.action === 'reject') {
      reply(headerOnlyReply(msg, accept.rcode));
      this.metrics.responses.labels(this.serverLabel, '.', '', rcodeName(accept.rcode), '').inc();
      return;
    }
    const memoKey = (tcp ? 't' : 'u') + family + msg.toString('latin1', 2);
    const hit = this.memo.get(memoKey);
    if (hit && hit.generation === this.index.generation) {
      let out: Buffer;
      if (hit.bytes) {
        out = Buffer.allocUnsafe(hit.bytes.length);
        hit.bytes.copy(out);
        out.writeUInt16BE(msg.readUInt16BE(0), 0);
      } else {
        out = encodeReply(hit.result!, { ...hit.reply!, id: msg.readUInt16BE(0) });
      }
      reply(out);
      hit.req.inc();
      hit.doReq?.inc();
      hit.resp.inc();
      hit.reqSize.observe(msg.length);
      hit.respSize.observe(out.length);
      hit.dur.observe(Number(process.hrtime.bigint() - started) / 1e9);
      return;
    }
    this.handleSlow(msg, tcp, family, reply, started, memoKey).catch((err: unknown) => {
      this.metrics.panics.inc();
      this.log.error({ err }, 'query handling failed');
      try {
        reply(headerOnlyReply(msg, RCODE.SERVFAIL));
      } catch {
        // the client is gone
      }
    });
  }

  private async handleSlow(msg: Buffer, tcp: boolean, family: 1 | 2, reply: (out: Buffer) => void, started: bigint, memoKey: string): Promise<void> {
    let q: DecodedPacket;
    try {
      q = packet.decode(msg);
    } catch {
      reply(headerOnlyReply(msg, RCODE.FORMERR));
      this.metrics.responses.labels(this.serverLabel, '.', '', 'FORMERR', '').inc();
      return;
    }
    const question = q.questions?.[0];
    if (!question || typeof question.name !== 'string') {
      reply(headerOnlyReply(msg, RCODE.FORMERR));
      return;
    }
    const edns = ednsOf(q);
    const name = fqdn(question.name);
    const blockIdx = this.blockFor(name);
    const zone = blockIdx >= 0 ? (matchZone(this.blocks[blockIdx]!.cfg.zones, name) ?? '.') : '.';
    const type = question.type;
    const proto = tcp ? 'tcp' : 'udp';
    const typeLabel = COMMON_TYPES.has(type) ? type : 'other';
    const reqCounter = this.metrics.requests.labels(this.serverLabel, zone, '', proto, String(family), typeLabel);
    reqCounter.inc();
    const doReq = edns.dnssecOk ? this.metrics.doRequests.labels(this.serverLabel, zone, '') : undefined;
    doReq?.inc();
    const replyOpts = { id: q.id ?? 0, question, queryFlags: msg.readUInt16BE(2), edns, maxSize: tcp ? 65535 : edns.udpSize, shuffle: false };
    let result: PluginResult;
    let volatile = true;
    if (edns.present && edns.version > 0) {
      result = { rcode: 'NOERROR', answers: [], authorities: [], additionals: [], authoritative: false, plugin: '' };
      const out = encodeReply(result, { ...replyOpts, extendedRcode: BADVERS });
      reply(out);
      this.metrics.responses.labels(this.serverLabel, zone, '', 'BADVERS', '').inc();
      return;
    }
    if (blockIdx < 0) {
      result = { rcode: 'REFUSED', answers: [], authorities: [], additionals: [], authoritative: false, plugin: '' };
    } else {
      const block = this.blocks[blockIdx]!;
      const req: Request = { name, qname: question.name, type, qclass: question.class ?? 'IN', raw: msg, tcp, dnssecOk: edns.dnssecOk, checkingDisabled: q.flag_cd, depth: 0, volatile: false };
      result = await this.serve(block, req);
      volatile = req.volatile;
      replyOpts.shuffle = block.cfg.loadbalance;
      if (block.cfg.errors && result.rcode === 'SERVFAIL') this.log.error({ name, type, plugin: result.plugin, error: result.error }, `${result.rcode} ${name} ${type}: ${result.error ?? 'no answer'}`);
      if (block.cfg.log) this.log.info({ client: family, name, type, proto, rcode: result.rcode, plugin: result.plugin }, `"${type} IN ${name} ${proto}" ${result.rcode}`);
    }
    const out = encodeReply(result, replyOpts);
    reply(out);
    const resp = this.metrics.responses.labels(this.serverLabel, zone, '', result.rcode, result.plugin);
    resp.inc();
    const reqSize = this.metrics.requestSize.labels(this.serverLabel, zone, '', proto);
    const respSize = this.metrics.responseSize.labels(this.serverLabel, zone, '', proto);
    const dur = this.metrics.duration.labels(this.serverLabel, zone, '', typeLabel);
    reqSize.observe(msg.length);
    respSize.observe(out.length);
    dur.observe(Number(process.hrtime.bigint() - started) / 1e9);
    // Answers computed purely from the index are kept, as bytes, until the index changes.
    if (!volatile && result.plugin === 'kubernetes' && result.rcode !== 'SERVFAIL' && this.index.hasSynced()) {
      if (this.memo.size >= MEMO_MAX) this.memo.clear();
      const needsShuffle = replyOpts.shuffle && countAddresses(result) > 1;
      this.memo.set(memoKey, {
        generation: this.index.generation,
        ...(needsShuffle ? { result, reply: replyOpts } : { bytes: out }),
        req: reqCounter,
        ...(doReq ? { doReq } : {}),
        resp,
        dur,
        reqSize,
        respSize,
      });
    }
  }

  private blockFor(name: string): number {
    let best = -1;
    let bestLen = -1;
    this.blocks.forEach((b, i) => {
      const z = matchZone(b.cfg.zones, name);
      if (z && z.length > bestLen) {
        best = i;
        bestLen = z.length;
      }
    });
    return best;
  }

  /** The cache around the rest of the chain. */
  private async serve(block: Block, req: Request): Promise<PluginResult> {
    const cache = block.cache;
    if (!cache || !cache.covers(req.name)) return this.inner(block, req);
    const zonesLabel = cache.cfg.zones.join(' ');
    const key = cacheKey({ name: req.name, type: req.type, qclass: req.qclass, dnssecOk: req.dnssecOk, checkingDisabled: req.checkingDisabled });
    this.metrics.cacheRequests.labels(this.serverLabel, zonesLabel, '').inc();
    const hit = cache.get(key);
    if (hit) {
      req.volatile = true;
      this.metrics.cacheHits.labels(this.serverLabel, hit.type, zonesLabel, '').inc();
      return { ...hit.result, answers: renameOwners(hit.result.answers, req) };
    }
    this.metrics.cacheMisses.labels(this.serverLabel, zonesLabel, '').inc();
    const result = await this.inner(block, req);
    const put = cache.put(key, req.name, result);
    if (put.stored) {
      req.volatile = true;
      if (put.evicted) this.metrics.cacheEvictions.labels(this.serverLabel, put.stored, zonesLabel, '').inc();
      this.metrics.cacheEntries.labels(this.serverLabel, 'success', zonesLabel, '').set(cache.success.items.size);
      this.metrics.cacheEntries.labels(this.serverLabel, 'denial', zonesLabel, '').set(cache.denial.items.size);
      return put.reply ?? result;
    }
    return result;
  }

  /** kubernetes → loop → forward. */
  private async inner(block: Block, req: Request): Promise<PluginResult> {
    if (block.kubernetes) {
      const upstream: UpstreamLookup = async (name, type) => {
        req.volatile = true;
        return this.lookup(name, type, req.depth + 1);
      };
      const r = await block.kubernetes.resolve(req.qname, req.type, upstream);
      if (r !== 'next') return r;
    }
    if (block.loopName && req.name === block.loopName) {
      block.loopSeen++;
      if (block.loopSeen > 2) {
        const reason = `Loop (${this.addresses.join(',')}:${this.port}) detected for zone "${block.cfg.zones[0]}", see https://coredns.io/plugins/loop#troubleshooting. Query: "HINFO ${block.loopName}"`;
        this.log.fatal(reason);
        void this.stop(reason);
      }
    }
    if (block.forward && block.forward.handles(req.name)) {
      req.volatile = true;
      const raw = req.raw ?? encodeQuery(req.name, req.type);
      return block.forward.forward(raw, { name: req.name, type: req.type }, req.tcp);
    }
    return { rcode: 'SERVFAIL', answers: [], authorities: [], additionals: [], authoritative: false, plugin: '', error: 'no next plugin found' };
  }

  /** A lookup the server makes itself (ExternalName targets), through the block owning the name. */
  private async lookup(name: string, type: 'A' | 'AAAA', depth: number): Promise<{ answers: PluginResult['answers']; truncated: boolean } | undefined> {
    if (depth > 3) return undefined;
    const n = fqdn(name);
    const i = this.blockFor(n);
    if (i < 0) return undefined;
    const req: Request = { name: n, qname: name, type, qclass: 'IN', tcp: false, dnssecOk: false, checkingDisabled: false, depth, volatile: true };
    const r = await this.serve(this.blocks[i]!, req);
    if (r.rcode === 'SERVFAIL' || r.rcode === 'REFUSED') return undefined;
    return { answers: r.answers, truncated: r.truncated ?? false };
  }

  /** The loop plugin's probe: a random name sent to ourselves; seeing it come back thrice is a loop. */
  private async probeLoop(): Promise<void> {
    const block = this.blocks.find((b) => b.loopName && b.forward);
    if (!block || this.udp.length === 0) return;
    const target = this.addresses[0] === '0.0.0.0' || !this.addresses[0] ? '127.0.0.1' : this.addresses[0];
    const sock = dgram.createSocket(net.isIPv6(target) ? 'udp6' : 'udp4');
    sock.on('error', () => undefined);
    sock.unref();
    try {
      for (let i = 0; i < 3 && !this.stopped && block.loopSeen === 0; i++) {
        const answered = new Promise<boolean>((resolve) => {
          sock.once('message', () => resolve(true));
          setTimeout(() => resolve(false), 2000).unref();
        });
        sock.send(encodeQuery(block.loopName!, 'HINFO'), this.port, target);
        if (await answered) break;
      }
    } finally {
      sock.close();
    }
  }

  private async startHttp(): Promise<void> {
    const first = this.blocks[0]!.cfg;
    const health = this.opts.healthAddress ?? first.health?.address;
    const ready = this.opts.readyAddress ?? first.ready?.address;
    const prom = this.opts.metricsAddress ?? first.prometheus?.address;
    if (first.health || this.opts.healthAddress) {
      this.ports.health = await this.serveHttp(health ?? ':8080', (path, res) => {
        if (path !== '/health') return false;
        const t0 = process.hrtime.bigint();
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('OK');
        this.metrics.healthDuration.observe(Number(process.hrtime.bigint() - t0) / 1e9);
        return true;
      });
    }
    if (first.ready || this.opts.readyAddress) {
      this.ports.ready = await this.serveHttp(ready ?? ':8181', (path, res) => {
        if (path !== '/ready') return false;
        if (this.shuttingDown) res.writeHead(503).end('Shutting down');
        else if (this.isReady()) res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('OK');
        else res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('kubernetes');
        return true;
      });
    }
    if (first.prometheus || this.opts.metricsAddress) {
      this.ports.metrics = await this.serveHttp(prom ?? 'localhost:9153', (path, res) => {
        if (path !== '/metrics') return false;
        this.metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text),
          (err: unknown) => res.writeHead(500).end(String(err)),
        );
        return true;
      });
    }
  }

  private async serveHttp(address: string, route: (path: string, res: import('node:http').ServerResponse) => boolean): Promise<number> {
    const m = /^\[?(.*?)\]?:(\d+)$/.exec(address);
    const host = m?.[1] ?? '';
    const port = Number(m?.[2] ?? 0);
    const server = createHttpServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (!route(path, res)) res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`listen tcp ${address}: ${err.message}`)));
      server.listen(port, host === '' ? undefined : host, () => resolve());
    });
    this.http.push(server);
    return (server.address() as net.AddressInfo).port;
  }

  private startReload(): void {
    const reload = this.config.blocks[0]!.reload;
    const path = this.opts.corefilePath;
    if (!reload || !path || this.opts.corefile !== undefined) return;
    const schedule = () => {
      this.reloadTimer = setTimeout(() => {
        this.checkReload(path);
        if (!this.stopped) schedule();
      }, reload.intervalMs + randomInt(reload.jitterMs + 1));
      this.reloadTimer.unref();
    };
    schedule();
  }

  /** Re-reads the Corefile; a changed, valid one replaces the plugin chain (listeners stay). */
  checkReload(path: string): boolean {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      this.metrics.reloadFailed.inc();
      this.log.error({ err }, 'cannot read Corefile for reload');
      return false;
    }
    const h = sha(text);
    if (h === this.corefileHash) return false;
    try {
      const config = parseCorefile(text);
      if (config.blocks[0]!.port !== this.config.blocks[0]!.port && this.opts.dnsPort === undefined) this.log.warn('the Corefile changed the DNS port; restart to apply it');
      if (config.blocks.some((b) => b.kubernetes) && !this.blocks.some((b) => b.kubernetes) && !this.informers && !this.opts.objects) {
        throw new CorefileError('adding the kubernetes plugin needs a restart');
      }
      const blocks = this.buildBlocks(config);
      for (const b of this.blocks) b.forward?.close();
      this.blocks = blocks;
      this.config = config;
      this.corefileHash = h;
      this.memo.clear();
      this.log.info('Corefile reloaded');
      return true;
    } catch (err) {
      this.metrics.reloadFailed.inc();
      this.log.error({ err: (err as Error).message }, 'Corefile reload failed; keeping the running configuration');
      this.corefileHash = h;
      return false;
    }
  }

  async stop(reason?: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.shuttingDown = true;
    const lameduck = this.opts.lameduckMs ?? this.config.blocks[0]?.health?.lameduckMs ?? 0;
    if (lameduck > 0 && !reason) {
      this.log.info(`Going into lameduck mode for ${lameduck / 1000}s`);
      await new Promise((r) => setTimeout(r, lameduck));
    }
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.abort.abort();
    this.informers?.shutdown();
    if (this.ownClient) this.client?.close();
    for (const b of this.blocks) b.forward?.close();
    for (const u of this.udp) u.close();
    for (const c of this.tcpConns) c.destroy();
    await Promise.all(this.tcp.map((t) => new Promise((r) => t.close(r))));
    await Promise.all(
      this.http.map(
        (s) =>
          new Promise((r) => {
            s.close(r);
            s.closeAllConnections();
          }),
      ),
    );
    this.doneResolve(reason);
  }
}

function sha(text: string): string {
  return createHash('sha512').update(text).digest('hex');
}

function countAddresses(r: PluginResult): number {
  let n = 0;
  for (const a of r.answers) if (a.type === 'A' || a.type === 'AAAA' || a.type === 'MX') n++;
  let m = 0;
  for (const a of r.additionals) if (a.type === 'A' || a.type === 'AAAA' || a.type === 'MX') m++;
  return Math.max(n, m);
}

/** A cached answer asked in another letter case answers with the asker's spelling of the name. */
function renameOwners(answers: PluginResult['answers'], req: Request): PluginResult['answers'] {
  const asked = req.qname.replace(/\.$/, '');
  return answers.map((a) => (a.name.toLowerCase() === asked.toLowerCase() && a.name !== asked ? { ...a, name: asked } : a));
}

/** Starts a DNS server; see StartDnsOptions. Throws CorefileError for a bad configuration. */
export async function startDns(options: StartDnsOptions = {}): Promise<RunningDns> {
  const server = new DnsServer(options);
  try {
    return await server.start();
  } catch (err) {
    await server.stop('start failed');
    throw err;
  }
}

export type { EdnsInfo, Question };
