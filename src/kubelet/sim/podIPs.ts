// Pod IPs for one simulated node, from its podCIDR as a CNI host-local IPAM would hand them out:
// the network address and the first host (the bridge gateway) are never given, nor the broadcast.
import { formatIP, parseCIDR, type ParsedCIDR } from '../../controllers/nodeipam/cidrSet.js';
import { parseIP } from '../../controllers/nodeipam/cidrSet.js';

export class PodIPExhaustedError extends Error {
  override readonly name = 'PodIPExhaustedError';
  readonly code = 'PodIPExhausted';
}

export class PodIPAllocator {
  readonly cidr: ParsedCIDR;
  private readonly first: bigint;
  private readonly size: bigint;
  private next = 0n;
  private readonly byKey = new Map<string, string>();
  private readonly used = new Set<string>();

  constructor(cidr: string) {
    this.cidr = parseCIDR(cidr);
    const hostBits = BigInt(this.cidr.bits - this.cidr.prefix);
    const total = 1n << hostBits;
    // .0 is the network, .1 the gateway, the last (IPv4) the broadcast.
    this.first = this.cidr.ip + 2n;
    this.size = total - (this.cidr.bits === 32 ? 3n : 2n);
    if (this.size <= 0n) throw new PodIPExhaustedError(`podCIDR ${cidr} has no room for pods`);
  }

  /** The IP of `key` (a pod UID), allocating the next free one round-robin on first ask. */
  allocate(key: string): string {
    const have = this.byKey.get(key);
    if (have) return have;
    for (let tried = 0n; tried < this.size; tried++) {
      const ip = formatIP(this.first + this.next, this.cidr.bits);
      this.next = (this.next + 1n) % this.size;
      if (this.used.has(ip)) continue;
      this.used.add(ip);
      this.byKey.set(key, ip);
      return ip;
    }
    throw new PodIPExhaustedError(`no IP addresses available in range set: ${formatIP(this.first, this.cidr.bits)}-${formatIP(this.first + this.size - 1n, this.cidr.bits)}`);
  }

  /** Records an IP found on a pod (after a restart of the simulator); false if it is not in range or taken by another pod. */
  occupy(key: string, ip: string): boolean {
    const parsed = parseIP(ip);
    if (!parsed || parsed.bits !== this.cidr.bits || parsed.ip < this.first || parsed.ip >= this.first + this.size) return false;
    const owner = this.byKey.get(key);
    if (owner === ip) return true;
    if (this.used.has(ip) || owner) return false;
    this.used.add(ip);
    this.byKey.set(key, ip);
    return true;
  }

  release(key: string): void {
    const ip = this.byKey.get(key);
    if (!ip) return;
    this.byKey.delete(key);
    this.used.delete(ip);
  }

  get allocated(): number {
    return this.byKey.size;
  }
}
