// kube-proxy nftables-mode sync cost at 1,000 services × 10 endpoints, in a throwaway network
// namespace: the full sync (plan + one `nft -f` transaction) and partial syncs after one endpoint
// change, plus the IPVS mode's pure planning and diff at the same size (this kernel has no IPVS to
// apply it to). The network bench runner calls runNftablesSyncBench(); alone:
//   node dist/bench/network/nftablesSync.js [--services 1000] [--endpoints 10] [--changes 20]
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { commandRunner } from '../../src/network/proxy/exec.js';
import { mustRun } from '../../src/network/proxy/mustRun.js';
import { diffIpvs, planIpvs } from '../../src/network/proxy/ipvs/plan.js';
import { NftablesProxier } from '../../src/network/proxy/nftables/proxier.js';
import { planNftablesSync } from '../../src/network/proxy/nftables/plan.js';
import type { EndpointInfo, ProxyState, ServicePortInfo } from '../../src/network/proxy/types.js';
import { servicePortNameKey } from '../../src/network/proxy/types.js';

export interface NftablesSyncBenchOptions {
  services?: number;
  endpointsPerService?: number;
  /** Partial syncs measured (each moves one endpoint of one service). */
  changes?: number;
  log?: (line: string) => void;
}

export interface NftablesSyncBenchResult {
  services: number;
  endpoints: number;
  /** First full sync into an empty namespace: planning, and planning + nft -f. */
  fullPlanMs: number;
  fullSyncMs: number;
  /** A second full sync over the existing table (resync). */
  resyncMs: number;
  scriptLines: number;
  rulesTotal: number;
  /** One endpoint change, partial sync (plan + nft -f). */
  partialP50Ms: number;
  partialP99Ms: number;
  partialMaxMs: number;
  ipvsPlanMs: number;
  ipvsDiffMs: number;
}

const now = () => performance.now();
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

/** 1,000 ClusterIP services with NodePorts, 10 ready endpoints each, spread over a /16 pod network. */
export function benchState(services: number, perService: number): ProxyState {
  const svcs = new Map<string, ServicePortInfo>();
  const eps = new Map<string, EndpointInfo[]>();
  for (let i = 0; i < services; i++) {
    const s: ServicePortInfo = {
      name: { namespace: `ns${i % 20}`, name: `svc${i}`, port: 'http', protocol: 'TCP' },
      clusterIP: `10.96.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      port: 80,
      protocol: 'TCP',
      nodePort: 30000 + i,
      externalIPs: [],
      loadBalancerVIPs: [],
      loadBalancerSourceRanges: [],
      stickyMaxAgeSeconds: 0,
      externalPolicyLocal: false,
      internalPolicyLocal: false,
      healthCheckNodePort: 0,
    };
    const key = servicePortNameKey(s.name);
    svcs.set(key, s);
    eps.set(
      key,
      Array.from({ length: perService }, (_, j) => {
        const n = i * perService + j;
        return { ip: `10.244.${Math.floor(n / 250)}.${(n % 250) + 2}`, port: 8080, ready: true, serving: true, terminating: false, isLocal: false };
      }),
    );
  }
  return { family: 'IPv4', services: svcs, endpoints: eps, nodeName: 'bench', nodeIPs: ['192.168.200.1'], clusterCIDRs: ['10.244.0.0/16'], masqueradeAll: false, masqueradeBit: 14, localhostNodePorts: false };
}

export async function runNftablesSyncBench(opts: NftablesSyncBenchOptions = {}): Promise<NftablesSyncBenchResult> {
  const services = opts.services ?? 1000;
  const per = opts.endpointsPerService ?? 10;
  const changes = opts.changes ?? 20;
  const log = opts.log ?? (() => undefined);
  const ns = `k8ts-nftipvs-bench-${randomBytes(3).toString('hex')}`;
  const exec = commandRunner(['ip', 'netns', 'exec', ns]);
  await mustRun(commandRunner(), 'ip', ['netns', 'add', ns]);
  try {
    const state = benchState(services, per);
    const full = { full: true, services: new Set<string>(), endpoints: new Set<string>() };

    let t = now();
    const plan = planNftablesSync({ state, changes: full, prev: undefined, recreateBaseChains: true, now: Date.now() });
    const fullPlanMs = now() - t;
    const proxier = new NftablesProxier({ family: 'IPv4', exec });
    t = now();
    const first = await proxier.sync(state, full);
    const fullSyncMs = now() - t;
    log(`nftables full sync ${services}×${per}: ${fullSyncMs.toFixed(0)} ms (plan ${fullPlanMs.toFixed(0)} ms, ${plan.script.split('\n').length} lines, ${first.rulesTotal} rules+elements)`);
    t = now();
    await proxier.sync(state, full);
    const resyncMs = now() - t;

    const partial: number[] = [];
    const keys = [...state.services.keys()];
    const endpoints = new Map(state.endpoints);
    for (let c = 0; c < changes; c++) {
      const key = keys[(c * 37) % keys.length]!;
      const list = [...endpoints.get(key)!];
      // One endpoint replaced by a new pod IP (a rollout step).
      list[c % list.length] = { ...list[c % list.length]!, ip: `10.245.${Math.floor(c / 250)}.${(c % 250) + 2}` };
      endpoints.set(key, list);
      const next = { ...state, endpoints: new Map(endpoints) };
      t = now();
      await proxier.sync(next, { full: false, services: new Set(), endpoints: new Set([key]) });
      partial.push(now() - t);
    }
    const partialP50Ms = pct(partial, 50);
    const partialP99Ms = pct(partial, 99);
    log(`nftables one-endpoint partial sync: p50 ${partialP50Ms.toFixed(1)} ms, p99 ${partialP99Ms.toFixed(1)} ms over ${changes}`);

    t = now();
    const desired = planIpvs(state, { scheduler: 'rr' });
    const ipvsPlanMs = now() - t;
    t = now();
    diffIpvs({ virtualServers: new Map(), boundAddresses: new Set(), ipsets: new Map() }, desired, 'IPv4');
    const ipvsDiffMs = now() - t;
    log(`ipvs plan ${ipvsPlanMs.toFixed(0)} ms, diff from empty ${ipvsDiffMs.toFixed(0)} ms (${desired.virtualServers.size} virtual servers)`);

    return {
      services,
      endpoints: services * per,
      fullPlanMs,
      fullSyncMs,
      resyncMs,
      scriptLines: plan.script.split('\n').length,
      rulesTotal: first.rulesTotal,
      partialP50Ms,
      partialP99Ms,
      partialMaxMs: Math.max(...partial),
      ipvsPlanMs,
      ipvsDiffMs,
    };
  } finally {
    await commandRunner().run('ip', ['netns', 'del', ns]);
  }
}

export function formatNftablesSyncBench(r: NftablesSyncBenchResult): string {
  return [
    `| nftables, ${r.services} services × ${r.endpoints / r.services} endpoints | value |`,
    '|---|---|',
    `| full sync (plan + nft -f), empty table | ${r.fullSyncMs.toFixed(0)} ms (plan alone ${r.fullPlanMs.toFixed(0)} ms; ${r.scriptLines} lines) |`,
    `| full resync over the existing table | ${r.resyncMs.toFixed(0)} ms |`,
    `| rules + map elements in the table | ${r.rulesTotal} |`,
    `| one endpoint change, partial sync p50 / p99 / max | ${r.partialP50Ms.toFixed(1)} / ${r.partialP99Ms.toFixed(1)} / ${r.partialMaxMs.toFixed(1)} ms |`,
    `| IPVS plan / diff from empty (pure, no kernel IPVS here) | ${r.ipvsPlanMs.toFixed(0)} / ${r.ipvsDiffMs.toFixed(0)} ms |`,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const num = (flag: string, dflt: number) => (args.includes(flag) ? Number(args[args.indexOf(flag) + 1]) : dflt);
  const result = await runNftablesSyncBench({ services: num('--services', 1000), endpointsPerService: num('--endpoints', 10), changes: num('--changes', 20), log: (l) => console.error(l) });
  console.log(formatNftablesSyncBench(result));
}
