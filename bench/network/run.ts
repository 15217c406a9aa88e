// Networking benchmark, in sections run one after another and reported together:
//  - proxy: rule sync time per proxy mode for 1,000 services × 10 endpoints (full sync) and for one
//    endpoint change at that size (partial sync), in a throwaway network namespace;
//  - clusterip: extra latency of a request through a ClusterIP versus straight to the pod IP;
//  - dns: queries per second and latency of cached service lookups from 16 clients (bench/network/dns.ts).
// Usage: node dist/bench/network/run.js [--quick] [--only proxy,clusterip]
import { randomBytes } from 'node:crypto';
import { benchDnsCachedLookups } from './dns.js';
import { fileURLToPath } from 'node:url';
import { proxyBackends, type BackendContext, type BackendFactory } from '../../src/network/proxy/backends.js';
import { commandRunner } from '../../src/network/proxy/exec.js';
import { ProxyMetrics } from '../../src/network/proxy/metrics.js';
import type { EndpointInfo, ProxyMode, ProxyState, ServicePortInfo } from '../../src/network/proxy/types.js';
import { logger } from '../../src/util/log.js';
import { LAB_HTTP_PORT, NetnsLab, run } from '../../test/support/netnsLab.js';
import { endpoint, servicePort } from '../../test/support/proxyStateBuilders.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.includes('--only') ? new Set(args[args.indexOf('--only') + 1]!.split(',')) : undefined;

export interface SectionResult {
  section: string;
  rows: Array<Record<string, string | number>>;
  notes?: string[];
}

/** A part of the benchmark. */
export interface BenchSection {
  name: string;
  run(): Promise<SectionResult>;
}

export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}
const median = (xs: number[]) => quantile(xs, 0.5);
const ms = (x: number) => Math.round(x * 10) / 10;
const us = (x: number) => Math.round(x * 1000) / 1000;

// ------------------------------------------------------------------------------------------------
// proxy sync

function benchState(services: number, perService: number): { state: ProxyState; svcMap: Map<string, ServicePortInfo>; epMap: Map<string, EndpointInfo[]> } {
  const svcMap = new Map<string, ServicePortInfo>();
  const epMap = new Map<string, EndpointInfo[]>();
  let podIndex = 0;
  for (let i = 0; i < services; i++) {
    const key = `bench/svc-${i}:http`;
    svcMap.set(key, servicePort(`svc-${i}`, `10.96.${(i >> 8) & 255}.${i & 255}`, 80, { name: { namespace: 'bench', name: `svc-${i}`, port: 'http', protocol: 'TCP' }, nodePort: 30000 + i }));
    const eps: EndpointInfo[] = [];
    for (let j = 0; j < perService; j++, podIndex++) {
      eps.push(endpoint(`10.${128 + (podIndex >> 16)}.${(podIndex >> 8) & 255}.${podIndex & 255}`, 8080, { isLocal: j % 3 === 0, nodeName: `node-${j % 3}` }));
    }
    epMap.set(key, eps);
  }
  const state: ProxyState = {
    family: 'IPv4',
    services: svcMap,
    endpoints: epMap,
    nodeName: 'node-0',
    nodeIPs: ['192.168.200.1'],
    nodePortsOnAllLocalAddresses: true,
    clusterCIDRs: ['10.128.0.0/9'],
    masqueradeAll: false,
    masqueradeBit: 14,
    localhostNodePorts: true,
  };
  return { state, svcMap, epMap };
}

async function proxyModeSync(mode: ProxyMode, factory: BackendFactory, label: string, extra: Partial<BackendContext> = {}): Promise<Record<string, string | number>> {
  const ns = `k8ts-proxy-bench-${randomBytes(3).toString('hex')}`;
  const added = await run('ip', ['netns', 'add', ns]);
  if (added.code !== 0) throw new Error(`ip netns add ${ns}: ${added.stderr}`);
  try {
    const exec = commandRunner(NetnsLab.execPrefix(ns));
    const backend = await factory({ family: 'IPv4', exec, metrics: new ProxyMetrics(), log: logger('bench-proxy'), ...extra });
    const SERVICES = 1000;
    const { state, epMap } = benchState(SERVICES, 10);
    const fullRuns = quick ? 3 : 7;
    const partialRuns = quick ? 10 : 40;
    const full: number[] = [];
    let rulesTotal = 0;
    for (let i = 0; i < fullRuns; i++) {
      const t0 = performance.now();
      const r = await backend.sync(state, { full: true, services: new Set(), endpoints: new Set() });
      full.push(performance.now() - t0);
      rulesTotal = r.rulesTotal;
    }
    const partial: number[] = [];
    for (let i = 0; i < partialRuns; i++) {
      // One endpoint of one service is replaced, as when one pod of a Deployment is rescheduled.
      const key = `bench/svc-${(i * 37) % SERVICES}:http`;
      const eps = [...epMap.get(key)!];
      eps[0] = { ...eps[0]!, ip: `10.250.${(i >> 8) & 255}.${i & 255}` };
      epMap.set(key, eps);
      const t0 = performance.now();
      await backend.sync(state, { full: false, services: new Set(), endpoints: new Set([key]) });
      partial.push(performance.now() - t0);
    }
    await backend.cleanup();
    return {
      mode: label,
      'rules': rulesTotal,
      'full sync median ms': ms(median(full)),
      'full sync p99 ms': ms(quantile(full, 0.99)),
      'one-endpoint change median ms': ms(median(partial)),
      'one-endpoint change p99 ms': ms(quantile(partial, 0.99)),
      runs: `${fullRuns} full, ${partialRuns} partial`,
    };
  } finally {
    await run('ip', ['netns', 'del', ns]);
  }
}

const proxySection: BenchSection = {
  name: 'proxy',
  async run() {
    const rows: SectionResult['rows'] = [];
    const notes: string[] = [];
    for (const [mode, factory] of Object.entries(proxyBackends) as Array<[ProxyMode, BackendFactory]>) {
      // iptables mode runs once per iptables flavour: the system's (nf_tables on Debian 12) and legacy.
      const variants: Array<[string, Partial<BackendContext>]> = mode === 'iptables' ? [['iptables (iptables-nft)', { iptablesVariant: 'nft' }], ['iptables (iptables-legacy)', { iptablesVariant: 'legacy' }]] : [[mode, {}]];
      for (const [label, extra] of variants) {
        try {
          rows.push(await proxyModeSync(mode, factory, label, extra));
        } catch (err) {
          notes.push(`${label}: not measured: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }
    return { section: 'Proxy rule sync, 1,000 services × 10 endpoints (one NodePort each), in a throwaway netns', rows, notes };
  },
};

// ------------------------------------------------------------------------------------------------
// ClusterIP latency

const clusterIPSection: BenchSection = {
  name: 'clusterip',
  async run() {
    const lab = await NetnsLab.create({ owner: 'proxy', pods: 2 });
    try {
      const factory = proxyBackends.iptables!;
      const backend = await factory({ family: 'IPv4', exec: commandRunner(NetnsLab.execPrefix(lab.nodeNs)), metrics: new ProxyMetrics(), log: logger('bench-proxy') });
      // The same 1,000-service table as above, plus the measured service in front of pod0.
      const { state, svcMap, epMap } = benchState(1000, 10);
      state.clusterCIDRs = ['10.244.0.0/16', ...state.clusterCIDRs];
      svcMap.set('bench/web:http', { ...svcMap.get('bench/svc-0:http')!, name: { namespace: 'bench', name: 'web', port: 'http', protocol: 'TCP' }, clusterIP: '10.97.0.1', nodePort: 0 });
      epMap.set('bench/web:http', [{ ip: lab.pods[0]!.ip, port: LAB_HTTP_PORT, ready: true, serving: true, terminating: false, isLocal: true }]);
      await backend.sync(state, { full: true, services: new Set(), endpoints: new Set() });
      const n = quick ? 100 : 400;
      const client = lab.pods[1]!.ns;
      const times = async (url: string) => {
        const outs = await lab.httpMany(client, url, n);
        const bad = outs.filter((o) => o.kind !== 'ok');
        if (bad.length) throw new Error(`${bad.length} failed requests to ${url}: ${JSON.stringify(bad[0])}`);
        return outs.map((o) => o.ms);
      };
      await times(`http://${lab.pods[0]!.ip}:${LAB_HTTP_PORT}/`); // warm up both paths
      const direct = await times(`http://${lab.pods[0]!.ip}:${LAB_HTTP_PORT}/`);
      const viaService = await times('http://10.97.0.1:80/');
      await backend.cleanup();
      return {
        section: `Request latency, new TCP connection per request, pod → pod on one node (${n} requests each; iptables table holds 1,000 other services)`,
        rows: [
          { path: 'pod IP', 'median ms': us(median(direct)), 'p99 ms': us(quantile(direct, 0.99)) },
          { path: 'ClusterIP (iptables)', 'median ms': us(median(viaService)), 'p99 ms': us(quantile(viaService, 0.99)) },
          { path: 'extra via ClusterIP', 'median ms': us(median(viaService) - median(direct)), 'p99 ms': us(quantile(viaService, 0.99) - quantile(direct, 0.99)) },
        ],
        notes: ['Times are connect + request + response as the client process sees them (performance.now), each on a new connection.'],
      };
    } finally {
      await lab.destroy();
    }
  },
};

// dns: the cluster DNS server in its own process, 1,000 services × 10 endpoints, 16 UDP clients
// asking cached service names; three runs, reported with their median.
const dnsSection: BenchSection = {
  name: 'dns',
  async run() {
    const runs = [];
    for (let i = 0; i < (quick ? 1 : 3); i++) runs.push(await benchDnsCachedLookups({ services: 1000, clients: 16, durationMs: quick ? 2000 : 5000 }));
    const rows: Array<Record<string, string | number>> = runs.map((r, i) => ({ run: i + 1, qps: Math.round(r.qps), 'p50 ms': us(r.p50Ms), 'p99 ms': us(r.p99Ms), 'server cores': us(r.serverCores), 'qps per core': Math.round(r.qpsPerCore), errors: r.errors }));
    rows.push({ run: 'median', qps: Math.round(median(runs.map((r) => r.qps))), 'p50 ms': us(median(runs.map((r) => r.p50Ms))), 'p99 ms': us(median(runs.map((r) => r.p99Ms))), 'server cores': us(median(runs.map((r) => r.serverCores))), 'qps per core': Math.round(median(runs.map((r) => r.qpsPerCore))), errors: runs.reduce((a, r) => a + r.errors, 0) });
    return { section: 'dns: cached service lookups, 16 clients (target ≥ 10,000 qps on one core, p99 ≤ 5 ms)', rows };
  },
};

export const SECTIONS: BenchSection[] = [proxySection, clusterIPSection, dnsSection];

function printSection(r: SectionResult): void {
  process.stdout.write(`\n## ${r.section}\n\n`);
  const cols = [...new Set(r.rows.flatMap((row) => Object.keys(row)))];
  if (cols.length) {
    process.stdout.write(`| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|\n`);
    for (const row of r.rows) process.stdout.write(`| ${cols.map((c) => String(row[c] ?? '')).join(' | ')} |\n`);
  }
  for (const n of r.notes ?? []) process.stdout.write(`\n${n}\n`);
}

async function main(): Promise<void> {
  const results: SectionResult[] = [];
  for (const s of SECTIONS) {
    if (only && !only.has(s.name)) continue;
    process.stderr.write(`running ${s.name}…\n`);
    const r = await s.run();
    results.push(r);
    printSection(r);
  }
  process.stdout.write(`\n${JSON.stringify(results)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
