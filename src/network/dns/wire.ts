// DNS messages on the wire: which queries are accepted (as miekg/dns, CoreDNS's library, decides),
// header-only error replies, EDNS0, and encoding a reply that fits the client's buffer (dropping
// records and setting TC when it does not).
import { randomInt } from 'node:crypto';
import * as packet from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Question } from 'dns-packet';
import type { PluginResult } from './kubernetesPlugin.js';

// dns-packet's per-record codecs exist at runtime but are missing from its type declarations.
const codec = packet as unknown as {
  question: { encodingLength(q: Question): number };
  answer: { encodingLength(a: Answer): number };
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

/** Encodes `result` as the reply to a query, truncated to `maxSize` with TC set if records had to go. */
export function encodeReply(result: PluginResult, o: ReplyOptions): Buffer {
  const rcode = o.extendedRcode ?? rcodeNumber(result.rcode);
  let flags = QR | (o.queryFlags & 0x7800) | (o.queryFlags & (RD | CD)) | (rcode & 0xf);
  if (result.authoritative) flags |= AA;
  if (result.recursionAvailable) flags |= RA;
  if (result.truncated) flags |= TC;
  const additionals = [...result.additionals];
  const opt: OptAnswer | undefined = o.edns.present
    ? { name: '.', type: 'OPT', udpPayloadSize: o.edns.udpSize, extendedRcode: rcode >> 4, ednsVersion: 0, flags: o.edns.dnssecOk ? packet.DNSSEC_OK : 0, flag_do: o.edns.dnssecOk, options: [] }
    : undefined;
  let answers = result.answers;
  if (o.shuffle) {
    answers = roundRobin(answers);
  }
  const full = { id: o.id, type: 'response' as const, flags, questions: [o.question], answers, authorities: result.authorities, additionals: opt ? [...roundRobin(additionals), opt] : roundRobin(additionals) };
  const buf = packet.encode(full);
  if (buf.length <= o.maxSize) return buf;
  // Too big: keep the question and OPT, then as many records as fit, in section order.
  let size = 12 + codec.question.encodingLength(o.question) + (opt ? codec.answer.encodingLength(opt) : 0);
  const keep: [Answer[], Answer[], Answer[]] = [[], [], []];
  let omitted = false;
  const sections = [full.answers, full.authorities, additionals];
  for (let s = 0; s < 3 && !omitted; s++) {
    for (const rr of sections[s]!) {
      const len = codec.answer.encodingLength(rr);
      if (size + len > o.maxSize) {
        omitted = true;
        break;
      }
      size += len;
      keep[s]!.push(rr);
    }
  }
  return packet.encode({ ...full, flags: flags | (omitted ? TC : 0), answers: keep[0], authorities: keep[1], additionals: opt ? [...keep[2], opt] : keep[2] });
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
