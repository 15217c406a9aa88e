// How cluster DNS names map to Kubernetes objects (the Kubernetes DNS specification, as CoreDNS's
// kubernetes plugin reads it): pure functions on names and addresses, no state.
import { isIP, isIPv4, isIPv6 } from 'node:net';

/** What a name below a cluster zone asks for. Empty strings are parts the name does not have. */
export interface RecordRequest {
  /** `svc` or `pod` ('' for the zone apex, `svc.` and `pod.` themselves). */
  podOrSvc: '' | 'svc' | 'pod';
  namespace: string;
  service: string;
  /** The leftmost label of `endpoint.service.ns.svc.zone`. */
  endpoint: string;
  /** `_http` of `_http._tcp.service.ns.svc.zone`, without the underscore. */
  port: string;
  protocol: string;
}

/** The name is not one the cluster zone can hold (a name error, NXDOMAIN). */
export const INVALID_REQUEST = 'invalid';

/**
 * Splits `name` (lowercase, fully qualified, inside `zone`) into a RecordRequest, as CoreDNS's
 * parseRequest: `_port._proto.svc.ns.svc.zone`, `endpoint.svc.ns.svc.zone`, `svc.ns.svc.zone`,
 * `ns.svc.zone`. Returns INVALID_REQUEST for names that cannot exist (wrong type label, too long).
 */
export function parseRequest(name: string, zone: string): RecordRequest | typeof INVALID_REQUEST {
  const r: RecordRequest = { podOrSvc: '', namespace: '', service: '', endpoint: '', port: '', protocol: '' };
  const base = zone === '.' ? name.slice(0, -1) : name.slice(0, Math.max(0, name.length - zone.length - 1));
  if (base === '' || base === 'svc' || base === 'pod') return r;
  const segs = base.split('.');
  let last = segs.length - 1;
  const kind = segs[last]!;
  if (kind !== 'svc' && kind !== 'pod') return INVALID_REQUEST;
  r.podOrSvc = kind;
  if (--last < 0) return r;
  r.namespace = segs[last]!;
  if (--last < 0) return r;
  r.service = segs[last]!;
  if (--last < 0) return r;
  if (last === 0) {
    r.endpoint = segs[0]!;
  } else if (last === 1) {
    r.protocol = stripUnderscore(segs[1]!);
    r.port = stripUnderscore(segs[0]!);
  } else {
    return INVALID_REQUEST;
  }
  return r;
}

function stripUnderscore(s: string): string {
  return s.startsWith('_') ? s.slice(1) : s;
}

/**
 * The DNS label of an endpoint: its hostname, else (with endpoint_pod_names) its pod's name, else
 * its address with dots or colons as dashes (`10-244-1-5`, `fd00--5` → a trailing dash gets a 0).
 */
export function endpointHostname(addr: { ip: string; hostname?: string; targetRefName?: string }, endpointPodNames: boolean): string {
  if (addr.hostname) return addr.hostname;
  if (endpointPodNames && addr.targetRefName) return addr.targetRefName;
  if (addr.ip.includes('.')) return addr.ip.replaceAll('.', '-');
  if (addr.ip.includes(':')) {
    const h = addr.ip.replaceAll(':', '-');
    return h.endsWith('-') ? `${h}0` : h;
  }
  return '';
}

/** `1-2-3-4` → `1.2.3.4`, `fd00--1` → `fd00::1`; undefined when it is not an address. */
export function podLabelToIP(label: string): string | undefined {
  const dashes = label.split('-').length - 1;
  const ip = dashes === 3 && !label.includes('--') ? label.replaceAll('-', '.') : label.replaceAll('-', ':');
  return isIP(ip) ? ip : undefined;
}

/**
 * The address a full reverse name stands for (`4.3.2.1.in-addr.arpa.` → `1.2.3.4`, 32 nibbles of
 * ip6.arpa → the IPv6 address); '' for partial or malformed names.
 */
export function addressFromReverse(name: string): string {
  if (name.endsWith('.in-addr.arpa.')) {
    const parts = name.slice(0, -'.in-addr.arpa.'.length).split('.');
    if (parts.length !== 4) return '';
    const ip = parts.reverse().join('.');
    return isIPv4(ip) ? ip : '';
  }
  if (name.endsWith('.ip6.arpa.')) {
    const nibbles = name.slice(0, -'.ip6.arpa.'.length).split('.');
    if (nibbles.length !== 32 || nibbles.some((n) => !/^[0-9a-f]$/.test(n))) return '';
    const hex = nibbles.reverse().join('');
    const groups = [];
    for (let i = 0; i < 32; i += 4) groups.push(hex.slice(i, i + 4));
    return canonicalIP(groups.join(':'));
  }
  return '';
}

/** The reverse-lookup name of an address (`1.2.3.4` → `4.3.2.1.in-addr.arpa`). */
export function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const bytes = ipv6Bytes(ip);
  const nibbles: string[] = [];
  for (const b of bytes) nibbles.push((b >> 4).toString(16), (b & 15).toString(16));
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}

/** Whether `name` is inside a reverse zone. */
export function isReverse(name: string): boolean {
  return name.endsWith('.in-addr.arpa.') || name.endsWith('.ip6.arpa.') || name === 'in-addr.arpa.' || name === 'ip6.arpa.';
}

/** IPv6 in its canonical (RFC 5952) text, so addresses from objects and from names compare equal. */
export function canonicalIP(ip: string): string {
  if (!isIPv6(ip)) return ip;
  const bytes = ipv6Bytes(ip);
  if (bytes.length === 0) return ip;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  // Longest run (length ≥ 2) of zero words becomes "::".
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** The 16 bytes of an IPv6 address (with an embedded IPv4 tail allowed); [] if not IPv6. */
export function ipv6Bytes(ip: string): number[] {
  if (!isIPv6(ip)) return [];
  let text = ip;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    tail.push(...v4[1]!.split('.').map(Number));
    text = text.slice(0, -v4[1]!.length) + '0:0';
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const fill = rest !== undefined ? 8 - left.length - right.length : 0;
  const words = [...left, ...Array<string>(fill).fill('0'), ...right].map((w) => parseInt(w, 16));
  const bytes: number[] = [];
  for (const w of words) bytes.push(w >> 8, w & 255);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}
