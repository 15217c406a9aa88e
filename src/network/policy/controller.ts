// NetworkPolicy enforcement on one node (what Calico or kube-router's policy controller do): watch
// NetworkPolicies, Pods and Namespaces; on any change compute this node's whole ruleset and swap it
// into the kernel in one nftables transaction. A failed swap leaves the previous rules in force and
// is retried with back-off, counted in a metric and reported as an event on the Node.
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { runQueueWorkers } from '../../controllers/controller.js';
import { EventRecorder } from '../../client/events.js';
import { stripManagedFields, type SharedInformer } from '../../client/informer.js';
import { SharedInformerFactory } from '../../client/informerFactory.js';
import { ItemExponentialFailureRateLimiter } from '../../client/rateLimiter.js';
import type { RestClient } from '../../client/restClient.js';
import { RateLimitingQueue } from '../../client/workqueue.js';
import { logger } from '../../util/log.js';
import { policyFrom, policyNamespaceFrom, policyPodFrom, type PolicyPod, type PolicyState } from './model.js';
import { NftRunner, type NftRunnerOptions } from './nft.js';
import { buildNodeRuleset, NETPOL_TABLE, renderNftDelete, renderNftRuleset, rulesetCounts } from './ruleset.js';

export { netpolTableName } from './ruleset.js';

const log = logger('network-policy');
const SYNC_KEY = 'ruleset';

export interface NetworkPolicyControllerOptions {
  client: RestClient;
  /** Pods of this node are the ones guarded here. */
  nodeName: string;
  /** Shared informers (else the controller makes its own). */
  informers?: SharedInformerFactory;
  /** Where nft runs (netns) and which binary. */
  nft?: NftRunnerOptions;
  /** nftables table (inet family), default k8ts-netpol. */
  table?: string;
  /** Metrics go here (default: a registry of its own, see `registry`). */
  registry?: Registry;
  /** Events about failed syncs (default: a recorder of component `network-policy`). */
  recorder?: EventRecorder;
  /** The ruleset is re-applied this often even when unchanged, undoing edits by others (default 60 s; 0 = never). */
  resyncPeriodMs?: number;
  /** Back-off of failed syncs: from base, doubling, to max (default 500 ms → 30 s). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Set net.bridge.bridge-nf-call-iptables=1 at start (default true). */
  bridgeNetfilter?: boolean;
}

class NetpolMetrics {
  readonly syncDuration: Histogram;
  readonly syncFailures: Counter;
  readonly rules: Gauge<'kind'>;
  readonly lastSync: Gauge;

  constructor(registry: Registry) {
    this.syncDuration = new Histogram({
      name: 'k8ts_network_policy_sync_duration_seconds',
      help: 'Time to compute and apply the node NetworkPolicy ruleset',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    this.syncFailures = new Counter({ name: 'k8ts_network_policy_sync_failures_total', help: 'NetworkPolicy ruleset syncs that failed (retried with back-off)', registers: [registry] });
    this.rules = new Gauge({ name: 'k8ts_network_policy_ruleset_size', help: 'Size of the applied NetworkPolicy ruleset', labelNames: ['kind'], registers: [registry] });
    this.lastSync = new Gauge({ name: 'k8ts_network_policy_last_sync_timestamp_seconds', help: 'When the ruleset was last applied', registers: [registry] });
  }
}

export class NetworkPolicyController {
  readonly registry: Registry;
  readonly nft: NftRunner;
  readonly table: string;
  private readonly metrics: NetpolMetrics;
  private readonly informers: SharedInformerFactory;
  private readonly pods: SharedInformer<Pod>;
  private readonly namespaces: SharedInformer<Namespace>;
  private readonly policies: SharedInformer<NetworkPolicy>;
  private readonly queue: RateLimitingQueue<string>;
  private readonly recorder: EventRecorder;
  private lastApplied = '';
  private forceNext = false;
  private failing = false;
  private running: Promise<void> | undefined;
  /** Syncs that changed the kernel, for tests and logs. */
  applied = 0;

  constructor(private readonly o: NetworkPolicyControllerOptions) {
    this.registry = o.registry ?? new Registry();
    this.metrics = new NetpolMetrics(this.registry);
    this.nft = new NftRunner(o.nft ?? {});
    this.table = o.table ?? NETPOL_TABLE;
    this.informers = o.informers ?? new SharedInformerFactory(o.client, { transform: stripManagedFields });
    this.pods = this.informers.informerForKind<Pod>('Pod');
    this.namespaces = this.informers.informerForKind<Namespace>('Namespace');
    this.policies = this.informers.informerForKind<NetworkPolicy>('NetworkPolicy', 'networking.k8s.io');
    this.queue = new RateLimitingQueue<string>({ name: 'network-policy', rateLimiter: new ItemExponentialFailureRateLimiter(o.retryBaseMs ?? 500, o.retryMaxMs ?? 30_000) });
    this.recorder = o.recorder ?? new EventRecorder({ client: o.client, component: 'network-policy', host: o.nodeName });
    const kick = () => this.queue.add(SYNC_KEY);
    // Pod updates matter only when what policies see of the pod changes (labels, IPs, ports, phase, node).
    const podKick = (oldPod: Readonly<Pod> | undefined, pod: Readonly<Pod>) => {
      if (oldPod && podView(oldPod) === podView(pod)) return;
      kick();
    };
    this.pods.addEventHandler({ onAdd: (p) => podKick(undefined, p), onUpdate: podKick, onDelete: kick });
    this.namespaces.addEventHandler({ onAdd: kick, onUpdate: (a, b) => (JSON.stringify(a.metadata?.labels) !== JSON.stringify(b.metadata?.labels) ? kick() : undefined), onDelete: kick });
    this.policies.addEventHandler({ onAdd: kick, onUpdate: kick, onDelete: kick });
  }

  /** Prepares the node (bridge netfilter), starts the informers and the sync loop; resolves once running. */
  async start(signal: AbortSignal): Promise<void> {
    if (this.o.bridgeNetfilter ?? true) {
      try {
        await this.nft.enableBridgeNetfilter();
      } catch (err) {
        // Pods on other nodes and outside traffic are still policed; same-bridge traffic is not.
        log.error({ err: (err as Error).message }, 'bridged pod-to-pod traffic will bypass NetworkPolicy');
        this.recorder.event(this.nodeRef(), 'Warning', 'NetworkPolicyBridgeNetfilter', (err as Error).message);
      }
    }
    this.informers.start(signal);
    if (this.o.resyncPeriodMs !== 0) {
      const timer = setInterval(() => {
        this.forceNext = true;
        this.queue.add(SYNC_KEY);
      }, this.o.resyncPeriodMs ?? 60_000);
      timer.unref();
      signal.addEventListener('abort', () => clearInterval(timer), { once: true });
    }
    this.running = runQueueWorkers(
      {
        name: 'network-policy',
        queue: this.queue,
        sync: () => this.sync(signal),
        workers: 1,
        synced: [() => this.pods.hasSynced(), () => this.namespaces.hasSynced(), () => this.policies.hasSynced()],
        log,
      },
      signal,
    );
    this.queue.add(SYNC_KEY);
  }

  /** Waits for the sync loop to end (after the start signal aborted). */
  async stopped(): Promise<void> {
    await this.running;
  }

  /** Removes this node's table: policies stop being enforced. */
  async removeRules(): Promise<void> {
    await this.nft.apply(renderNftDelete(this.table));
    this.lastApplied = '';
  }

  /** The state policies see now, from the informer caches. */
  state(): PolicyState {
    return {
      pods: this.pods
        .list()
        .map((p) => policyPodFrom(p))
        .filter((p): p is PolicyPod => p !== undefined),
      namespaces: this.namespaces.list().map((n) => policyNamespaceFrom(n)),
      policies: this.policies.list().map((p) => policyFrom(p)),
    };
  }

  private nodeRef() {
    return { kind: 'Node', apiVersion: 'v1', name: this.o.nodeName, uid: this.o.nodeName };
  }

  /** Computes the ruleset and swaps it in when it changed (or a resync is due). Throws to be retried. */
  async sync(signal: AbortSignal): Promise<void> {
    const t0 = performance.now();
    const rs = buildNodeRuleset(this.state(), this.o.nodeName);
    const text = renderNftRuleset(rs, this.table);
    if (text === this.lastApplied && !this.forceNext) return;
    this.forceNext = false;
    try {
      await this.nft.apply(text, signal);
    } catch (err) {
      this.metrics.syncFailures.inc();
      this.failing = true;
      this.lastApplied = '';
      this.recorder.event(this.nodeRef(), 'Warning', 'NetworkPolicySyncFailed', `NetworkPolicy rules not updated, the previous ones stay in force: ${(err as Error).message}`);
      throw err;
    }
    const counts = rulesetCounts(rs);
    this.lastApplied = text;
    this.applied++;
    const seconds = (performance.now() - t0) / 1000;
    this.metrics.syncDuration.observe(seconds);
    this.metrics.lastSync.set(Date.now() / 1000);
    for (const [kind, n] of Object.entries(counts)) this.metrics.rules.set({ kind }, n);
    if (this.failing) {
      this.failing = false;
      this.recorder.event(this.nodeRef(), 'Normal', 'NetworkPolicySynced', 'NetworkPolicy rules are in force again');
    }
    log.debug({ ...counts, ms: Math.round(seconds * 1000) }, 'network policy rules applied');
  }
}

/** What of a pod policies depend on, as a comparable string. */
function podView(pod: Readonly<Pod>): string {
  const p = policyPodFrom(pod);
  return p ? JSON.stringify([p.labels, p.ips, p.namedPorts, p.nodeName, p.namespace]) : '';
}
