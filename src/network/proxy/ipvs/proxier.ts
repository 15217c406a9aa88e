// kube-proxy's IPVS mode as a ProxierBackend: reads what the kernel holds (ipvsadm -S, ipset save,
// the addresses of kube-ipvs0), plans the wanted state purely (plan.ts), and applies the difference
// with ipset restore, ipvsadm-restore, ip -batch and iptables-restore --noflush.
// Creation fails with IpvsUnavailableError where the kernel has no IPVS (as on k8ts' CI machines).
import { access } from 'node:fs/promises';
import { logger, type Logger } from '../../../util/log.js';
import { CommandError, commandRunner, type CommandRunner } from '../exec.js';
import { firstLine, mustRun } from '../mustRun.js';
import type { IPFamily, ProxierBackend, ProxyChanges, ProxyState, SyncResult } from '../types.js';
import * as N from './names.js';
import { countRules, diffIpvs, parseIpAddrShow, parseIpsetSave, parseIpvsadmSave, planIpvs, type IpvsCurrent } from './plan.js';

/** The kernel (or the tools) cannot do IPVS; says what is missing and how that was found out. */
export class IpvsUnavailableError extends Error {
  readonly code = 'IPVSUnavailable';
  constructor(
    /** Kernel modules (or tools) found missing, e.g. ["ip_vs", "ip_vs_rr"]. */
    readonly missing: string[],
    /** How it was detected, in the tools' own words. */
    readonly detection: string,
  ) {
    super(
      `can't use the IPVS proxier: ${missing.join(', ')} not available (${detection}). ` +
        'IPVS mode needs the kernel modules ip_vs, ip_vs_<scheduler> (ip_vs_rr by default) and nf_conntrack, and the ipvsadm and ipset tools; ' +
        'load the modules, or run kube-proxy with mode "iptables" or "nftables".',
    );
    this.name = 'IpvsUnavailableError';
  }
}

/** A sync step failed; what ran before it stays (adds come before deletes, so old services keep working). */
export class IpvsSyncError extends Error {
  readonly code = 'IPVSSyncFailed';
  constructor(
    readonly step: string,
    override readonly cause: CommandError,
  ) {
    super(`ipvs sync failed at ${step}: ${cause.stderr.trim() || cause.message}`);
    this.name = 'IpvsSyncError';
  }
}

export interface IpvsProxierOptions {
  family: IPFamily;
  /** IPVS scheduler (rr, wrr, lc, sh, mh, …); rr when unset. */
  scheduler?: string;
  /** Runs the tools (the proxy's runner; possibly into a network namespace). */
  exec?: CommandRunner;
  /** Run every tool in this network namespace when no `exec` is given. */
  netns?: string;
  log?: Logger;
  /** Where to look for /proc/net/ip_vs and /proc/sys/net/netfilter (tests point it elsewhere). */
  procRoot?: string;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

function runnerOf(opts: IpvsProxierOptions): CommandRunner {
  return opts.exec ?? commandRunner(opts.netns ? ['ip', 'netns', 'exec', opts.netns] : []);
}

/**
 * Checks what upstream's CanUseIPVSProxier and module loading check: ip_vs present (or loadable),
 * the scheduler usable (a throwaway virtual server on 198.51.100.0:20000, TEST-NET-2), nf_conntrack,
 * and ipset ≥ 6. Throws IpvsUnavailableError naming the missing pieces.
 */
export async function checkIpvsSupport(exec: CommandRunner, opts: { scheduler: string; procRoot: string }): Promise<void> {
  const proc = opts.procRoot;
  if (!(await exists(`${proc}/net/ip_vs`))) {
    // Not built in and not loaded: try loading it as upstream's kube-proxy does.
    let how: string;
    try {
      await mustRun(exec, 'modprobe', ['--', 'ip_vs']);
      how = '';
    } catch (e) {
      how = `modprobe ip_vs failed: ${firstLine(e)}`;
    }
    if (how || !(await exists(`${proc}/net/ip_vs`))) {
      const missing = ['ip_vs', `ip_vs_${opts.scheduler}`];
      if (!(await exists(`${proc}/sys/net/netfilter/nf_conntrack_max`))) missing.push('nf_conntrack');
      throw new IpvsUnavailableError(missing, `${proc}/net/ip_vs is absent and ${how || 'loading ip_vs did not create it'}`);
    }
  }
  if (!(await exists(`${proc}/sys/net/netfilter/nf_conntrack_max`))) {
    throw new IpvsUnavailableError(['nf_conntrack'], `${proc}/sys/net/netfilter/nf_conntrack_max is absent`);
  }
  try {
    const { stdout } = await mustRun(exec, 'ipset', ['version']);
    const m = /v(\d+)\.(\d+)/.exec(stdout);
    if (!m || Number(m[1]) < 6) throw new IpvsUnavailableError(['ipset >= 6.0'], `ipset version says "${stdout.trim()}"`);
  } catch (e) {
    if (e instanceof IpvsUnavailableError) throw e;
    throw new IpvsUnavailableError(['ipset'], `ipset version failed: ${firstLine(e)}`);
  }
  // The scheduler module only shows itself by working.
  const probe = ['-t', '198.51.100.0:20000'];
  try {
    await mustRun(exec, 'ipvsadm', ['-A', ...probe, '-s', opts.scheduler]);
  } catch (e) {
    throw new IpvsUnavailableError([`ip_vs_${opts.scheduler}`], `adding a probe virtual server with scheduler ${opts.scheduler} failed: ${firstLine(e)}`);
  }
  await mustRun(exec, 'ipvsadm', ['-D', ...probe]).catch(() => undefined);
  // Service IPs live on a dummy device; some kernels (this project's CI VMs) lack CONFIG_DUMMY.
  const hasDevice = await mustRun(exec, 'ip', ['link', 'show', N.DUMMY_DEVICE]).then(() => true, () => false);
  if (!hasDevice) {
    try {
      await mustRun(exec, 'ip', ['link', 'add', N.DUMMY_DEVICE, 'type', 'dummy']);
    } catch (e) {
      throw new IpvsUnavailableError(['dummy (CONFIG_DUMMY)'], `ip link add ${N.DUMMY_DEVICE} type dummy failed: ${firstLine(e)}`);
    }
  }
}

export class IpvsProxier implements ProxierBackend {
  readonly mode = 'ipvs' as const;
  private readonly family: IPFamily;
  private readonly scheduler: string;
  private readonly exec: CommandRunner;
  private readonly log: Logger;
  private jumpsEnsured = false;

  constructor(opts: IpvsProxierOptions) {
    this.family = opts.family;
    this.scheduler = opts.scheduler || N.DEFAULT_SCHEDULER;
    this.exec = runnerOf(opts);
    this.log = opts.log ?? logger('kube-proxy-ipvs');
  }

  private run(cmd: string, args: readonly string[], input?: string) {
    return mustRun(this.exec, cmd, args, input);
  }

  private async step<T>(name: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (e instanceof CommandError) throw new IpvsSyncError(name, e);
      throw e;
    }
  }

  /** What the kernel holds now: our virtual servers, kube-ipvs0's addresses and our sets' entries. */
  async readCurrent(): Promise<IpvsCurrent> {
    const [ipvs, addrs, sets] = await Promise.all([
      this.step('ipvsadm -S -n', () => this.run('ipvsadm', ['-S', '-n'])),
      this.run('ip', ['-o', 'addr', 'show', 'dev', N.DUMMY_DEVICE]).catch(() => ({ stdout: '', stderr: '' })),
      this.step('ipset save', () => this.run('ipset', ['save'])),
    ]);
    const names = new Set(N.IPSETS.map((s) => N.ipsetName(s.name, this.family)));
    return { virtualServers: parseIpvsadmSave(ipvs.stdout), boundAddresses: parseIpAddrShow(addrs.stdout), ipsets: parseIpsetSave(sets.stdout, names) };
  }

  async sync(state: ProxyState, changes: ProxyChanges): Promise<SyncResult> {
    // IPVS has no transactions; every sync compares the whole wanted state with the kernel's.
    const desired = planIpvs(state, { scheduler: this.scheduler });
    const current = await this.readCurrent();
    const apply = diffIpvs(current, desired, this.family);
    const ipt = this.family === 'IPv6' ? 'ip6tables' : 'iptables';

    await this.step(`ip link add ${N.DUMMY_DEVICE}`, async () => {
      const has = await this.run('ip', ['link', 'show', N.DUMMY_DEVICE]).then(() => true, () => false);
      if (!has) await this.run('ip', ['link', 'add', N.DUMMY_DEVICE, 'type', 'dummy']);
    });
    await this.step('ipset restore', () => this.run('ipset', ['restore', '-exist'], apply.ipsetRestore));
    if (apply.ipvsUpserts) await this.step('ipvsadm-restore', () => this.run('ipvsadm-restore', [], apply.ipvsUpserts));
    if (apply.addressAdds) await this.step('ip addr add', () => this.run('ip', ['-batch', '-'], apply.addressAdds));
    await this.step(`${ipt}-restore`, () => this.run(`${ipt}-restore`, ['-w', '--noflush'], desired.iptables));
    if (changes.full || !this.jumpsEnsured) {
      await this.step(`${ipt} jump rules`, () => this.ensureJumps(ipt));
      this.jumpsEnsured = true;
    }
    if (apply.ipvsDeletes) await this.step('ipvsadm-restore (deletes)', () => this.run('ipvsadm-restore', [], apply.ipvsDeletes));
    if (apply.addressDeletes) await this.step('ip addr del', () => this.run('ip', ['-batch', '-'], apply.addressDeletes));

    this.log.debug({ changes: apply.changes }, 'ipvs rules synced');
    // Stale UDP flows come from the change tracker.
    return { rulesWritten: apply.changes + desired.iptablesRules, rulesTotal: countRules(desired), staleUDP: { serviceIPs: [], nodePorts: [], endpoints: [] } };
  }

  private async ensureJumps(ipt: string): Promise<void> {
    for (const j of N.JUMP_RULES) {
      const spec = ['-m', 'comment', '--comment', j.comment, '-j', j.to];
      const present = await this.run(ipt, ['-w', '-t', j.table, '-C', j.from, ...spec]).then(() => true, () => false);
      if (!present) await this.run(ipt, ['-w', '-t', j.table, '-I', j.from, ...spec]);
    }
  }

  async cleanup(): Promise<void> {
    const r = { run: (cmd: string, args: readonly string[]) => this.run(cmd, args) };
    const ipt = this.family === 'IPv6' ? 'ip6tables' : 'iptables';
    const errors: string[] = [];
    const attempt = async (what: string, f: () => Promise<unknown>, ignore?: RegExp) => {
      try {
        await f();
      } catch (e) {
        const msg = firstLine(e);
        if (!ignore?.test(msg)) errors.push(`${what}: ${msg}`);
      }
    };
    // Upstream flushes all of IPVS; a kernel without IPVS has nothing to flush.
    await attempt('ipvsadm -C', () => r.run('ipvsadm', ['-C']), /Protocol not available|not found/);
    await attempt(`ip link del ${N.DUMMY_DEVICE}`, () => r.run('ip', ['link', 'del', N.DUMMY_DEVICE]), /Cannot find device|does not exist/);
    for (const j of N.JUMP_RULES) {
      await attempt(`${ipt} -D ${j.from}`, () => r.run(ipt, ['-w', '-t', j.table, '-D', j.from, '-m', 'comment', '--comment', j.comment, '-j', j.to]), /.*/);
    }
    for (const [table, chains] of [['nat', N.NAT_CHAINS], ['filter', N.FILTER_CHAINS]] as const) {
      for (const c of chains) await attempt(`${ipt} -F ${c}`, () => r.run(ipt, ['-w', '-t', table, '-F', c]), /No chain|does not exist/);
      for (const c of chains) await attempt(`${ipt} -X ${c}`, () => r.run(ipt, ['-w', '-t', table, '-X', c]), /No chain|does not exist/);
    }
    // Sets go last: iptables rules that reference them must be gone first.
    for (const s of N.IPSETS) await attempt(`ipset destroy ${s.name}`, () => r.run('ipset', ['destroy', N.ipsetName(s.name, this.family)]), /does not exist/);
    this.jumpsEnsured = false;
    if (errors.length) throw new Error(`ipvs cleanup left rules behind: ${errors.join('; ')}`);
  }
}

/**
 * Creates the IPVS backend after upstream's checks and sysctls. On a kernel without IPVS this
 * throws IpvsUnavailableError (e.g. "ip_vs, ip_vs_rr not available (/proc/net/ip_vs is absent and
 * modprobe ip_vs failed: …)").
 */
export async function createIpvsProxier(opts: IpvsProxierOptions): Promise<ProxierBackend> {
  const exec = runnerOf(opts);
  const scheduler = opts.scheduler || N.DEFAULT_SCHEDULER;
  await checkIpvsSupport(exec, { scheduler, procRoot: opts.procRoot ?? '/proc' });
  // As upstream: conntrack for IPVS connections, drop connections to removed real servers, forward.
  for (const [key, value] of [
    ['net.ipv4.vs.conntrack', '1'],
    ['net.ipv4.vs.expire_nodest_conn', '1'],
    ['net.ipv4.vs.expire_quiescent_template', '1'],
    ['net.ipv4.ip_forward', '1'],
  ] as const) {
    await mustRun(exec, 'sysctl', ['-qw', `${key}=${value}`]);
  }
  return new IpvsProxier({ ...opts, exec, scheduler });
}
