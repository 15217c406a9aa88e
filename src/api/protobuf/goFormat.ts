// How Go's encoding/json writes the apimachinery types whose protobuf form is numbers:
// metav1.Time and MicroTime (RFC 3339 in UTC) and metav1.Duration (time.Duration's String()).
import { ProtobufDecodeError } from './errors.js';

const NS_PER_SECOND = 1_000_000_000n;
/** Go's RFC 3339 only has four-digit years; the JSON path upstream cannot read other years back. */
const MIN_SECONDS = -62_167_219_200n; // 0000-01-01T00:00:00Z
const MAX_SECONDS = 253_402_300_799n; // 9999-12-31T23:59:59Z

/** `2024-01-02T03:04:05Z`: metav1.Time, which keeps whole seconds only. */
export function formatRfc3339(seconds: bigint): string {
  return `${dateTime(seconds)}Z`;
}

/** `2024-01-02T03:04:05.123456Z`: metav1.MicroTime, nanoseconds truncated toward zero to microseconds. */
export function formatRfc3339Micro(seconds: bigint, nanos: bigint): string {
  const micros = seconds * 1_000_000n + nanos / 1000n;
  let whole = micros / 1_000_000n;
  let frac = micros % 1_000_000n;
  if (frac < 0n) {
    frac += 1_000_000n;
    whole -= 1n;
  }
  return `${dateTime(whole)}.${frac.toString().padStart(6, '0')}Z`;
}

function dateTime(seconds: bigint): string {
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS) {
    throw new ProtobufDecodeError('Malformed', `time ${seconds}s since the epoch is outside years 0000-9999`);
  }
  const d = new Date(Number(seconds) * 1000);
  const year = d.getUTCFullYear().toString().padStart(4, '0');
  return `${year}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}T${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

function two(n: number): string {
  return n.toString().padStart(2, '0');
}

/** time.Duration's String(): `0s`, `1.5µs`, `250ms`, `1m30s`, `-2h0m0.5s`. */
export function formatGoDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  const u = ns < 0n ? -ns : ns;
  if (u < NS_PER_SECOND) {
    if (u < 1000n) return `${sign}${u}ns`;
    if (u < 1_000_000n) return `${sign}${fraction(u, 3)}µs`;
    return `${sign}${fraction(u, 6)}ms`;
  }
  const hours = u / (3600n * NS_PER_SECOND);
  const minutes = (u / (60n * NS_PER_SECOND)) % 60n;
  const seconds = fraction(u % (60n * NS_PER_SECOND), 9);
  if (hours > 0n) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0n) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}

/** v / 10^digits as a decimal, without trailing zeros in the fraction. */
function fraction(v: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const frac = (v % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  return frac ? `${v / scale}.${frac}` : `${v / scale}`;
}
