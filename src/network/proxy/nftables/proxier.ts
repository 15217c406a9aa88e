// kube-proxy's nftables mode as a ProxierBackend: plans each sync purely (plan.ts) and applies it
// with one `nft -f -` transaction, so a failed sync leaves the previous rules whole.
import { Counter, type Registry } from 'prom-client';
import { logger } from '../../../util/log.js';
import { CommandError, commandRunner, type CommandRunner } from '../command.js';
import { staleUDPFlows } from '../staleUDP.js';
import type { IPFamily, ProxierBackend, ProxyChanges, ProxyState, SyncResult } from '../types.js';
import { TABLE, nftFamily } from './names.js';
import { planNftablesSync, type NftMemory } from './plan.js';

const log = logger('kube-proxy-nftables');

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
  /** Run nft in this network namespace (tests; several nodes on one machine). */
  netns?: string;
  /** Where to register the nftables failure counters (the proxy's /metrics registry). */
  registry?: Registry;
  /** Replaces the real nft runner (unit tests). */
  runner?: CommandRunner;
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

export class NftablesProxier implements ProxierBackend {
  readonly mode = 'nftables' as const;
  private memory: NftMemory | undefined;
  private lastState: ProxyState | undefined;
  private baseChainsRecreated = false;
  private readonly family: IPFamily;
  private readonly runner: CommandRunner;
  private readonly now: () => number;
  private readonly metrics: NftMetrics | undefined;

  constructor(opts: NftablesProxierOptions) {
    this.family = opts.family;
    this.runner = opts.runner ?? commandRunner({ netns: opts.netns });
    this.now = opts.now ?? Date.now;
    this.metrics = metrics(opts.registry);
  }

  /** `ip kube-proxy` or `ip6 kube-proxy`. */
  get table(): string {
    return `${nftFamily(this.family)} ${TABLE}`;
  }

  async sync(state: ProxyState, changes: ProxyChanges, signal?: AbortSignal): Promise<SyncResult> {
    // After a failure the memory may not match the kernel: rebuild everything.
    const full = changes.full || this.memory === undefined;
    const existing = full ? await this.listExisting(signal) : undefined;
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
        await this.runner.run('nft', ['-f', '-'], plan.script, signal);
      } catch (e) {
        this.memory = undefined;
        this.metrics?.syncFailures.inc();
        if (e instanceof CommandError) throw new NftablesSyncError(this.family, e);
        throw e;
      }
    }
    this.memory = plan.next;
    this.baseChainsRecreated = true;
    const staleUDP = staleUDPFlows(this.lastState, state, full ? { full: true, services: new Set(), endpoints: new Set() } : changes);
    this.lastState = { ...state, services: new Map(state.services), endpoints: new Map(state.endpoints) };
    log.debug({ family: this.family, full, rulesWritten: plan.rulesWritten, rulesTotal: plan.rulesTotal }, 'nftables rules synced');
    return { rulesWritten: plan.rulesWritten, rulesTotal: plan.rulesTotal, staleUDP };
  }

  async cleanup(): Promise<void> {
    // "add" first so the "delete" cannot fail on a missing table; both in one transaction.
    try {
      await this.runner.run('nft', ['-f', '-'], `add table ${this.table}\ndelete table ${this.table}\n`);
    } catch (e) {
      this.metrics?.cleanupFailures.inc();
      throw e;
    }
    this.memory = undefined;
    this.lastState = undefined;
    this.baseChainsRecreated = false;
  }

  /** Per-service chains and sets in our table now (from an earlier run or a failed sync). */
  private async listExisting(signal?: AbortSignal): Promise<{ chains: string[]; sets: string[] }> {
    const fam = nftFamily(this.family);
    const list = async (what: 'chains' | 'sets'): Promise<string[]> => {
      const { stdout } = await this.runner.run('nft', ['-j', '-t', 'list', what, fam], undefined, signal);
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
  const proxier = new NftablesProxier(opts);
  const runner = opts.runner ?? commandRunner({ netns: opts.netns });
  try {
    await runner.run('nft', ['--version']);
  } catch (e) {
    throw new NftablesUnavailableError(`kube-proxy in nftables mode needs the nft tool (Debian package "nftables"): ${(e as Error).message}`);
  }
  // A throwaway check transaction (-c) proves the kernel has nf_tables without changing anything.
  try {
    await runner.run('nft', ['-c', '-f', '-'], `add table ${proxier.table}\n`);
  } catch (e) {
    throw new NftablesUnavailableError(`kube-proxy in nftables mode needs nf_tables in the kernel (CONFIG_NF_TABLES): ${(e as Error).message}`);
  }
  return proxier;
}
