// The iptables proxy mode: turns the proxy state into one `iptables-restore --noflush` per sync
// (rules.ts writes the text) and keeps the jump rules from the built-in chains in place.
import type { Logger } from '../../../util/log.js';
import { CommandError, type CommandRunner } from '../exec.js';
import type { ProxyMetrics } from '../metrics.js';
import type { IPFamily, ProxierBackend, ProxyChanges, ProxyState, SyncResult } from '../types.js';
import * as C from './chains.js';
import { buildRestore, jumpRules, type JumpRule } from './rules.js';

export interface IptablesProxierOptions {
  family: IPFamily;
  exec: CommandRunner;
  metrics?: ProxyMetrics;
  log?: Logger;
}

/** iptables-restore rejected the rules; `context` holds the offending lines. */
export class IptablesRestoreError extends Error {
  readonly code = 'IptablesRestoreFailed';
  constructor(
    readonly stderr: string,
    readonly context: string,
  ) {
    super(`iptables-restore failed: ${stderr.trim()}${context ? `; rules around the failing line:\n${context}` : ''}`);
  }
}

/** Our top-level chains, per table, that cleanup removes (KUBE-FIREWALL is the kubelet's too and stays). */
const OWN_CHAINS: Record<'filter' | 'nat', readonly string[]> = {
  filter: [C.KUBE_SERVICES, C.KUBE_EXTERNAL_SERVICES, C.KUBE_FORWARD, C.KUBE_NODEPORTS, C.KUBE_PROXY_FIREWALL],
  nat: [C.KUBE_SERVICES, C.KUBE_NODEPORTS, C.KUBE_POSTROUTING, C.KUBE_MARK_MASQ],
};

export class IptablesProxier implements ProxierBackend {
  readonly mode = 'iptables' as const;
  private readonly tools: { iptables: string; save: string; restore: string };
  /** The service chains the last successful restore left in the nat table; undefined forces a full sync. */
  private natChains: Set<string> | undefined;

  constructor(private readonly opts: IptablesProxierOptions) {
    this.tools = opts.family === 'IPv6' ? { iptables: 'ip6tables', save: 'ip6tables-save', restore: 'ip6tables-restore' } : { iptables: 'iptables', save: 'iptables-save', restore: 'iptables-restore' };
  }

  async sync(state: ProxyState, changes: ProxyChanges): Promise<SyncResult> {
    const full = changes.full || this.natChains === undefined;
    let existing: ReadonlySet<string>;
    if (full) {
      await this.ensureSysctls(state);
      for (const jump of jumpRules(state)) await this.ensureJump(jump);
      // A full sync reads the kernel, so chains left by an earlier run are found and deleted too.
      existing = await this.natServiceChains();
    } else {
      existing = this.natChains!;
    }
    const changed = new Set([...changes.services, ...changes.endpoints]);
    const out = buildRestore({ state, full, changed, existingNatChains: existing });
    const family = state.family;
    const r = await this.opts.exec.run(this.tools.restore, ['-w', '5', '--noflush', '--counters'], out.text);
    if (r.code !== 0) {
      this.opts.metrics?.iptablesRestoreFailures.inc({ ip_family: family });
      if (!full) this.opts.metrics?.iptablesPartialRestoreFailures.inc({ ip_family: family });
      // What is in the kernel is now unknown to us: the next sync must be a full one.
      this.natChains = undefined;
      throw new IptablesRestoreError(r.stderr, failingLines(out.text, r.stderr));
    }
    this.natChains = out.activeNatChains;
    const m = this.opts.metrics;
    if (m) {
      m.iptablesRulesTotal.set({ table: 'filter', ip_family: family }, out.filterRules);
      m.iptablesRulesLast.set({ table: 'filter', ip_family: family }, out.filterRules);
      m.iptablesRulesTotal.set({ table: 'nat', ip_family: family }, out.natRulesTotal);
      m.iptablesRulesLast.set({ table: 'nat', ip_family: family }, out.natRules - out.deletedChains.length);
      m.noLocalEndpoints.set({ traffic_policy: 'internal', ip_family: family }, out.noLocalEndpoints.internal);
      m.noLocalEndpoints.set({ traffic_policy: 'external', ip_family: family }, out.noLocalEndpoints.external);
    }
    this.opts.log?.debug({ full, filterRules: out.filterRules, natRules: out.natRules, deletedChains: out.deletedChains.length }, 'iptables rules restored');
    return { rulesWritten: out.filterRules + out.natRules, rulesTotal: out.filterRules + out.natRulesTotal, staleUDP: { serviceIPs: [], nodePorts: [], endpoints: [] } };
  }

  /** Removes every jump rule and chain of this mode (upstream CleanupLeftovers). */
  async cleanup(): Promise<void> {
    const errors: string[] = [];
    for (const jump of jumpRules({ family: this.opts.family, localhostNodePorts: true })) {
      if (jump.dstChain === C.KUBE_FIREWALL) continue;
      // Delete every copy (an older run may have left duplicates).
      for (let i = 0; i < 10; i++) {
        const r = await this.opts.exec.run(this.tools.iptables, ['-w', '5', '-t', jump.table, '-D', jump.srcChain, ...jump.args]);
        if (r.code !== 0) break;
      }
    }
    for (const table of ['filter', 'nat'] as const) {
      const saved = await this.opts.exec.run(this.tools.save, ['-t', table]);
      if (saved.code !== 0) {
        errors.push(`${this.tools.save} -t ${table}: ${saved.stderr.trim()}`);
        continue;
      }
      const present = chainsIn(saved.stdout);
      const ours = [...present].filter((c) => OWN_CHAINS[table].includes(c) || C.isServiceChain(c) || c === C.KUBE_PROXY_CANARY);
      if (ours.length === 0) continue;
      const text = [`*${table}`, ...ours.map((c) => `:${c} - [0:0]`), ...ours.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
      const r = await this.opts.exec.run(this.tools.restore, ['-w', '5', '--noflush'], text);
      if (r.code !== 0) errors.push(`${this.tools.restore} (${table}): ${r.stderr.trim()}`);
    }
    this.natChains = undefined;
    if (errors.length) throw new Error(`iptables cleanup incomplete: ${errors.join('; ')}`);
  }

  private async natServiceChains(): Promise<Set<string>> {
    const r = await this.opts.exec.run(this.tools.save, ['-t', 'nat']);
    if (r.code !== 0) {
      this.opts.log?.error({ err: r.stderr.trim() }, 'iptables-save failed: stale chains will not be deleted');
      return new Set();
    }
    return new Set([...chainsIn(r.stdout)].filter(C.isServiceChain));
  }

  private async ensureJump(jump: JumpRule): Promise<void> {
    const ipt = (...args: string[]) => this.opts.exec.run(this.tools.iptables, ['-w', '5', '-t', jump.table, ...args]);
    const created = await ipt('-N', jump.dstChain);
    if (created.code !== 0 && !/exists/i.test(created.stderr)) throw new CommandError(`${this.tools.iptables} -t ${jump.table} -N ${jump.dstChain}`, created.code, created.stderr);
    const check = await ipt('-C', jump.srcChain, ...jump.args);
    if (check.code === 0) return;
    const ins = await ipt('-I', jump.srcChain, ...jump.args);
    if (ins.code !== 0) throw new CommandError(`${this.tools.iptables} -t ${jump.table} -I ${jump.srcChain}`, ins.code, ins.stderr);
  }

  private async ensureSysctls(state: ProxyState): Promise<void> {
    if (state.family === 'IPv4' && state.localhostNodePorts) {
      // NodePorts on 127.0.0.1 need the kernel to route loopback-destined packets after DNAT.
      const r = await this.opts.exec.run('sysctl', ['-qw', 'net.ipv4.conf.all.route_localnet=1']);
      if (r.code !== 0) throw new CommandError('sysctl -w net.ipv4.conf.all.route_localnet=1', r.code, r.stderr);
    }
    // Bridged pod-to-pod traffic through a service (hairpin) must pass iptables; best effort, as upstream.
    const key = state.family === 'IPv6' ? 'net.bridge.bridge-nf-call-ip6tables=1' : 'net.bridge.bridge-nf-call-iptables=1';
    const r = await this.opts.exec.run('sysctl', ['-qw', key]);
    if (r.code !== 0) this.opts.log?.warn({ err: r.stderr.trim() }, `cannot set ${key}; hairpin traffic through services may fail`);
  }
}

/** Chain names declared in iptables-save output. */
export function chainsIn(saveText: string): Set<string> {
  const out = new Set<string>();
  for (const line of saveText.split('\n')) if (line.startsWith(':')) out.add(line.slice(1).split(' ')[0]!);
  return out;
}

/** The three lines around `line N` of an iptables-restore error, numbered. */
export function failingLines(text: string, stderr: string): string {
  const m = /line:? (\d+)/i.exec(stderr);
  if (!m) return '';
  const n = Number(m[1]);
  const lines = text.split('\n');
  const from = Math.max(1, n - 1);
  const to = Math.min(lines.length, n + 1);
  const out: string[] = [];
  for (let i = from; i <= to; i++) out.push(`${i}: ${lines[i - 1]}`);
  return out.join('\n');
}
