// ServiceLB's address pool (`--servicelb-pool`): single addresses, CIDRs and `first-last` ranges,
// IPv4 and IPv6. Addresses are handed out in the order the entries were given.

import { formatIP, parseCIDR, parseIP } from '../../controllers/nodeipam/cidrSet.js';

export type IPFamily = 'IPv4' | 'IPv6';

export interface PoolRange {
  /** The entry as written, for messages. */
  entry: string;
  family: IPFamily;
  bits: 32 | 128;
  first: bigint;
  last: bigint;
}

export class PoolParseError extends Error {
  override readonly name = 'PoolParseError';
  constructor(
    readonly entry: string,
    message: string,
  ) {
    super(message);
  }
}

/** The family of an IP string, undefined when it is not an IP. */
export function ipFamilyOf(ip: string): IPFamily | undefined {
  const p = parseIP(ip);
  return p ? (p.bits === 32 ? 'IPv4' : 'IPv6') : undefined;
}

/** The canonical spelling of an IP (Go's net.IP.String), undefined when it is not an IP. */
export function canonicalIP(ip: string): string | undefined {
  const p = parseIP(ip.trim());
  return p ? formatIP(p.ip, p.bits) : undefined;
}

/** Orders IPs numerically, IPv4 before IPv6 (unparsable last, by text). */
export function compareIPs(a: string, b: string): number {
  const pa = parseIP(a);
  const pb = parseIP(b);
  if (!pa || !pb) return pa ? -1 : pb ? 1 : a.localeCompare(b);
  if (pa.bits !== pb.bits) return pa.bits - pb.bits;
  return pa.ip < pb.ip ? -1 : pa.ip > pb.ip ? 1 : 0;
}

function parseEntry(entry: string): PoolRange {
  const text = entry.trim();
  const family = (bits: 32 | 128): IPFamily => (bits === 32 ? 'IPv4' : 'IPv6');
  if (text.includes('/')) {
    let c;
    try {
      c = parseCIDR(text);
    } catch {
      throw new PoolParseError(entry, `invalid CIDR "${entry}"`);
    }
    const size = 1n << BigInt(c.bits - c.prefix);
    let first = c.ip;
    let last = c.ip + size - 1n;
    // Leave out addresses no host can use: an IPv4 subnet's network and broadcast addresses, an
    // IPv6 subnet's router anycast address (its first).
    if (c.bits === 32 && c.prefix <= 30) {
      first += 1n;
      last -= 1n;
    } else if (c.bits === 128 && c.prefix <= 126) {
      first += 1n;
    }
    return { entry: text, family: family(c.bits), bits: c.bits, first, last };
  }
  if (text.includes('-')) {
    const [a, b, ...rest] = text.split('-').map((s) => s.trim());
    const pa = parseIP(a ?? '');
    const pb = parseIP(b ?? '');
    if (rest.length || !pa || !pb) throw new PoolParseError(entry, `invalid address range "${entry}": want FIRST-LAST, two addresses`);
    if (pa.bits !== pb.bits) throw new PoolParseError(entry, `invalid address range "${entry}": both ends must be of one IP family`);
    if (pa.ip > pb.ip) throw new PoolParseError(entry, `invalid address range "${entry}": the first address is after the last`);
    return { entry: text, family: family(pa.bits), bits: pa.bits, first: pa.ip, last: pb.ip };
  }
  const p = parseIP(text);
  if (!p) throw new PoolParseError(entry, `invalid address "${entry}": want an IP, a CIDR or FIRST-LAST`);
  return { entry: text, family: family(p.bits), bits: p.bits, first: p.ip, last: p.ip };
}

/** An explicit set of load-balancer addresses. */
export class AddressPool {
  private constructor(readonly ranges: readonly PoolRange[]) {}

  /** Parses pool entries (each an IP, CIDR or FIRST-LAST); throws PoolParseError naming the bad one. */
  static parse(entries: readonly string[]): AddressPool {
    const ranges = entries.map((e) => e.trim()).filter(Boolean).map(parseEntry);
    if (ranges.length === 0) throw new PoolParseError('', 'the address pool is empty');
    return new AddressPool(ranges);
  }

  hasFamily(family: IPFamily): boolean {
    return this.ranges.some((r) => r.family === family);
  }

  contains(ip: string): boolean {
    const p = parseIP(ip);
    return !!p && this.ranges.some((r) => r.bits === p.bits && p.ip >= r.first && p.ip <= r.last);
  }

  /**
   * The pool's addresses of `family`, in order, lazily (a /64 is never listed whole): callers stop
   * at the first that suits them.
   */
  *addresses(family: IPFamily): Generator<string> {
    for (const r of this.ranges) {
      if (r.family !== family) continue;
      for (let ip = r.first; ip <= r.last; ip++) yield formatIP(ip, r.bits);
    }
  }

  toString(): string {
    return this.ranges.map((r) => r.entry).join(',');
  }
}
