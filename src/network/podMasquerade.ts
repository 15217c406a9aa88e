// Node-level masquerade of pod traffic, as flannel does it: one nat chain for the node's pod
// network(s) instead of the CNI bridge plugin's per-pod `ipMasq` chains (9 iptables execs per ADD).
// Traffic from the node's pod CIDR to its own pod CIDR, to other nodes' pod CIDRs and to multicast
// keeps its source; everything else leaving the pod network is masqueraded to the node's address.
import { commandRunner, type CommandRunner } from './proxy/exec.js';
import { logger, type Logger } from '../util/log.js';

export type IpFamily = 4 | 6;

/** The chain of the default bridge (k8ts0); agents sharing one network namespace need distinct bridges and so chains. */
export const POD_MASQ_CHAIN = 'K8TS-POD-MASQ';
/** Comment on the POSTROUTING jump; also how removal finds it. */
export const POD_MASQ_JUMP_COMMENT = 'k8ts: masquerade pod traffic leaving the pod networks';
/** Comment of the ACCEPT rules earlier versions inserted in POSTROUTING (removed by `k8ts killall`). */
export const LEGACY_NO_MASQ_COMMENT = 'k8ts: pod to pod between nodes keeps its source';

const MULTICAST: Record<IpFamily, string> = { 4: '224.0.0.0/4', 6: 'ff00::/8' };

/** The masquerade chain of the node whose pod bridge is `bridge` (iptables allows 28 characters; bridges have at most 15). */
export function podMasqueradeChain(bridge?: string): string {
  return bridge && bridge !== 'k8ts0' ? `K8TS-MASQ-${bridge}` : POD_MASQ_CHAIN;
}

export function familyOf(cidr: string): IpFamily {
  return cidr.includes(':') ? 6 : 4;
}

/** The tool of a family: `iptables` or `ip6tables` (+ `-save` / `-restore`). */
export function iptablesTool(family: IpFamily, suffix: '' | '-save' | '-restore' = ''): string {
  return `${family === 6 ? 'ip6tables' : 'iptables'}${suffix}`;
}

export interface PodMasqueradeWant {
  /** This node's podCIDR(s). */
  ownCIDRs: readonly string[];
  /** Other nodes' podCIDRs: pod-to-pod traffic between nodes keeps the source pod's address. */
  peerCIDRs: readonly string[];
}

/**
 * The chain's rules for one family, as `-A CHAIN …` lines in iptables-save's own spelling (so a
 * read-back compares equal; comments have several words because iptables-save unquotes one). Empty when the node has no podCIDR of that family yet. Pure.
 */
export function podMasqueradeRules(chain: string, want: PodMasqueradeWant, family: IpFamily, randomFully = true): string[] {
  const own = [...new Set(want.ownCIDRs.filter((c) => familyOf(c) === family))];
  if (own.length === 0) return [];
  const peers = [...new Set(want.peerCIDRs.filter((c) => familyOf(c) === family && !own.includes(c)))].sort();
  const out: string[] = [];
  for (const src of own) {
    out.push(`-A ${chain} -s ${src} -d ${src} -m comment --comment "pod to pod on this node" -j RETURN`);
    for (const dst of peers) out.push(`-A ${chain} -s ${src} -d ${dst} -m comment --comment "pod to pod on another node" -j RETURN`);
    out.push(`-A ${chain} -s ${src} -d ${MULTICAST[family]} -m comment --comment "multicast stays unmasqueraded" -j RETURN`);
    out.push(`-A ${chain} -s ${src} -m comment --comment "pod traffic leaving the pod networks" -j MASQUERADE${randomFully ? ' --random-fully' : ''}`);
  }
  return out;
}

/** The POSTROUTING jump, as iptables-save prints it (without `-A POSTROUTING`). Pure. */
export function podMasqueradeJump(chain: string): string {
  return `-m comment --comment "${POD_MASQ_JUMP_COMMENT}" -j ${chain}`;
}

/** What the nat table holds of ours, read from `iptables-save -t nat`. */
export interface NatState {
  /** How many POSTROUTING jumps to our chain there are. */
  jumps: number;
  chainExists: boolean;
  /** Our chain's rules, in order. */
  rules: string[];
  /**
   * The CNI bridge plugin's per-pod masquerade chains of `network` (from `ipMasq: true`) that still
   * hold rules: they would masquerade again what our chain lets through.
   */
  bridgeChainsWithRules: string[];
}

/** Reads our chain and the bridge plugin's per-pod chains of CNI network `network` out of `iptables-save -t nat`. Pure. */
export function parseNatState(save: string, chain: string, network?: string): NatState {
  const lines = save.split('\n');
  const state: NatState = { jumps: 0, chainExists: false, rules: [], bridgeChainsWithRules: [] };
  const bridgeChains = new Set<string>();
  const nonEmpty = new Set<string>();
  // The bridge plugin comments its jump `name: "<network>" id: "<container>"`; iptables-save escapes the inner quotes.
  const bridgeComment = network !== undefined ? `--comment "name: \\"${network}\\" id: \\"` : undefined;
  for (const line of lines) {
    if (line.startsWith(`:${chain} `)) state.chainExists = true;
    else if (line.startsWith(`-A ${chain} `)) state.rules.push(line);
    else if (line.startsWith('-A POSTROUTING ')) {
      if (line.endsWith(` -j ${chain}`)) state.jumps++;
      const target = / -j (CNI-[0-9a-f]+)$/.exec(line)?.[1];
      if (target && bridgeComment && line.includes(bridgeComment)) bridgeChains.add(target);
    } else {
      const m = /^-A (CNI-[0-9a-f]+) /.exec(line);
      if (m) nonEmpty.add(m[1]!);
    }
  }
  state.bridgeChainsWithRules = [...bridgeChains].filter((c) => nonEmpty.has(c)).sort();
  return state;
}

/**
 * The `iptables-restore --noflush` input that makes the kernel hold `rules`: our chain declared
 * (which flushes it) and refilled, the jump inserted first in POSTROUTING when missing, and the
 * given bridge plugin chains flushed (kept, empty: the plugin's DEL with its old config still
 * deletes them, and fails if they are gone). Pure.
 */
export function podMasqueradeRestore(chain: string, rules: readonly string[], opts: { addJump: boolean; flushChains?: readonly string[] }): string {
  const out = ['*nat', `:${chain} - [0:0]`];
  for (const c of opts.flushChains ?? []) out.push(`:${c} - [0:0]`);
  if (opts.addJump) out.push(`-I POSTROUTING 1 ${podMasqueradeJump(chain)}`);
  out.push(...rules, 'COMMIT', '');
  return out.join('\n');
}

/**
 * The restore input that removes our jump(s) and chain, and the ACCEPT rules of earlier versions,
 * from what `iptables-save -t nat` shows; undefined when there is nothing of ours. Pure.
 */
export function podMasqueradeRemoval(save: string, chain: string): string | undefined {
  const state = parseNatState(save, chain);
  const deletes = save
    .split('\n')
    .filter((l) => l.startsWith('-A POSTROUTING ') && (l.endsWith(` -j ${chain}`) || l.includes(`--comment "${LEGACY_NO_MASQ_COMMENT}"`)))
    .map((l) => `-D ${l.slice(3)}`);
  if (!state.chainExists && deletes.length === 0) return undefined;
  const out = ['*nat', ...deletes];
  if (state.chainExists) out.push(`-F ${chain}`, `-X ${chain}`);
  out.push('COMMIT', '');
  return out.join('\n');
}

/** Removes the node's masquerade chain and jump in both families (`k8ts killall`); a missing tool or table is not an error. */
export async function removePodMasquerade(opts: { bridge?: string; exec?: CommandRunner } = {}): Promise<number> {
  const exec = opts.exec ?? commandRunner();
  const chain = podMasqueradeChain(opts.bridge);
  let removed = 0;
  for (const family of [4, 6] as const) {
    const saved = await exec.run(iptablesTool(family, '-save'), ['-t', 'nat']);
    if (saved.code !== 0) continue;
    const input = podMasqueradeRemoval(saved.stdout, chain);
    if (!input) continue;
    const r = await exec.run(iptablesTool(family, '-restore'), ['--noflush', '-w', '5'], input);
    if (r.code !== 0) throw new Error(`${iptablesTool(family, '-restore')} could not remove ${chain}: ${r.stderr.trim()}`);
    removed++;
  }
  return removed;
}

export interface PodMasqueradeOptions {
  /** The node's pod bridge; names the chain (see podMasqueradeChain). */
  bridge?: string;
  /** Where iptables runs (tests point it into a network namespace). */
  exec?: CommandRunner;
  /** MASQUERADE with `--random-fully` (default true; dropped by itself when the tool refuses it). */
  randomFully?: boolean;
  /**
   * The CNI network whose per-pod bridge masquerade chains (left by pods made with `ipMasq: true`)
   * are emptied, so they do not masquerade pod-to-pod traffic our chain lets through. Leave unset
   * when the node's conflist still asks the bridge plugin for ipMasq.
   */
  bridgeNetwork?: string;
  /** How often the kernel's copy is read back and repaired (default 5 min). */
  verifyEveryMs?: number;
  log?: Logger;
}

/**
 * Keeps the node's masquerade chain in the kernel. Each change is one `iptables-restore --noflush`
 * per family, and only when the wanted rules differ from what was last written; the kernel's copy
 * is read back at the first sync and every `verifyEveryMs`. The rules stay when the agent stops
 * (pods outlive it); `removePodMasquerade` takes them away.
 */
export class PodMasquerade {
  readonly chain: string;
  private readonly exec: CommandRunner;
  private readonly log: Logger;
  private randomFully: boolean;
  private own: string[] = [];
  private peers: string[] = [];
  /** Per family: the rules the kernel holds (as written or read back), and when that was last read back. */
  private readonly kernel = new Map<IpFamily, { rules: string; jump: boolean; verifiedAt: number }>();
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly opts: PodMasqueradeOptions = {}) {
    this.chain = podMasqueradeChain(opts.bridge);
    this.exec = opts.exec ?? commandRunner();
    this.randomFully = opts.randomFully ?? true;
    this.log = opts.log ?? logger('pod-masquerade');
  }

  /**
   * This node's podCIDR(s) and/or the other nodes'; resolves when the kernel holds the rules for
   * them. An empty `own` is ignored (a node's podCIDR is not taken back).
   */
  update(o: { own?: readonly string[]; peers?: readonly string[] }): Promise<void> {
    const own = (o.own ?? []).map((c) => c.trim()).filter(Boolean);
    if (own.length > 0) this.own = own;
    if (o.peers) this.peers = [...o.peers];
    return this.sync();
  }

  /** Brings the kernel in line with the wanted rules (serialised; rejects when iptables fails). */
  sync(): Promise<void> {
    const next = this.tail.then(() => this.syncNow());
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async syncNow(): Promise<void> {
    for (const family of [4, 6] as const) await this.syncFamily(family);
  }

  private async syncFamily(family: IpFamily): Promise<void> {
    const rules = podMasqueradeRules(this.chain, { ownCIDRs: this.own, peerCIDRs: this.peers }, family, this.randomFully);
    const known = this.kernel.get(family);
    // A family without a podCIDR is never touched (no ip6tables on an IPv4-only node).
    if (rules.length === 0 && !known) return;
    const key = rules.join('\n');
    const stale = !known || Date.now() - known.verifiedAt >= (this.opts.verifyEveryMs ?? 300_000);
    let jump = known?.jump ?? false;
    let flush: string[] = [];
    if (stale) {
      const saved = await this.exec.run(iptablesTool(family, '-save'), ['-t', 'nat']);
      if (saved.code !== 0) throw new Error(`${iptablesTool(family, '-save')} failed (exit ${saved.code}): ${saved.stderr.trim()}`);
      const state = parseNatState(saved.stdout, this.chain, this.opts.bridgeNetwork);
      jump = state.jumps > 0;
      flush = state.bridgeChainsWithRules;
      this.kernel.set(family, { rules: state.rules.join('\n'), jump, verifiedAt: Date.now() });
      if (flush.length > 0) this.log.info({ chains: flush.length, family }, 'emptying the CNI bridge plugin per-pod masquerade chains (the node masquerades instead)');
    }
    if (this.kernel.get(family)?.rules === key && jump && flush.length === 0) return;
    const written = await this.write(family, rules, !jump, flush);
    this.kernel.set(family, { rules: written.join('\n'), jump: true, verifiedAt: this.kernel.get(family)?.verifiedAt ?? Date.now() });
    this.log.info({ family, own: this.own.filter((c) => familyOf(c) === family), peers: this.peers.filter((c) => familyOf(c) === family).length }, 'pod masquerade rules written');
  }

  /** Writes the rules in one transaction; returns the rules the kernel got. */
  private async write(family: IpFamily, rules: string[], addJump: boolean, flushChains: string[]): Promise<string[]> {
    const tool = iptablesTool(family, '-restore');
    const r = await this.exec.run(tool, ['--noflush', '-w', '5'], podMasqueradeRestore(this.chain, rules, { addJump, flushChains }));
    if (r.code === 0) return rules;
    if (this.randomFully && /random-fully/.test(r.stderr)) {
      // An older iptables or kernel: plain MASQUERADE still works, with the port collisions --random-fully avoids.
      this.log.warn({ err: r.stderr.trim() }, 'MASQUERADE --random-fully is not supported here; masquerading without it');
      this.randomFully = false;
      const plain = podMasqueradeRules(this.chain, { ownCIDRs: this.own, peerCIDRs: this.peers }, family, false);
      return this.write(family, plain, addJump, flushChains);
    }
    throw new Error(`${tool} failed (exit ${r.code}): ${r.stderr.trim() || 'no output'}`);
  }
}
