// IP addresses and CIDRs as numbers, the way Go's net package reads and prints them (IPv4
// dotted quads, RFC 5952 IPv6), for the service IP allocator and Service validation.

export type IPFamily = 'IPv4' | 'IPv6';

export interface IP {
  family: IPFamily;
  value: bigint;
}

export interface CIDR {
  family: IPFamily;
  /** The network address (host bits cleared). */
  base: bigint;
  prefix: number;
  /** Address bits of the family: 32 or 128. */
  bits: number;
}

/** Parses an IPv4 octet the way Go's ParseIPSloppy does (decimal, leading zeros allowed). */
function parseIPv4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseIPv6(s: string): bigint | undefined {
  if (s.includes('%')) return undefined;
  // An embedded IPv4 address (::ffff:1.2.3.4) stands for the last two groups.
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.slice(lastColon + 1).includes('.')) {
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): bigint[] | undefined => {
    if (h === '') return [];
    const out: bigint[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(BigInt(`0x${g}`));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const explicit = head.length + rest.length;
  let all: bigint[];
  if (halves.length === 2) {
    if (explicit > 7) return undefined;
    all = [...head, ...Array<bigint>(8 - explicit).fill(0n), ...rest];
  } else {
    all = head;
    if (all.length !== 8) return undefined;
  }
  return all.reduce((acc, g) => (acc << 16n) | g, 0n);
}

/** The address in `s`, or undefined when it is not an IP address. */
export function parseIP(s: string): IP | undefined {
  if (typeof s !== 'string' || s === '') return undefined;
  if (s.includes(':')) {
    const v = parseIPv6(s);
    if (v === undefined) return undefined;
    // Go treats IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) as IPv4.
    if (v >> 32n === 0xffffn) return { family: 'IPv4', value: v & 0xffffffffn };
    return { family: 'IPv6', value: v };
  }
  const v = parseIPv4(s);
  return v === undefined ? undefined : { family: 'IPv4', value: v };
}

export function isIPv6String(s: string): boolean {
  return parseIP(s)?.family === 'IPv6';
}

/** Go's String(): dotted quad, or RFC 5952 (longest run of two or more zero groups as ::). */
export function formatIP(ip: IP): string {
  if (ip.family === 'IPv4') {
    const v = ip.value;
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  }
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (bestLen < 2) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

/** Parses `a.b.c.d/n` or `x::/n` (host bits are dropped, as Go's ParseCIDR does). */
export function parseCIDR(s: string): CIDR | undefined {
  if (typeof s !== 'string') return undefined;
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(p)) return undefined;
  // An IPv4-mapped address with a prefix is an IPv6 network to Go; keep it simple and refuse it.
  const bits = s.slice(0, slash).includes(':') ? 128 : 32;
  if (bits === 128 && ip.family === 'IPv4') return undefined;
  const prefix = Number(p);
  if (prefix > bits) return undefined;
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  return { family: ip.family, base: ip.value & ~hostMask, prefix, bits };
}

export function formatCIDR(c: CIDR): string {
  return `${formatIP({ family: c.family, value: c.base })}/${c.prefix}`;
}

/** How many addresses the CIDR holds (a bigint: an IPv6 /64 holds 2^64). */
export function cidrSize(c: CIDR): bigint {
  return 1n << BigInt(c.bits - c.prefix);
}

export function cidrContains(c: CIDR, ip: IP): boolean {
  return ip.family === c.family && ip.value >= c.base && ip.value < c.base + cidrSize(c);
}

/** Go's IsUnspecified, IsLoopback, IsLinkLocalUnicast, IsLinkLocalMulticast. */
export function ipClass(ip: IP): { unspecified: boolean; loopback: boolean; linkLocalUnicast: boolean; linkLocalMulticast: boolean } {
  const v = ip.value;
  if (ip.family === 'IPv4') {
    return {
      unspecified: v === 0n,
      loopback: v >> 24n === 127n,
      linkLocalUnicast: v >> 16n === 0xa9fen,
      linkLocalMulticast: v >> 8n === 0xe00000n,
    };
  }
  return {
    unspecified: v === 0n,
    loopback: v === 1n,
    linkLocalUnicast: v >> 118n === 0x3fan,
    linkLocalMulticast: v >> 112n === 0xff02n,
  };
}
