// DNS messages on the wire: which queries are accepted (as miekg/dns, CoreDNS's library, decides),
// header-only error replies, EDNS0, and encoding a reply that fits the client's buffer (dropping
// records and setting TC when it does not).
import { randomInt } from 'node:crypto';
import * as packet from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Question } from 'dns-packet';
import type { PluginResult } from './kubernetesPlugin.js';
import { ipv6Bytes } from './names.js';

// dns-packet's per-record codecs exist at runtime but are missing from its type declarations.
const codec = packet as unknown as {
  answer: { encodingLength(a: Answer): number; encode(a: Answer, buf: Buffer, offset: number): Buffer };
  name: { encodingLength(n: string): number };
};

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** Extended RCODE 16: the query's EDNS version is not supported. */
export const BADVERS = 16;

export function rcodeName(n: number): string {
  return RCODES[n] ?? `RCODE${n}`;
}

export function rcodeNumber(name: string): number {
  const i = RCODES.indexOf(name);
  if (i >= 0) return i;
  const m = /^RCODE_?(\d+)$/.exec(name);
  return m ? Number(m[1]) : RCODE.SERVFAIL;
}

const QR = 0x8000;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
const RA = 0x0080;
const AD = 0x0020;
const CD = 0x0010;

export type Acceptance = { action: 'accept' } | { action: 'ignore' } | { action: 'reject'; rcode: number };

/**
 * What to do with raw bytes before parsing them: too short or a response → ignore (no reply is
 * possible or wanted); an opcode other than QUERY/NOTIFY → NOTIMP; section counts no query has
 * (not exactly one question, more than one answer or authority, more than two additionals) → FORMERR.
 */
export function acceptQuery(buf: Buffer): Acceptance {
  if (buf.length < 12) return { action: 'ignore' };
  const flags = buf.readUInt16BE(2);
  if (flags & QR) return { action: 'ignore' };
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0 && opcode !== 4) return { action: 'reject', rcode: RCODE.NOTIMP };
  if (buf.readUInt16BE(4) !== 1) return { action: 'reject', rcode: RCODE.FORMERR };
  if (buf.readUInt16BE(6) > 1 || buf.readUInt16BE(8) > 1 || buf.readUInt16BE(10) > 2) return { action: 'reject', rcode: RCODE.FORMERR };
  return { action: 'accept' };
}

/** A reply that is only a header: the query's ID, opcode and RD/CD bits, the rcode, empty sections. */
export function headerOnlyReply(query: Buffer, rcode: number): Buffer {
  const out = Buffer.alloc(12);
  const flags = query.readUInt16BE(2);
  out.writeUInt16BE(query.readUInt16BE(0), 0);
  out.writeUInt16BE(QR | (flags & 0x7800) | (flags & (RD | CD)) | (rcode & 0xf), 2);
  return out;
}

export interface EdnsInfo {
  /** The query carried an OPT record. */
  present: boolean;
  udpSize: number;
  version: number;
  dnssecOk: boolean;
}

export function ednsOf(q: DecodedPacket): EdnsInfo {
  const opt = (q.additionals ?? []).find((a): a is OptAnswer => a.type === 'OPT');
  if (!opt) return { present: false, udpSize: 512, version: 0, dnssecOk: false };
  return { present: true, udpSize: Math.max(512, opt.udpPayloadSize), version: opt.ednsVersion, dnssecOk: opt.flag_do };
}

export interface ReplyOptions {
  id: number;
  question: Question;
  /** The query's flags word (RD, CD and opcode are copied). */
  queryFlags: number;
  edns: EdnsInfo;
  /** Largest message the client takes: its EDNS buffer (or 512) over UDP, 65535 over TCP. */
  maxSize: number;
  /** Shuffle address records (the loadbalance plugin). */
  shuffle: boolean;
  /** An extended rcode (above 15) travels in the OPT record. */
  extendedRcode?: number;
}

/**
 * Encodes `result` as the reply to a query, with name compression (as every DNS server does, so as
 * many records fit in 512 bytes as CoreDNS fits), truncated to `maxSize` with TC set if records
 * had to go. dns-packet writes the record types it knows beyond those compressed here.
 */
export function encodeReply(result: PluginResult, o: ReplyOptions): Buffer {
  const rcode = o.extendedRcode ?? rcodeNumber(result.rcode);
  let flags = QR | (o.queryFlags & 0x7800) | (o.queryFlags & (RD | CD)) | (rcode & 0xf);
  if (result.authoritative) flags |= AA;
  if (result.recursionAvailable) flags |= RA;
  if (result.truncated) flags |= TC;
  const opt: OptAnswer | undefined = o.edns.present
    ? { name: '.', type: 'OPT', udpPayloadSize: o.edns.udpSize, extendedRcode: rcode >> 4, ednsVersion: 0, flags: o.edns.dnssecOk ? packet.DNSSEC_OK : 0, flag_do: o.edns.dnssecOk, options: [] }
    : undefined;
  const answers = o.shuffle ? roundRobin(result.answers) : result.answers;
  const additionals = o.shuffle ? roundRobin(result.additionals) : result.additionals;
  const w = new Writer(Math.min(o.maxSize, 65535) + 512);
  w.u16(o.id);
  w.u16(flags);
  w.u16(1);
  w.u16(0);
  w.u16(0);
  w.u16(0);
  w.name(o.question.name, true);
  w.u16(typeCode(o.question.type));
  w.u16(classCode(o.question.class ?? 'IN'));
  const optBytes = opt ? encodeWhole(opt) : undefined;
  const limit = o.maxSize - (optBytes?.length ?? 0);
  const counts = [0, 0, 0];
  let omitted = false;
  const sections = [answers, result.authorities, additionals];
  for (let s = 0; s < 3 && !omitted; s++) {
    for (const rr of sections[s]!) {
      if (rr.type === 'OPT') continue;
      const mark = w.mark();
      w.record(rr);
      if (w.pos > limit) {
        w.rollback(mark);
        omitted = true;
        break;
      }
      counts[s]!++;
    }
  }
  if (optBytes) {
    w.bytes(optBytes);
    counts[2]!++;
  }
  const out = w.finish();
  out.writeUInt16BE(flags | (omitted ? TC : 0), 2);
  out.writeUInt16BE(counts[0]!, 6);
  out.writeUInt16BE(counts[1]!, 8);
  out.writeUInt16BE(counts[2]!, 10);
  return out;
}

function typeNumber(t: string): number {
  const known: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, HINFO: 13, MX: 15, TXT: 16, AAAA: 28, SRV: 33, NAPTR: 35, OPT: 41, DS: 43, RRSIG: 46, NSEC: 47, DNSKEY: 48, NSEC3: 50, TLSA: 52, SVCB: 64, HTTPS: 65, SPF: 99, AXFR: 252, IXFR: 251, ANY: 255, CAA: 257 };
  const n = known[t];
  if (n !== undefined) return n;
  const m = /^UNKNOWN_(\d+)$/i.exec(t) ?? /^TYPE(\d+)$/i.exec(t);
  if (m) return Number(m[1]);
  // Every other name dns-packet knows: it tells us by encoding a question with it.
  const q = packet.encode({ questions: [{ name: '', type: t as Question['type'] }] });
  return q.readUInt16BE(13);
}

const typeCache = new Map<string, number>();
function typeCode(t: string): number {
  let n = typeCache.get(t);
  if (n === undefined) {
    n = typeNumber(t);
    typeCache.set(t, n);
  }
  return n;
}

function classCode(c: string): number {
  switch (c) {
    case 'IN':
      return 1;
    case 'CS':
      return 2;
    case 'CH':
      return 3;
    case 'HS':
      return 4;
    case 'ANY':
      return 255;
    default: {
      const m = /^UNKNOWN_(\d+)$/i.exec(c);
      return m ? Number(m[1]) : 1;
    }
  }
}

/** A whole record as dns-packet writes it (uncompressed). */
function encodeWhole(rr: Answer): Buffer {
  const len = codec.answer.encodingLength(rr);
  const buf = Buffer.alloc(len);
  codec.answer.encode(rr, buf, 0);
  return buf;
}

/** A message buffer with a compression table of the names written so far. */
class Writer {
  private buf: Buffer;
  pos = 0;
  private readonly names = new Map<string, number>();
  private added: string[] = [];

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.pos);
    this.pos += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }

  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  mark(): { pos: number; added: number } {
    return { pos: this.pos, added: this.added.length };
  }

  rollback(m: { pos: number; added: number }): void {
    this.pos = m.pos;
    for (const n of this.added.splice(m.added)) this.names.delete(n);
  }

  /** Writes a name, pointing at an earlier copy of its longest known suffix when `compress`. */
  name(name: string, compress: boolean): void {
    const trimmed = name.replace(/^\.|\.$/g, '');
    const labels = trimmed === '' ? [] : trimmed.split('.');
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.').toLowerCase();
      if (compress) {
        const at = this.names.get(suffix);
        if (at !== undefined) {
          this.u16(0xc000 | at);
          return;
        }
        if (this.pos < 0x3fff) {
          this.names.set(suffix, this.pos);
          this.added.push(suffix);
        }
      }
      const label = Buffer.from(labels[i]!, 'utf8');
      if (label.length > 63 || label.length === 0) throw new Error(`invalid DNS label in ${name}`);
      this.u8(label.length);
      this.bytes(label);
    }
    this.u8(0);
  }

  record(rr: Answer): void {
    const r = rr as Answer & { ttl?: number; class?: string; data?: unknown };
    const simple = r.type === 'A' || r.type === 'AAAA' || r.type === 'CNAME' || r.type === 'PTR' || r.type === 'NS' || r.type === 'SOA' || r.type === 'SRV' || r.type === 'MX';
    if (!simple) {
      // Owner name compressed; type, class, TTL and RDATA exactly as dns-packet encodes them.
      const whole = encodeWhole(rr);
      const ownerLen = codec.name.encodingLength(rr.name);
      this.name(rr.name, true);
      this.bytes(whole.subarray(ownerLen));
      return;
    }
    this.name(r.name, true);
    this.u16(typeCode(r.type));
    this.u16(classCode(r.class ?? 'IN'));
    this.u32(r.ttl ?? 0);
    const lenAt = this.pos;
    this.u16(0);
    const start = this.pos;
    switch (rr.type) {
      case 'A':
        for (const part of rr.data.split('.')) this.u8(Number(part));
        break;
      case 'AAAA':
        for (const b of ipv6Bytes(rr.data)) this.u8(b);
        break;
      case 'CNAME':
      case 'PTR':
      case 'NS':
        this.name(rr.data, true);
        break;
      case 'MX':
        this.u16(rr.data.preference ?? 0);
        this.name(rr.data.exchange, true);
        break;
      case 'SOA':
        this.name(rr.data.mname, true);
        this.name(rr.data.rname, true);
        this.u32(rr.data.serial ?? 0);
        this.u32(rr.data.refresh ?? 0);
        this.u32(rr.data.retry ?? 0);
        this.u32(rr.data.expire ?? 0);
        this.u32(rr.data.minimum ?? 0);
        break;
      case 'SRV':
        this.u16(rr.data.priority ?? 0);
        this.u16(rr.data.weight ?? 0);
        this.u16(rr.data.port);
        // RFC 2782: the target is never compressed.
        this.name(rr.data.target, false);
        break;
      default:
        break;
    }
    this.buf.writeUInt16BE(this.pos - start, lenAt);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/**
 * The loadbalance plugin's round_robin: CNAMEs first, then other records, then address records
 * and MX records each in random order.
 */
export function roundRobin(records: Answer[]): Answer[] {
  let address = 0;
  for (const r of records) if (r.type === 'A' || r.type === 'AAAA' || r.type === 'MX') address++;
  if (address < 2) return records;
  const cname: Answer[] = [];
  const addr: Answer[] = [];
  const mx: Answer[] = [];
  const rest: Answer[] = [];
  for (const r of records) {
    if (r.type === 'CNAME') cname.push(r);
    else if (r.type === 'A' || r.type === 'AAAA') addr.push(r);
    else if (r.type === 'MX') mx.push(r);
    else rest.push(r);
  }
  shuffle(addr);
  shuffle(mx);
  return [...cname, ...rest, ...addr, ...mx];
}

function shuffle<T>(a: T[]): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}

/** A new query message (for lookups the server makes itself). */
export function encodeQuery(name: string, type: string, opts: { id?: number; recursionDesired?: boolean; udpSize?: number } = {}): Buffer {
  return packet.encode({
    id: opts.id ?? randomInt(65536),
    type: 'query',
    flags: opts.recursionDesired === false ? 0 : RD,
    questions: [{ name: name.replace(/\.$/, ''), type: type as Question['type'], class: 'IN' }],
    ...(opts.udpSize ? { additionals: [{ name: '.', type: 'OPT', udpPayloadSize: opts.udpSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as OptAnswer] } : {}),
  });
}

export const FLAGS = { QR, AA, TC, RD, RA, AD, CD };
