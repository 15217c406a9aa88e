// kube-proxy as a component (upstream cmd/kube-proxy/app + the proxier's sync loop): informers on
// Services, EndpointSlices and this Node feed the change tracker; a bounded-frequency runner syncs
// the chosen backend; health, metrics, events and conntrack cleanup hang off each sync.
import { networkInterfaces } from 'node:os';
import type { Registry } from 'prom-client';
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { EventRecorder } from '../../client/events.js';
import { SharedInformerFactory } from '../../client/informerFactory.js';
import type { RestClient } from '../../client/restClient.js';
import { logger, type Logger } from '../../util/log.js';
import { cleanupAllModes, createBackend } from './backends.js';
import type { IptablesVariant } from './iptables/proxier.js';
import { emptyStaleUDP, mergeStaleUDP, ProxyChangeTracker, type StaleUDP } from './changeTracker.js';
import { syncSettings, type KubeProxyConfiguration } from './config.js';
import { cleanStaleUDPFlows } from './conntrack.js';
import { commandRunner, type CommandRunner } from './exec.js';
import { ProxyHealth, startHealthzServer, startMetricsServer, type RunningHttpServer } from './healthz.js';
import { ProxyMetrics } from './metrics.js';
import { cidrContains } from './iptables/rules.js';
import { ipFamilyOf } from './serviceModel.js';
import { SyncRunner } from './syncRunner.js';
import type { IPFamily, ProxierBackend, ProxyMode, ProxyState } from './types.js';

/** Services and slices that name another proxy, and headless services' slices, are not ours (upstream's informer selector). */
export const PROXY_LABEL_SELECTOR = '!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless';

/** Upstream's FullSyncPeriod: between full syncs, even periodic syncs only rewrite what changed. */
export const FULL_SYNC_PERIOD_MS = 3_600_000;

/** The event reason when a rule sync fails. */
export const SYNC_FAILED_REASON = 'FailedToSyncProxyRules';

export interface StartProxyOptions {
  client: RestClient;
  config: KubeProxyConfiguration;
  /** This node's name (hostnameOverride, else the host name). */
  nodeName: string;
  /** Runs the rule tools; default: on this host. Tests and benchmarks point it into a network namespace. */
  exec?: CommandRunner;
  /** The addresses NodePorts answer on, overriding nodePortAddresses and the Node's addresses. */
  nodeIPs?: string[];
  /** IP families to proxy (default IPv4). */
  families?: IPFamily[];
  /** Serve /healthz and /metrics on the configured addresses (default true). */
  serve?: boolean;
  /** Remove the other modes' rules at start, as upstream does (default true). */
  cleanupOtherModes?: boolean;
  /** More registries served at /metrics (e.g. process metrics). */
  extraRegistries?: Registry[];
  /**
   * How often a sync rewrites every rule instead of only the changed services' chains (upstream's
   * FullSyncPeriod, 1 hour). Periodic syncs every syncPeriod in between are partial.
   */
  fullSyncPeriodMs?: number;
  /** iptables mode: which iptables tools to run (default the system's `iptables`). */
  iptablesVariant?: IptablesVariant;
  /** First retry delay after a failed sync (default 1 s, doubling up to syncPeriod). */
  retryBaseMs?: number;
  log?: Logger;
}

export interface RunningProxy {
  mode: ProxyMode;
  metrics: ProxyMetrics;
  health: ProxyHealth;
  healthzPort?: number;
  metricsPort?: number;
  /** Resolves after the first successful sync of every family. */
  firstSync: Promise<void>;
  /** Requests a sync now (bounded by minSyncPeriod). */
  requestSync(): void;
  stop(): Promise<void>;
}

interface FamilyProxier {
  family: IPFamily;
  tracker: ProxyChangeTracker;
  backend: ProxierBackend;
  runner: SyncRunner;
  needFullSync: boolean;
  lastFullSync: number;
  pendingStale: StaleUDP;
  pendingTriggerTimes: number[];
  pendingServices: Set<string>;
  pendingEndpoints: Set<string>;
}

export async function startProxy(o: StartProxyOptions): Promise<RunningProxy> {
  const log = o.log ?? logger('kube-proxy');
  const cfg = o.config;
  const mode = cfg.mode;
  const sync = syncSettings(cfg);
  const fullSyncPeriodMs = o.fullSyncPeriodMs ?? FULL_SYNC_PERIOD_MS;
  const exec = o.exec ?? commandRunner();
  const metrics = new ProxyMetrics();
  const health = new ProxyHealth(2 * sync.syncPeriodMs);
  const recorder = new EventRecorder({ client: o.client, component: 'kube-proxy', host: o.nodeName });
  const abort = new AbortController();
  const factory = new SharedInformerFactory(o.client);
  const services = factory.informerFor<Service>('', 'v1', 'services', { labelSelector: PROXY_LABEL_SELECTOR });
  const slices = factory.informerFor<EndpointSlice>('discovery.k8s.io', 'v1', 'endpointslices', { labelSelector: PROXY_LABEL_SELECTOR });
  const nodes = factory.informerFor<Node>('', 'v1', 'nodes', { fieldSelector: `metadata.name=${o.nodeName}` });
  const families = o.families ?? ['IPv4'];
  const nodeRef = () => {
    const n = nodes.get(undefined, o.nodeName);
    return { kind: 'Node', apiVersion: 'v1', name: o.nodeName, ...(n?.metadata?.uid ? { uid: n.metadata.uid } : {}) };
  };

  const proxiers: FamilyProxier[] = [];
  for (const family of families) {
    const ctx = { family, exec, metrics, log: log.child({ ipFamily: family, mode }), ipvsScheduler: cfg.ipvs.scheduler, ...(o.iptablesVariant ? { iptablesVariant: o.iptablesVariant } : {}) };
    if (o.cleanupOtherModes ?? true) {
      const errs = await cleanupAllModes(ctx, mode);
      for (const e of errs) log.warn({ err: e }, 'could not remove the rules of another proxy mode');
    }
    const backend = await createBackend(mode, ctx);
    const p: FamilyProxier = {
      family,
      tracker: new ProxyChangeTracker(family, o.nodeName),
      backend,
      runner: undefined as unknown as SyncRunner,
      needFullSync: true,
      lastFullSync: 0,
      pendingStale: emptyStaleUDP(),
      pendingTriggerTimes: [],
      pendingServices: new Set(),
      pendingEndpoints: new Set(),
    };
    p.runner = new SyncRunner(() => syncFamily(p), {
      minIntervalMs: sync.minSyncPeriodMs,
      maxIntervalMs: sync.syncPeriodMs,
      retryBaseMs: o.retryBaseMs ?? 1000,
      retryMaxMs: sync.syncPeriodMs,
      onError: (err, n, retryIn) => {
        const message = err instanceof Error ? err.message : String(err);
        metrics.syncFailures.inc({ ip_family: family, mode });
        log.error({ err: message, consecutiveFailures: n, retryInMs: retryIn, ipFamily: family }, 'failed to sync proxy rules; the previous rules stay in force');
        recorder.event(nodeRef(), 'Warning', SYNC_FAILED_REASON, `Failed to sync ${mode} proxy rules (${family}), retrying in ${Math.round(retryIn / 1000)}s: ${message.slice(0, 900)}`);
      },
    });
    proxiers.push(p);
  }

  let firstSyncResolve!: () => void;
  const firstSync = new Promise<void>((r) => (firstSyncResolve = r));
  const syncedFamilies = new Set<IPFamily>();

  /** Addresses NodePorts answer on, and whether they answer on every local address. */
  const nodePortTargets = (family: IPFamily): { ips: string[]; all: boolean } => {
    if (o.nodeIPs) return { ips: o.nodeIPs.filter((ip) => ipFamilyOf(ip) === family), all: false };
    const node = nodes.get(undefined, o.nodeName);
    const nodeAddrs = (node?.status?.addresses ?? []).filter((a) => (a.type === 'InternalIP' || a.type === 'ExternalIP') && ipFamilyOf(a.address) === family).map((a) => a.address);
    if (cfg.nodePortAddresses.length === 0) return { ips: nodeAddrs, all: true };
    const ips = new Set<string>();
    if (cfg.nodePortAddresses.includes('primary')) for (const a of nodeAddrs) ips.add(a);
    const cidrs = cfg.nodePortAddresses.filter((c) => c !== 'primary');
    for (const addrs of Object.values(networkInterfaces())) {
      for (const a of addrs ?? []) if (cidrs.some((c) => cidrContains(c, a.address))) ips.add(a.address);
    }
    return { ips: [...ips].filter((ip) => ipFamilyOf(ip) === family), all: false };
  };

  const clusterCIDRs = (family: IPFamily): string[] => {
    if (cfg.detectLocalMode === 'NodeCIDR') {
      const node = nodes.get(undefined, o.nodeName);
      return (node?.spec?.podCIDRs ?? (node?.spec?.podCIDR ? [node.spec.podCIDR] : [])).filter((c) => ipFamilyOf(c.split('/')[0]!) === family);
    }
    const list = cfg.detectLocal.clusterCIDRs.length ? cfg.detectLocal.clusterCIDRs : cfg.clusterCIDR ? cfg.clusterCIDR.split(',').map((c) => c.trim()) : [];
    return list.filter((c) => ipFamilyOf(c.split('/')[0]!) === family);
  };

  async function syncFamily(p: FamilyProxier): Promise<void> {
    const start = performance.now();
    const upd = p.tracker.update();
    for (const k of upd.services) p.pendingServices.add(k);
    for (const k of upd.endpoints) p.pendingEndpoints.add(k);
    p.pendingTriggerTimes.push(...upd.triggerTimes);
    mergeStaleUDP(p.pendingStale, upd.staleUDP);
    metrics.serviceChangesPending.set({ ip_family: p.family }, 0);
    metrics.endpointChangesPending.set({ ip_family: p.family }, 0);
    const full = p.needFullSync || Date.now() - p.lastFullSync >= fullSyncPeriodMs;
    const np = nodePortTargets(p.family);
    const state: ProxyState = {
      family: p.family,
      services: p.tracker.services,
      endpoints: p.tracker.endpoints,
      nodeName: o.nodeName,
      nodeIPs: np.ips,
      nodePortsOnAllLocalAddresses: np.all,
      clusterCIDRs: clusterCIDRs(p.family),
      masqueradeAll: sync.masqueradeAll,
      masqueradeBit: sync.masqueradeBit,
      localhostNodePorts: mode === 'iptables' && cfg.iptables.localhostNodePorts,
    };
    let result;
    try {
      result = await p.backend.sync(state, { full, services: p.pendingServices, endpoints: p.pendingEndpoints }, abort.signal);
    } catch (err) {
      // The changes already folded in are lost to a partial sync: the next one rewrites everything.
      p.needFullSync = true;
      throw err;
    }
    const seconds = (performance.now() - start) / 1000;
    const family = { ip_family: p.family };
    metrics.syncDuration.observe(family, seconds);
    (full ? metrics.syncFullDuration : metrics.syncPartialDuration).observe(family, seconds);
    metrics.lastTimestamp.set(family, Date.now() / 1000);
    if (full) {
      p.needFullSync = false;
      p.lastFullSync = Date.now();
    }
    p.pendingServices = new Set();
    p.pendingEndpoints = new Set();
    const now = Date.now();
    for (const t of p.pendingTriggerTimes) metrics.networkProgramming.observe(family, Math.max(0, now - t) / 1000);
    p.pendingTriggerTimes = [];
    health.updated(p.family);
    log.debug({ ipFamily: p.family, full, seconds, rulesWritten: result.rulesWritten, rulesTotal: result.rulesTotal }, 'synced proxy rules');
    if (!syncedFamilies.has(p.family)) {
      syncedFamilies.add(p.family);
      if (syncedFamilies.size === proxiers.length) firstSyncResolve();
    }
    const stale = p.pendingStale;
    mergeStaleUDP(stale, result.staleUDP);
    p.pendingStale = emptyStaleUDP();
    if (stale.serviceIPs.length || stale.nodePorts.length || stale.endpoints.length) {
      const errors = await cleanStaleUDPFlows(exec, stale, p.family, log);
      if (errors.length) {
        metrics.conntrackCleanupFailures.inc(family, errors.length);
        log.warn({ errors }, 'failed to delete some stale UDP conntrack entries');
      }
    }
  }

  const forFamily = (obj: unknown, fn: (p: FamilyProxier) => boolean) => {
    for (const p of proxiers) {
      if (fn(p)) {
        const pending = p.tracker.pending();
        metrics.serviceChangesPending.set({ ip_family: p.family }, pending.services);
        metrics.endpointChangesPending.set({ ip_family: p.family }, pending.endpoints);
        metrics.lastQueuedTimestamp.set({ ip_family: p.family }, Date.now() / 1000);
        health.queued(p.family);
        p.runner.run();
      }
    }
    return obj;
  };
  const serviceChanged = (svc: Readonly<Service>, deleted: boolean) =>
    forFamily(svc, (p) => {
      const changed = p.tracker.onService(svc, deleted);
      if (changed) metrics.serviceChangesTotal.inc({ ip_family: p.family });
      return changed;
    });
  const sliceChanged = (s: Readonly<EndpointSlice>, deleted: boolean) =>
    forFamily(s, (p) => {
      const changed = p.tracker.onEndpointSlice(s, deleted);
      if (changed) metrics.endpointChangesTotal.inc({ ip_family: p.family });
      return changed;
    });
  services.addEventHandler({ onAdd: (s) => serviceChanged(s, false), onUpdate: (_, s) => serviceChanged(s, false), onDelete: (s) => serviceChanged(s, true) });
  slices.addEventHandler({ onAdd: (s) => sliceChanged(s, false), onUpdate: (_, s) => sliceChanged(s, false), onDelete: (s) => sliceChanged(s, true) });
  let nodeFingerprint = '';
  const nodeChanged = (n: Readonly<Node> | undefined) => {
    // A node being deleted tells load balancers (via /healthz) to stop sending here.
    health.nodeEligible = !n?.metadata?.deletionTimestamp && !(n?.spec?.taints ?? []).some((t) => t.key === 'ToBeDeletedByClusterAutoscaler');
    // Node addresses and podCIDRs feed NodePort and local-traffic rules: a full resync picks up a
    // change of them (and only of them; status heartbeats must not cost full syncs).
    const fp = JSON.stringify([n?.status?.addresses ?? [], n?.spec?.podCIDRs ?? n?.spec?.podCIDR ?? null]);
    if (fp === nodeFingerprint) return;
    nodeFingerprint = fp;
    for (const p of proxiers) {
      p.needFullSync = true;
      p.runner.run();
    }
  };
  nodes.addEventHandler({ onAdd: (n) => nodeChanged(n), onUpdate: (_, n) => nodeChanged(n), onDelete: () => nodeChanged(undefined) });

  let healthz: RunningHttpServer | undefined;
  let metricsServer: RunningHttpServer | undefined;
  if (o.serve ?? true) {
    healthz = await startHealthzServer(cfg.healthzBindAddress, health, metrics);
    metricsServer = await startMetricsServer(cfg.metricsBindAddress, { registries: [metrics.registry, ...(o.extraRegistries ?? [])], mode, configz: () => cfg });
  }
  for (const p of proxiers) health.queued(p.family);
  factory.start(abort.signal);
  recorder.event(nodeRef(), 'Normal', 'Starting', 'Starting kube-proxy.');
  // Rules wait for the first complete list of Services and EndpointSlices, so no service is ever
  // programmed without its endpoints (upstream isInitialized).
  void factory.waitForCacheSync(abort.signal).then((ok) => {
    if (!ok || abort.signal.aborted) return;
    log.info({ mode, families, node: o.nodeName }, 'caches synced; starting proxy rule syncs');
    for (const p of proxiers) p.runner.start();
  });

  return {
    mode,
    metrics,
    health,
    ...(healthz ? { healthzPort: healthz.port } : {}),
    ...(metricsServer ? { metricsPort: metricsServer.port } : {}),
    firstSync,
    requestSync: () => {
      for (const p of proxiers) p.runner.run();
    },
    async stop() {
      abort.abort(new Error('kube-proxy stopped'));
      await Promise.all(proxiers.map((p) => p.runner.stop()));
      // Events still queued get a moment to be written, not the recorder's full retry budget.
      await Promise.race([recorder.flush().catch(() => undefined), new Promise((r) => setTimeout(r, 2000).unref())]);
      recorder.shutdown();
      await healthz?.close();
      await metricsServer?.close();
    },
  };
}
