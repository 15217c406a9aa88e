// Upstream's cidrset: a cluster CIDR cut into node-sized subnets, handed out round-robin from the
// last allocation, with occupy/release for subnets found on (or taken off) nodes. IPv4 and IPv6.

export class CidrSetError extends Error {
  override readonly name = 'CidrSetError';
  constructor(
    readonly code: 'NoCIDRsRemaining' | 'SubNetTooBig' | 'InvalidCIDR' | 'OutOfRange',
    message: string,
  ) {
    super(message);
  }
}

/** Upstream's clusterSubNetMaxDiff: at most 2^16 node subnets per cluster CIDR. */
const CLUSTER_SUBNET_MAX_DIFF = 16;

export interface ParsedCIDR {
  ip: bigint;
  prefix: number;
  bits: 32 | 128;
}

export function parseIP(s: string): { ip: bigint; bits: 32 | 128 } | undefined {
  if (s.includes(':')) {
    const [head, tail] = s.split('::') as [string, string | undefined];
    if (s.split('::').length > 2) return undefined;
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
    return { ip: groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g, 16)), 0n), bits: 128 };
  }
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return { ip: parts.reduce((acc, p) => (acc << 8n) + BigInt(Number(p)), 0n), bits: 32 };
}

export function formatIP(ip: bigint, bits: 32 | 128): string {
  if (bits === 32) return [24n, 16n, 8n, 0n].map((s) => String((ip >> s) & 255n)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((ip >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups, as Go's net.IP.String does (runs of 2 or more).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** A CIDR with its address masked to the prefix. */
export function parseCIDR(s: string): ParsedCIDR {
  const [addr, len] = s.trim().split('/') as [string, string | undefined];
  const ip = parseIP(addr);
  const prefix = Number(len);
  if (!ip || len === undefined || !/^\d+$/.test(len) || prefix > ip.bits) throw new CidrSetError('InvalidCIDR', `invalid CIDR address: ${s}`);
  return { ip: ip.ip & mask(prefix, ip.bits), prefix, bits: ip.bits };
}

function mask(prefix: number, bits: number): bigint {
  const all = (1n << BigInt(bits)) - 1n;
  return all ^ ((1n << BigInt(bits - prefix)) - 1n);
}

export function formatCIDR(c: ParsedCIDR): string {
  return `${formatIP(c.ip, c.bits)}/${c.prefix}`;
}

export class CidrSet {
  readonly cluster: ParsedCIDR;
  readonly maxCIDRs: number;
  private readonly used: Uint8Array;
  private nextCandidate = 0;
  private allocated = 0;

  constructor(
    clusterCIDR: string,
    readonly nodeMaskSize: number,
  ) {
    this.cluster = parseCIDR(clusterCIDR);
    if (nodeMaskSize < this.cluster.prefix || nodeMaskSize > this.cluster.bits) throw new CidrSetError('InvalidCIDR', `node CIDR mask size ${nodeMaskSize} does not fit in cluster CIDR ${clusterCIDR}`);
    if (nodeMaskSize - this.cluster.prefix > CLUSTER_SUBNET_MAX_DIFF) throw new CidrSetError('SubNetTooBig', 'New CIDR set failed; the node CIDR size is too big');
    this.maxCIDRs = 2 ** (nodeMaskSize - this.cluster.prefix);
    this.used = new Uint8Array(this.maxCIDRs);
  }

  /** Subnets in use. */
  get allocatedCount(): number {
    return this.allocated;
  }

  private cidrAt(i: number): string {
    const ip = this.cluster.ip + (BigInt(i) << BigInt(this.cluster.bits - this.nodeMaskSize));
    return formatCIDR({ ip, prefix: this.nodeMaskSize, bits: this.cluster.bits });
  }

  /** The next free subnet after the last one handed out. */
  allocateNext(): string {
    for (let i = 0; i < this.maxCIDRs; i++) {
      const c = (this.nextCandidate + i) % this.maxCIDRs;
      if (this.used[c]) continue;
      this.used[c] = 1;
      this.allocated++;
      this.nextCandidate = (c + 1) % this.maxCIDRs;
      return this.cidrAt(c);
    }
    throw new CidrSetError('NoCIDRsRemaining', 'CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range');
  }

  /** The node-subnet indices `cidr` covers (getBeginningAndEndIndices). */
  private indices(cidr: string): [number, number] {
    const c = parseCIDR(cidr);
    if (c.bits !== this.cluster.bits) throw new CidrSetError('OutOfRange', `cidr ${cidr} is out the range of cluster cidr ${formatCIDR(this.cluster)}`);
    const inCluster = (c.ip & mask(this.cluster.prefix, c.bits)) === this.cluster.ip;
    const containsCluster = (this.cluster.ip & mask(c.prefix, c.bits)) === c.ip;
    if (!inCluster && !containsCluster) throw new CidrSetError('OutOfRange', `cidr ${cidr} is out the range of cluster cidr ${formatCIDR(this.cluster)}`);
    if (this.cluster.prefix >= c.prefix) return [0, this.maxCIDRs - 1];
    const shift = BigInt(c.bits - this.nodeMaskSize);
    const first = c.ip & mask(this.nodeMaskSize, c.bits);
    const last = (c.ip | ((1n << BigInt(c.bits - c.prefix)) - 1n)) & mask(this.nodeMaskSize, c.bits);
    return [Number((first - this.cluster.ip) >> shift), Number((last - this.cluster.ip) >> shift)];
  }

  /** Marks the subnets `cidr` covers as used. */
  occupy(cidr: string): void {
    const [b, e] = this.indices(cidr);
    for (let i = b; i <= e; i++) {
      if (!this.used[i]) this.allocated++;
      this.used[i] = 1;
    }
  }

  /** Frees the subnets `cidr` covers. */
  release(cidr: string): void {
    const [b, e] = this.indices(cidr);
    for (let i = b; i <= e; i++) {
      if (this.used[i]) this.allocated--;
      this.used[i] = 0;
    }
  }

  isUsed(cidr: string): boolean {
    const [b, e] = this.indices(cidr);
    for (let i = b; i <= e; i++) if (this.used[i]) return true;
    return false;
  }
}
