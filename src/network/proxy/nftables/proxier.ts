// kube-proxy's nftables mode as a ProxierBackend: plans each sync purely (plan.ts) and applies it
// with one `nft -f -` transaction, so a failed sync leaves the previous rules whole.
import { Counter, type Registry } from 'prom-client';
import { logger, type Logger } from '../../../util/log.js';
import { CommandError, commandRunner, type CommandRunner } from '../exec.js';
import type { ProxyMetrics } from '../metrics.js';
import { mustRun } from '../mustRun.js';
import type { IPFamily, ProxierBackend, ProxyChanges, ProxyState, SyncResult } from '../types.js';
import { TABLE, nftFamily } from './names.js';
import { planNftablesSync, type NftMemory } from './plan.js';


/** An `nft -f` transaction was refused; nothing of it was applied. */
export class NftablesSyncError extends Error {
  readonly code = 'NftablesSyncFailed';
  constructor(
    readonly family: IPFamily,
    override readonly cause: CommandError,
  ) {
    super(`nftables sync (${family}) failed, previous rules stay in force: ${cause.stderr.trim() || cause.message}`);
    this.name = 'NftablesSyncError';
  }
}

/** nft is missing or too old, or the kernel lacks nf_tables: the mode cannot start. */
export class NftablesUnavailableError extends Error {
  readonly code = 'NftablesUnavailable';
  constructor(message: string) {
    super(message);
    this.name = 'NftablesUnavailableError';
  }
}

export interface NftablesProxierOptions {
  family: IPFamily;
  /** Runs nft (the proxy's runner; possibly into a network namespace). */
  exec?: CommandRunner;
  /** Run nft in this network namespace when no `exec` is given (tests; several nodes on one machine). */
  netns?: string;
  /** The proxy's metrics: the nftables failure counters join its registry. */
  metrics?: ProxyMetrics;
  /** Or just a registry for those counters. */
  registry?: Registry;
  log?: Logger;
  /** Clock for stale-chain ageing (ms). */
  now?: () => number;
}

interface NftMetrics {
  syncFailures: Counter;
  cleanupFailures: Counter;
}

function metrics(registry: Registry | undefined): NftMetrics | undefined {
  if (!registry) return undefined;
  const counter = (name: string, help: string): Counter =>
    (registry.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, registers: [registry] });
  return {
    syncFailures: counter('kubeproxy_sync_proxy_rules_nftables_sync_failures_total', 'Total number of nftables sync failures'),
    cleanupFailures: counter('kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total', 'Total number of nftables stale chain cleanup failures'),
  };
}

interface NftListing {
  nftables?: Array<{ chain?: { table?: string; name?: string }; set?: { table?: string; name?: string } }>;
}

function runnerOf(opts: NftablesProxierOptions): CommandRunner {
  return opts.exec ?? commandRunner(opts.netns ? ['ip', 'netns', 'exec', opts.netns] : []);
}

export class NftablesProxier implements ProxierBackend {
  readonly mode = 'nftables' as const;
  private memory: NftMemory | undefined;
  private baseChainsRecreated = false;
  private readonly family: IPFamily;
  private readonly exec: CommandRunner;
  private readonly now: () => number;
  private readonly metrics: NftMetrics | undefined;
  private readonly log: Logger;

  constructor(opts: NftablesProxierOptions) {
    this.family = opts.family;
    this.exec = runnerOf(opts);
    this.now = opts.now ?? Date.now;
    this.metrics = metrics(opts.metrics?.registry ?? opts.registry);
    this.log = opts.log ?? logger('kube-proxy-nftables');
  }

  /** `ip kube-proxy` or `ip6 kube-proxy`. */
  get table(): string {
    return `${nftFamily(this.family)} ${TABLE}`;
  }

  async sync(state: ProxyState, changes: ProxyChanges): Promise<SyncResult> {
    // After a failure the memory may not match the kernel: rebuild everything.
    const full = changes.full || this.memory === undefined;
    const existing = full ? await this.listExisting() : undefined;
    const plan = planNftablesSync({
      state,
      changes: full ? { ...changes, full: true } : changes,
      prev: this.memory,
      existing,
      recreateBaseChains: !this.baseChainsRecreated,
      now: this.now(),
    });
    if (plan.script) {
      try {
        await mustRun(this.exec, 'nft', ['-f', '-'], plan.script);
      } catch (e) {
        this.memory = undefined;
        this.metrics?.syncFailures.inc();
        if (e instanceof CommandError) throw new NftablesSyncError(this.family, e);
        throw e;
      }
    }
    this.memory = plan.next;
    this.baseChainsRecreated = true;
    this.log.debug({ full, rulesWritten: plan.rulesWritten, rulesTotal: plan.rulesTotal }, 'nftables rules synced');
    // Stale UDP flows come from the change tracker; rules cannot add any of their own.
    return { rulesWritten: plan.rulesWritten, rulesTotal: plan.rulesTotal, staleUDP: { serviceIPs: [], nodePorts: [], endpoints: [] } };
  }

  async cleanup(): Promise<void> {
    // "add" first so the "delete" cannot fail on a missing table; both in one transaction.
    try {
      await mustRun(this.exec, 'nft', ['-f', '-'], `add table ${this.table}\ndelete table ${this.table}\n`);
    } catch (e) {
      this.metrics?.cleanupFailures.inc();
      throw e;
    }
    this.memory = undefined;
    this.baseChainsRecreated = false;
  }

  /** Per-service chains and sets in our table now (from an earlier run or a failed sync). */
  private async listExisting(): Promise<{ chains: string[]; sets: string[] }> {
    const fam = nftFamily(this.family);
    const list = async (what: 'chains' | 'sets'): Promise<string[]> => {
      const { stdout } = await mustRun(this.exec, 'nft', ['-j', '-t', 'list', what, fam]);
      const parsed = JSON.parse(stdout || '{}') as NftListing;
      const out: string[] = [];
      for (const o of parsed.nftables ?? []) {
        const item = what === 'chains' ? o.chain : o.set;
        if (item?.table === TABLE && item.name) out.push(item.name);
      }
      return out;
    };
    return { chains: await list('chains'), sets: await list('sets') };
  }
}

/**
 * Creates the nftables backend after checking that nft runs and the kernel accepts a table of
 * this family (the error says which of the two is missing).
 */
export async function createNftablesProxier(opts: NftablesProxierOptions): Promise<ProxierBackend> {
  const exec = runnerOf(opts);
  const proxier = new NftablesProxier({ ...opts, exec });
  try {
    await mustRun(exec, 'nft', ['--version']);
  } catch (e) {
    throw new NftablesUnavailableError(`kube-proxy in nftables mode needs the nft tool (Debian package "nftables"): ${(e as Error).message}`);
  }
  // A throwaway check transaction (-c) proves the kernel has nf_tables without changing anything.
  try {
    await mustRun(exec, 'nft', ['-c', '-f', '-'], `add table ${proxier.table}\n`);
  } catch (e) {
    throw new NftablesUnavailableError(`kube-proxy in nftables mode needs nf_tables in the kernel (CONFIG_NF_TABLES): ${(e as Error).message}`);
  }
  return proxier;
}
