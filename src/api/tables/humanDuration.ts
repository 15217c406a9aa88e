// Ages as kubectl shows them: upstream's duration.HumanDuration, about 2-3 significant figures
// (`59s`, `2m3s`, `10m`, `3h5m`, `2d3h`, `8d`, `2y45d`, `10y`), and the timestamp helpers built on it.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * A duration in milliseconds as upstream's HumanDuration prints it. Up to 2s in the future counts as
 * "now" (`0s`, clock skew); further in the future is `<invalid>`. Units truncate, never round.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / SECOND);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 2 * 60) return `${seconds}s`;
  const minutes = Math.trunc(ms / MINUTE);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 3 * 60) return `${minutes}m`;
  const hours = Math.trunc(ms / HOUR);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${days}d` : `${days}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.trunc(days / 365);
  if (hours < 24 * 365 * 8) {
    const dy = days % 365;
    return dy === 0 ? `${years}y` : `${years}y${dy}d`;
  }
  return `${years}y`;
}

/** Go's zero time.Time, which metav1.Time treats as "unset". */
const GO_ZERO_TIME = -62135596800000; // 0001-01-01T00:00:00Z

/**
 * Milliseconds since the epoch of an RFC 3339 timestamp (metav1.Time or MicroTime), or undefined when it
 * is absent, unparsable or Go's zero time (all of which upstream prints as `<unknown>`).
 */
export function parseTime(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t) || t === GO_ZERO_TIME) return undefined;
  return t;
}

/** Upstream's translateTimestampSince: the age of a timestamp at `now`, `<unknown>` when unset. */
export function ageSince(value: unknown, now: Date): string {
  const t = parseTime(value);
  return t === undefined ? '<unknown>' : humanDuration(now.getTime() - t);
}
