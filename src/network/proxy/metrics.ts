// kube-proxy's Prometheus metrics, with upstream's names, labels and buckets (pkg/proxy/metrics).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Upstream's sync-duration buckets: 1 ms doubling 15 times (to ~16 s). */
const SYNC_BUCKETS = Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i);
/** Network programming latency buckets: 0.25 s … 5 s in quarter seconds, then 6 … 30 s, then 35 … 300 s (upstream's). */
const PROGRAMMING_BUCKETS = [
  ...Array.from({ length: 20 }, (_, i) => 0.25 * (i + 1)),
  ...Array.from({ length: 25 }, (_, i) => 6 + i),
  ...Array.from({ length: 54 }, (_, i) => 35 + i * 5),
];

export class ProxyMetrics {
  readonly registry = new Registry();
  private readonly common = { registers: [this.registry] };

  readonly syncDuration = new Histogram({ name: 'kubeproxy_sync_proxy_rules_duration_seconds', help: 'SyncProxyRules latency in seconds', labelNames: ['ip_family'] as const, buckets: SYNC_BUCKETS, ...this.common });
  readonly syncFullDuration = new Histogram({ name: 'kubeproxy_sync_full_proxy_rules_duration_seconds', help: 'SyncProxyRules latency in seconds for full resyncs', labelNames: ['ip_family'] as const, buckets: SYNC_BUCKETS, ...this.common });
  readonly syncPartialDuration = new Histogram({ name: 'kubeproxy_sync_partial_proxy_rules_duration_seconds', help: 'SyncProxyRules latency in seconds for partial resyncs', labelNames: ['ip_family'] as const, buckets: SYNC_BUCKETS, ...this.common });
  readonly lastTimestamp = new Gauge({ name: 'kubeproxy_sync_proxy_rules_last_timestamp_seconds', help: 'The last time proxy rules were successfully synced', labelNames: ['ip_family'] as const, ...this.common });
  readonly lastQueuedTimestamp = new Gauge({ name: 'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds', help: 'The last time a sync of proxy rules was queued', labelNames: ['ip_family'] as const, ...this.common });
  readonly networkProgramming = new Histogram({ name: 'kubeproxy_network_programming_duration_seconds', help: 'In Cluster Network Programming Latency in seconds', labelNames: ['ip_family'] as const, buckets: PROGRAMMING_BUCKETS, ...this.common });
  readonly endpointChangesPending = new Gauge({ name: 'kubeproxy_sync_proxy_rules_endpoint_changes_pending', help: 'Pending proxy rules Endpoint changes', labelNames: ['ip_family'] as const, ...this.common });
  readonly endpointChangesTotal = new Counter({ name: 'kubeproxy_sync_proxy_rules_endpoint_changes_total', help: 'Cumulative proxy rules Endpoint changes', labelNames: ['ip_family'] as const, ...this.common });
  readonly serviceChangesPending = new Gauge({ name: 'kubeproxy_sync_proxy_rules_service_changes_pending', help: 'Pending proxy rules Service changes', labelNames: ['ip_family'] as const, ...this.common });
  readonly serviceChangesTotal = new Counter({ name: 'kubeproxy_sync_proxy_rules_service_changes_total', help: 'Cumulative proxy rules Service changes', labelNames: ['ip_family'] as const, ...this.common });
  readonly noLocalEndpoints = new Gauge({ name: 'kubeproxy_sync_proxy_rules_no_local_endpoints_total', help: 'Number of services with a Local traffic policy and no endpoints', labelNames: ['traffic_policy', 'ip_family'] as const, ...this.common });
  readonly iptablesRulesTotal = new Gauge({ name: 'kubeproxy_sync_proxy_rules_iptables_total', help: 'Total number of iptables rules owned by kube-proxy', labelNames: ['table', 'ip_family'] as const, ...this.common });
  readonly iptablesRulesLast = new Gauge({ name: 'kubeproxy_sync_proxy_rules_iptables_last', help: 'Number of iptables rules written by kube-proxy in last sync', labelNames: ['table', 'ip_family'] as const, ...this.common });
  readonly iptablesRestoreFailures = new Counter({ name: 'kubeproxy_sync_proxy_rules_iptables_restore_failures_total', help: 'Cumulative proxy iptables restore failures', labelNames: ['ip_family'] as const, ...this.common });
  readonly iptablesPartialRestoreFailures = new Counter({ name: 'kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total', help: 'Cumulative proxy iptables partial restore failures', labelNames: ['ip_family'] as const, ...this.common });
  /** Failed syncs of any mode (k8ts: upstream counts only the iptables restore failures above). */
  readonly syncFailures = new Counter({ name: 'kubeproxy_sync_proxy_rules_failures_total', help: 'Cumulative failed proxy rule syncs, any mode', labelNames: ['ip_family', 'mode'] as const, ...this.common });
  readonly conntrackCleanupFailures = new Counter({ name: 'kubeproxy_conntrack_cleanup_failures_total', help: 'Cumulative failed conntrack cleanups of stale UDP flows', labelNames: ['ip_family'] as const, ...this.common });
  readonly healthzTotal = new Counter({ name: 'kubeproxy_proxy_healthz_total', help: 'Cumulative proxy healthz HTTP status', labelNames: ['code'] as const, ...this.common });
  readonly livezTotal = new Counter({ name: 'kubeproxy_proxy_livez_total', help: 'Cumulative proxy livez HTTP status', labelNames: ['code'] as const, ...this.common });
}
