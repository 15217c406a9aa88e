// Upstream's allocation bitmaps for Service ClusterIPs and NodePorts: one bit per address or
// port, random allocation that prefers the upper ("dynamic") block so that the lower ("static")
// block stays free for explicitly requested values (KEP-3070/3668), and the RangeAllocation
// snapshot format (the bitmap as a big-endian integer, as Go's big.Int.Bytes()).
import { randomInt } from 'node:crypto';
import { type CIDR, type IP, cidrContains, cidrSize, formatCIDR, formatIP } from './ip.js';

export type AllocationErrorCode = 'Full' | 'Allocated' | 'NotInRange' | 'MismatchedRange';

/** An expected allocation outcome, with upstream's message text. */
export class AllocationError extends Error {
  override readonly name = 'AllocationError';
  constructor(
    readonly code: AllocationErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A contiguous block of `max` items; offsets below `staticSize` are taken by random allocation only when the rest is full. */
export class AllocationBitmap {
  private bits: Uint8Array;
  private count = 0;

  constructor(
    readonly max: number,
    readonly staticSize = 0,
    private readonly random: (n: number) => number = (n) => randomInt(n),
  ) {
    this.bits = new Uint8Array(Math.ceil(max / 8));
  }

  clone(): AllocationBitmap {
    const c = new AllocationBitmap(this.max, this.staticSize, this.random);
    c.bits = this.bits.slice();
    c.count = this.count;
    return c;
  }

  has(offset: number): boolean {
    if (offset < 0 || offset >= this.max) return false;
    return (this.bits[offset >> 3]! & (1 << (offset & 7))) !== 0;
  }

  /** Takes `offset`; false when it was already taken. */
  allocate(offset: number): boolean {
    if (offset < 0 || offset >= this.max) throw new RangeError(`offset ${offset} out of range [0,${this.max}]`);
    if (this.has(offset)) return false;
    this.bits[offset >> 3]! |= 1 << (offset & 7);
    this.count++;
    return true;
  }

  release(offset: number): void {
    if (!this.has(offset)) return;
    this.bits[offset >> 3]! &= ~(1 << (offset & 7));
    this.count--;
  }

  /** A free offset chosen as upstream's randomScanStrategyWithOffset does, or undefined when full. */
  allocateNext(): number | undefined {
    if (this.count >= this.max) return undefined;
    const dynamicSize = this.max - this.staticSize;
    const found = this.scan(this.staticSize, dynamicSize) ?? this.scan(0, this.staticSize);
    if (found !== undefined) this.allocate(found);
    return found;
  }

  /** A random start in [from, from+size), then forward with wrap-around. */
  private scan(from: number, size: number): number | undefined {
    if (size <= 0) return undefined;
    const start = this.random(size);
    for (let i = 0; i < size; ) {
      const at = from + ((start + i) % size);
      // Skip whole taken bytes: nearly full ranges stay cheap to scan.
      if ((at & 7) === 0 && this.bits[at >> 3] === 0xff && i + 8 <= size && ((start + i) % size) + 8 <= size) {
        i += 8;
        continue;
      }
      if (!this.has(at)) return at;
      i++;
    }
    return undefined;
  }

  free(): number {
    return this.max - this.count;
  }

  used(): number {
    return this.count;
  }

  forEach(fn: (offset: number) => void): void {
    for (let b = 0; b < this.bits.length; b++) {
      const byte = this.bits[b]!;
      if (byte === 0) continue;
      for (let i = 0; i < 8; i++) if (byte & (1 << i)) fn(b * 8 + i);
    }
  }

  /** The bitmap as big.Int.Bytes(): big-endian, no leading zero bytes (empty when nothing is taken). */
  snapshot(): Buffer {
    let hi = this.bits.length - 1;
    while (hi >= 0 && this.bits[hi] === 0) hi--;
    const out = Buffer.alloc(hi + 1);
    for (let j = 0; j <= hi; j++) out[hi - j] = this.bits[j]!;
    return out;
  }

  restore(data: Uint8Array): void {
    this.bits = new Uint8Array(Math.ceil(this.max / 8));
    this.count = 0;
    for (let j = 0; j < data.length; j++) {
      const byte = data[data.length - 1 - j]!;
      if (byte === 0) continue;
      for (let i = 0; i < 8; i++) {
        const offset = j * 8 + i;
        // Bits beyond the range (a snapshot of a larger range) are dropped.
        if (byte & (1 << i) && offset < this.max) this.allocate(offset);
      }
    }
  }
}

/** One allocatable range: service IPs of one family, or node ports. */
export interface AllocationRange<T> {
  /** The RangeAllocation `range` string: `10.96.0.0/12`, `30000-32767`. */
  readonly spec: string;
  readonly bitmap: AllocationBitmap;
  /** Takes `v`; throws AllocationError NotInRange / Allocated. */
  allocate(v: T): void;
  /** Takes a random free value; throws AllocationError Full. */
  allocateNext(): T;
  release(v: T): void;
  has(v: T): boolean;
  contains(v: T): boolean;
  forEach(fn: (v: T) => void): void;
  /** A copy to try changes on. */
  clone(): AllocationRange<T>;
}

/** Upstream's calculateRangeOffset: min(max(lo, size/step), hi), 0 for tiny ranges. */
export function staticBlockSize(size: number, lo: number, hi: number, step: number): number {
  if (size <= lo) return 0;
  return Math.min(Math.max(lo, Math.floor(size / step)), hi);
}

/** Service IPs of one CIDR: every address but the network address (and IPv4's broadcast). */
export class IPRange implements AllocationRange<IP> {
  readonly spec: string;
  readonly bitmap: AllocationBitmap;
  private readonly first: bigint;

  constructor(
    readonly cidr: CIDR,
    bitmap?: AllocationBitmap,
  ) {
    this.spec = formatCIDR(cidr);
    this.first = cidr.base + 1n;
    const size = cidrSize(cidr);
    let max: bigint;
    if (cidr.family === 'IPv6') {
      // The bitmap's size is bounded, as upstream's (an IPv6 range uses its first 64Ki addresses).
      max = (size > 65536n ? 65536n : size) - 1n;
    } else {
      max = size - 2n;
    }
    const n = Number(max < 0n ? 0n : max);
    const offset = staticBlockSize(size > 1n << 40n ? Number.MAX_SAFE_INTEGER : Number(size), 16, 256, 16);
    this.bitmap = bitmap ?? new AllocationBitmap(n, Math.min(offset, n));
  }

  get family(): CIDR['family'] {
    return this.cidr.family;
  }

  clone(): IPRange {
    return new IPRange(this.cidr, this.bitmap.clone());
  }

  private offsetOf(ip: IP): number | undefined {
    if (!cidrContains(this.cidr, ip)) return undefined;
    const off = ip.value - this.first;
    if (off < 0n || off >= BigInt(this.bitmap.max)) return undefined;
    return Number(off);
  }

  contains(ip: IP): boolean {
    return this.offsetOf(ip) !== undefined;
  }

  allocate(ip: IP): void {
    const off = this.offsetOf(ip);
    if (off === undefined) throw notInRangeIP(ip, this.spec);
    if (!this.bitmap.allocate(off)) throw new AllocationError('Allocated', 'provided IP is already allocated');
  }

  allocateNext(): IP {
    const off = this.bitmap.allocateNext();
    if (off === undefined) throw new AllocationError('Full', 'range is full');
    return { family: this.cidr.family, value: this.first + BigInt(off) };
  }

  release(ip: IP): void {
    const off = this.offsetOf(ip);
    if (off !== undefined) this.bitmap.release(off);
  }

  has(ip: IP): boolean {
    const off = this.offsetOf(ip);
    return off !== undefined && this.bitmap.has(off);
  }

  forEach(fn: (ip: IP) => void): void {
    this.bitmap.forEach((off) => fn({ family: this.cidr.family, value: this.first + BigInt(off) }));
  }
}

export function notInRangeIP(ip: IP, spec: string): AllocationError {
  return new AllocationError('NotInRange', `the provided IP (${formatIP(ip)}) is not in the valid range. The range of valid IPs is ${spec}`);
}

/** A node port range, `--service-node-port-range`. */
export interface PortSpan {
  base: number;
  size: number;
}

/** Upstream's net.ParsePortRange: `30000-32767`, `30000+2768` or a single port. */
export function parsePortRange(s: string): PortSpan | undefined {
  const t = s.trim();
  let m = /^(\d+)-(\d+)$/.exec(t);
  if (m) {
    const lo = Number(m[1]);
    const hi = Number(m[2]);
    if (hi < lo || lo > 65535 || hi > 65535) return undefined;
    return { base: lo, size: hi - lo + 1 };
  }
  m = /^(\d+)\+(\d+)$/.exec(t);
  if (m) {
    const lo = Number(m[1]);
    const n = Number(m[2]);
    if (lo > 65535 || lo + n > 65536) return undefined;
    return { base: lo, size: n + 1 };
  }
  if (/^\d+$/.test(t) && Number(t) <= 65535) return { base: Number(t), size: 1 };
  return undefined;
}

export function formatPortRange(p: PortSpan): string {
  return p.size === 0 ? '' : `${p.base}-${p.base + p.size - 1}`;
}

export class PortRange implements AllocationRange<number> {
  readonly spec: string;
  readonly bitmap: AllocationBitmap;

  constructor(
    readonly span: PortSpan,
    bitmap?: AllocationBitmap,
  ) {
    this.spec = formatPortRange(span);
    this.bitmap = bitmap ?? new AllocationBitmap(span.size, staticBlockSize(span.size, 16, 128, 32));
  }

  clone(): PortRange {
    return new PortRange(this.span, this.bitmap.clone());
  }

  contains(port: number): boolean {
    return Number.isInteger(port) && port >= this.span.base && port < this.span.base + this.span.size;
  }

  allocate(port: number): void {
    if (!this.contains(port)) throw new AllocationError('NotInRange', `provided port is not in the valid range. The range of valid ports is ${this.spec}`);
    if (!this.bitmap.allocate(port - this.span.base)) throw new AllocationError('Allocated', 'provided port is already allocated');
  }

  allocateNext(): number {
    const off = this.bitmap.allocateNext();
    if (off === undefined) throw new AllocationError('Full', 'range is full');
    return this.span.base + off;
  }

  release(port: number): void {
    if (this.contains(port)) this.bitmap.release(port - this.span.base);
  }

  has(port: number): boolean {
    return this.contains(port) && this.bitmap.has(port - this.span.base);
  }

  forEach(fn: (port: number) => void): void {
    this.bitmap.forEach((off) => fn(this.span.base + off));
  }
}
