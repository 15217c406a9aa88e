// The pod-template-hash (upstream's controller.ComputeHash): FNV-32a of go-spew's `%#v` dump of the
// Go PodTemplateSpec (SortKeys, DisableMethods), salted with collisionCount, rendered through
// rand.SafeEncodeString. ReplicaSet names are `<deployment>-<hash>`, so the dump must be the one a
// kube-controller-manager would print for the same object, decoded from protobuf as it receives it
// (empty lists and maps are nil there).

import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import { GO_TYPES } from './podTemplateGoTypes.js';

const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/** Upstream's rand.SafeEncodeString: each character mapped into a vowel-free alphabet. */
export function safeEncodeString(s: string): string {
  let out = '';
  for (const ch of s) out += ALPHANUMS[ch.codePointAt(0)! % ALPHANUMS.length];
  return out;
}

/** FNV-1a, 32 bits. */
export function fnv32a(data: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (const b of data) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** `pod-template-hash` of a template, as upstream's ComputeHash(template, collisionCount). */
export function computeHash(template: Readonly<PodTemplateSpec>, collisionCount?: number): string {
  let h = fnv32a(Buffer.from(spewPodTemplate(template), 'utf8'));
  if (collisionCount !== undefined && collisionCount !== null) {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(collisionCount >>> 0, 0);
    h = fnv32a(b, h);
  }
  return safeEncodeString(String(h));
}

/** go-spew's `%#v` dump of the Go v1.PodTemplateSpec this JSON decodes to. */
export function spewPodTemplate(template: Readonly<PodTemplateSpec>): string {
  const out: string[] = [];
  dump('v1.PodTemplateSpec', template, true, out);
  return out.join('');
}

const INTS = new Set(['int', 'int8', 'int16', 'int32', 'int64', 'uint', 'uint8', 'uint16', 'uint32', 'uint64']);

type Kind = { k: 'ptr' | 'slice'; elem: string } | { k: 'map'; key: string; elem: string } | { k: 'struct'; fields: ReadonlyArray<readonly [string, string, string]> } | { k: 'string' | 'bool' | 'int' } | { k: 'special' };

const SPECIAL = new Set(['resource.Quantity', 'v1.Time', 'intstr.IntOrString']);

function kindOf(t: string): Kind {
  if (t.startsWith('*')) return { k: 'ptr', elem: t.slice(1) };
  if (t.startsWith('[]')) return { k: 'slice', elem: t.slice(2) };
  if (t.startsWith('map[')) {
    let depth = 0;
    for (let i = 3; i < t.length; i++) {
      if (t[i] === '[') depth++;
      else if (t[i] === ']' && --depth === 0) return { k: 'map', key: t.slice(4, i), elem: t.slice(i + 1) };
    }
    throw new Error(`bad map type ${t}`);
  }
  if (t === 'string' || t === 'types.UID') return { k: 'string' };
  if (t === 'bool') return { k: 'bool' };
  if (INTS.has(t)) return { k: 'int' };
  if (SPECIAL.has(t)) return { k: 'special' };
  const def = GO_TYPES[t];
  if (!def) throw new Error(`no Go layout for ${t}`);
  if ('fields' in def) return { k: 'struct', fields: def.fields };
  const u = kindOf(def.underlying);
  return u;
}

type JsonObject = Readonly<Record<string, unknown>>;
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Writes value `v` of Go type `t`; `showType` is spew's "not ignoreNextType" under `%#v`. */
function dump(t: string, v: unknown, showType: boolean, out: string[]): void {
  const kind = kindOf(t);
  if (kind.k === 'ptr') {
    if (v === undefined || v === null) {
      out.push(showType ? `(${t})<nil>` : '<nil>');
      return;
    }
    out.push(showType ? `(${t})` : '<*>');
    dump(kind.elem, v, false, out);
    return;
  }
  if (showType) out.push(`(${t})`);
  switch (kind.k) {
    case 'string':
      out.push(typeof v === 'string' ? v : '');
      return;
    case 'bool':
      out.push(v === true ? 'true' : 'false');
      return;
    case 'int':
      out.push(typeof v === 'number' ? String(Math.trunc(v)) : typeof v === 'string' && /^-?\d+$/.test(v) ? v : '0');
      return;
    case 'slice': {
      // Protobuf decodes an empty repeated field as nil.
      if (!Array.isArray(v) || v.length === 0) {
        out.push('<nil>');
        return;
      }
      out.push('[');
      v.forEach((e, i) => {
        if (i > 0) out.push(' ');
        dump(kind.elem, e, false, out);
      });
      out.push(']');
      return;
    }
    case 'map': {
      const keys = isObject(v) ? Object.keys(v) : [];
      if (keys.length === 0) {
        out.push('<nil>');
        return;
      }
      // Go compares strings bytewise (UTF-8).
      keys.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      out.push('map[');
      keys.forEach((k, i) => {
        if (i > 0) out.push(' ');
        dump(kind.key, k, false, out);
        out.push(':');
        dump(kind.elem, (v as JsonObject)[k], false, out);
      });
      out.push(']');
      return;
    }
    case 'struct': {
      const obj = isObject(v) ? v : {};
      out.push('{');
      kind.fields.forEach(([name, ft, json], i) => {
        if (i > 0) out.push(' ');
        out.push(name, ':');
        dump(ft, json === '' ? obj : json === '-' ? undefined : obj[json], true, out);
      });
      out.push('}');
      return;
    }
    case 'special':
      out.push(special(t, v));
      return;
  }
}

function special(t: string, v: unknown): string {
  switch (t) {
    case 'v1.Time':
      return `{Time:(time.Time)${goTime(typeof v === 'string' ? v : undefined)}}`;
    case 'intstr.IntOrString':
      if (typeof v === 'string') return `{Type:(intstr.Type)1 IntVal:(int32)0 StrVal:(string)${v}}`;
      return `{Type:(intstr.Type)0 IntVal:(int32)${typeof v === 'number' ? Math.trunc(v) : 0} StrVal:(string)}`;
    case 'resource.Quantity':
      return spewQuantity(parseQuantity(typeof v === 'number' ? String(v) : typeof v === 'string' ? v : '0'));
  }
  throw new Error(`no dump for ${t}`);
}

/** time.Time's internals for an RFC 3339 instant without monotonic reading (wall=nsec, ext=seconds since year 1). */
function goTime(s: string | undefined): string {
  const ms = s ? Date.parse(s) : NaN;
  if (!Number.isFinite(ms)) return '{wall:(uint64)0 ext:(int64)0 loc:(*time.Location)<nil>}';
  const secs = Math.floor(ms / 1000) + 62135596800;
  return `{wall:(uint64)0 ext:(int64)${secs} loc:(*time.Location)<nil>}`;
}

/** The fields of resource.Quantity after ParseQuantity (apimachinery's fast and slow paths). */
export interface GoQuantity {
  value: bigint;
  scale: number;
  /** Set on the inf.Dec path: unscaled value and scale of the decimal. */
  dec?: { unscaled: bigint; scale: number };
  s: string;
  format: 'DecimalSI' | 'BinarySI' | 'DecimalExponent';
}

function spewQuantity(q: GoQuantity): string {
  const dec = q.dec
    ? `(*inf.Dec){unscaled:(big.Int){neg:(bool)${q.dec.unscaled < 0n} abs:(big.nat)${bigNat(q.dec.unscaled < 0n ? -q.dec.unscaled : q.dec.unscaled)}} scale:(inf.Scale)${q.dec.scale}}`
    : '(*inf.Dec)<nil>';
  return `{i:(resource.int64Amount){value:(int64)${q.value} scale:(resource.Scale)${q.scale}} d:(resource.infDecAmount){Dec:${dec}} s:(string)${q.s} Format:(resource.Format)${q.format}}`;
}

function bigNat(n: bigint): string {
  if (n === 0n) return '<nil>';
  const words: string[] = [];
  for (let x = n; x > 0n; x >>= 64n) words.push(String(x & 0xffffffffffffffffn));
  return `[${words.join(' ')}]`;
}

const DEC_SUFFIX: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BIN_SUFFIX: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const MAX_INT64 = (1n << 63n) - 1n;

/** apimachinery's ParseQuantity, keeping the representation it picks (which the hash sees). */
export function parseQuantity(str: string): GoQuantity {
  if (str === '0') return { value: 0n, scale: 0, s: str, format: 'DecimalSI' };
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(.*)$/.exec(str);
  if (!m) return { value: 0n, scale: 0, s: '', format: 'DecimalExponent' };
  const positive = m[1] !== '-';
  const num = m[2]!.replace(/^0+/, '') || '0';
  const denom = m[3] ?? '';
  const suf = m[4]!;
  let base: number;
  let exponent: number;
  let format: GoQuantity['format'];
  if (suf in DEC_SUFFIX) [base, exponent, format] = [10, DEC_SUFFIX[suf]!, 'DecimalSI'];
  else if (suf in BIN_SUFFIX) [base, exponent, format] = [2, BIN_SUFFIX[suf]!, 'BinarySI'];
  else if (/^[eE][+-]?\d+$/.test(suf)) [base, exponent, format] = [10, Number(suf.slice(1)), 'DecimalExponent'];
  else return { value: 0n, scale: 0, s: '', format: 'DecimalExponent' };

  let precision = 0;
  let scale = 0;
  let mantissa = 1n;
  if (format === 'BinarySI') {
    if (exponent >= 0 && denom.length === 0) {
      mantissa = 1n << BigInt(exponent);
      precision = 15 - num.length - Math.trunc(Math.fround(Math.fround(exponent) * 3) / 10) - 1;
    } else precision = -1;
  } else {
    scale = exponent;
    precision = 18 - (num.length + denom.length);
  }
  if (precision >= 0) {
    scale -= denom.length;
    if (scale >= -9) {
      const shifted = num + denom;
      const value = BigInt(shifted);
      const result = value * mantissa;
      if (value <= MAX_INT64 && result <= MAX_INT64) {
        const signed = positive ? result : -result;
        const canonical = format === 'BinarySI' ? exponent % 10 === 0 && (value & 7n) !== 0n : scale % 3 === 0 && !shifted.endsWith('000') && shifted[0] !== '0';
        return { value: signed, scale, s: canonical ? str : '', format };
      }
    }
  }
  // inf.Dec path: the decimal value with the suffix folded in, rounded up to nano precision.
  let unscaled = BigInt(num + denom);
  let decScale = denom.length;
  if (base === 10) decScale -= exponent;
  else unscaled *= 1n << BigInt(exponent);
  // inf.Dec.Round(amount, 9, RoundUp) on anything non-zero: the result has scale 9 exactly.
  if (unscaled !== 0n) {
    if (decScale > 9) {
      const div = 10n ** BigInt(decScale - 9);
      unscaled = (unscaled + div - 1n) / div;
    } else unscaled *= 10n ** BigInt(9 - decScale);
    decScale = 9;
  }
  if (format === 'BinarySI' && unscaled > MAX_INT64 * 10n ** BigInt(decScale)) [unscaled, decScale] = [MAX_INT64, 0];
  if (format === 'BinarySI' && unscaled > 0n && unscaled < 10n ** BigInt(decScale)) format = 'DecimalSI';
  return { value: 0n, scale: 0, dec: { unscaled: positive ? unscaled : -unscaled, scale: decScale }, s: '', format };
}
