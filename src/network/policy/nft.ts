// The edge where policy rules meet the kernel: `nft -f -` with a whole script (one transaction),
// and the bridge sysctl that makes bridged pod-to-pod traffic visible to the inet forward hook.
// Optionally inside a named network namespace (tests, and nodes that live in one).
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';

export class NftError extends Error {
  override readonly name = 'NftError';
  constructor(
    readonly code: 'NftFailed' | 'NftMissing' | 'BridgeNetfilterMissing',
    message: string,
  ) {
    super(message);
  }
}

export interface NftRunnerOptions {
  /** Run inside `ip netns exec <netns>` (a name under /var/run/netns). */
  netns?: string;
  /** The nft binary (default `nft` from PATH). */
  nftPath?: string;
}

function run(argv: string[], input: string | undefined, signal?: AbortSignal): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.on('error', () => undefined); // nft may exit before reading everything; its stderr says why
    child.stdin.end(input ?? '');
  });
}

export class NftRunner {
  constructor(readonly options: NftRunnerOptions = {}) {}

  private wrap(argv: string[]): string[] {
    return this.options.netns ? ['ip', 'netns', 'exec', this.options.netns, ...argv] : argv;
  }

  /** Applies a script in one transaction; on failure nothing of it is applied and the kernel keeps the previous rules. */
  async apply(script: string, signal?: AbortSignal): Promise<void> {
    let r;
    try {
      r = await run(this.wrap([this.options.nftPath ?? 'nft', '-f', '-']), script, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NftError('NftMissing', 'nft is not installed (Debian: apt-get install nftables); NetworkPolicy cannot be enforced');
      throw err;
    }
    if (r.code !== 0) throw new NftError('NftFailed', `nft -f failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(0, 6).join(' | ')}`);
  }

  /** `nft list table inet <table>` (for tests and debugging); '' when it is absent. */
  async listTable(table: string): Promise<string> {
    const r = await run(this.wrap([this.options.nftPath ?? 'nft', 'list', 'table', 'inet', table]), undefined);
    return r.code === 0 ? r.stdout : '';
  }

  /**
   * net.bridge.bridge-nf-call-iptables=1 (and ip6tables): without it, packets between pods on the
   * same bridge are switched at layer 2 and never reach the forward hook, so policies would not see them.
   */
  async enableBridgeNetfilter(): Promise<void> {
    const keys = ['bridge-nf-call-iptables', 'bridge-nf-call-ip6tables'];
    if (this.options.netns) {
      const script = `set -e; for k in ${keys.join(' ')}; do f=/proc/sys/net/bridge/$k; [ "$(cat $f)" = 1 ] || echo 1 > $f; done`;
      const r = await run(this.wrap(['sh', '-c', script]), undefined);
      if (r.code !== 0) throw new NftError('BridgeNetfilterMissing', `cannot set net.bridge.${keys[0]}=1 (is br_netfilter loaded? modprobe br_netfilter): ${r.stderr.trim()}`);
      return;
    }
    for (const k of keys) {
      try {
        // Written only when off: most kernels with br_netfilter already default to 1.
        if ((await readFile(`/proc/sys/net/bridge/${k}`, 'utf8')).trim() === '1') continue;
        await writeFile(`/proc/sys/net/bridge/${k}`, '1\n');
      } catch (err) {
        throw new NftError('BridgeNetfilterMissing', `cannot set net.bridge.${k}=1 (is br_netfilter loaded? modprobe br_netfilter): ${(err as Error).message}`);
      }
    }
  }
}
