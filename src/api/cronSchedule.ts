// Cron schedules as the CronJob controller reads them (robfig/cron v3 ParseStandard, which
// upstream uses): five fields (minute hour day-of-month month day-of-week) with *, ?, lists,
// ranges, steps and month/day names; @yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly
// and @every <duration>; an optional TZ=/CRON_TZ= prefix. Next times are computed in a time zone
// with robfig's algorithm, DST quirks included (a skipped hour never fires, a repeated one twice).

export class CronParseError extends Error {
  override readonly name = 'CronParseError';
}

export interface CronSchedule {
  /** The first activation strictly after `ms` (epoch ms), or undefined if none within five years (robfig's zero time). */
  next(ms: number): number | undefined;
}

interface Bounds {
  min: number;
  max: number;
  names?: Readonly<Record<string, number>>;
}

const MINUTES: Bounds = { min: 0, max: 59 };
const HOURS: Bounds = { min: 0, max: 23 };
const DOM: Bounds = { min: 1, max: 31 };
const MONTHS: Bounds = { min: 1, max: 12, names: { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 } };
const DOW: Bounds = { min: 0, max: 6, names: { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 } };

/** A field: the values it allows, and whether it was written as * or ? (robfig's star bit). */
interface Field {
  values: ReadonlySet<number>;
  star: boolean;
}

const all = (b: Bounds): Field => ({ values: new Set(range(b.min, b.max, 1)), star: true });
const only = (v: number): Field => ({ values: new Set([v]), star: false });

function range(start: number, end: number, step: number): number[] {
  const out: number[] = [];
  for (let i = start; i <= end; i += step) out.push(i);
  return out;
}

function parseInt10(expr: string): number {
  if (!/^[+-]?\d+$/.test(expr)) throw new CronParseError(`failed to parse int from ${expr}: strconv.Atoi: parsing "${expr}": invalid syntax`);
  const n = Number(expr);
  if (n < 0) throw new CronParseError(`negative number (${n}) not allowed: ${expr}`);
  return n;
}

function parseIntOrName(expr: string, names: Bounds['names']): number {
  const byName = names?.[expr.toLowerCase()];
  return byName !== undefined ? byName : parseInt10(expr);
}

/** One comma-separated part: `*`, `?`, `a`, `a-b`, with an optional `/step` (`a/step` means a-max). */
function parseRange(expr: string, b: Bounds): Field {
  const rangeAndStep = expr.split('/');
  const lowAndHigh = rangeAndStep[0]!.split('-');
  const single = lowAndHigh.length === 1;
  let start: number;
  let end: number;
  let star = false;
  if (lowAndHigh[0] === '*' || lowAndHigh[0] === '?') {
    start = b.min;
    end = b.max;
    star = true;
  } else {
    start = parseIntOrName(lowAndHigh[0]!, b.names);
    if (lowAndHigh.length === 1) end = start;
    else if (lowAndHigh.length === 2) end = parseIntOrName(lowAndHigh[1]!, b.names);
    else throw new CronParseError(`too many hyphens: ${expr}`);
  }
  let step = 1;
  if (rangeAndStep.length === 2) {
    step = parseInt10(rangeAndStep[1]!);
    if (single) end = b.max;
    if (step > 1) star = false;
  } else if (rangeAndStep.length > 2) {
    throw new CronParseError(`too many slashes: ${expr}`);
  }
  if (start < b.min) throw new CronParseError(`beginning of range (${start}) below minimum (${b.min}): ${expr}`);
  if (end > b.max) throw new CronParseError(`end of range (${end}) above maximum (${b.max}): ${expr}`);
  if (start > end) throw new CronParseError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) throw new CronParseError(`step of range should be a positive number: ${expr}`);
  return { values: new Set(range(start, end, step)), star };
}

function parseField(field: string, b: Bounds): Field {
  const values = new Set<number>();
  let star = false;
  for (const part of field.split(',').filter((p) => p !== '')) {
    const f = parseRange(part, b);
    for (const v of f.values) values.add(v);
    star ||= f.star;
  }
  return { values, star };
}

/** Go's time.ParseDuration, enough for `@every 1h30m`. */
export function parseGoDuration(s: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw new CronParseError(`time: invalid duration "${s}"`);
  let total = 0;
  const re = /^(\d*\.?\d*)([a-zµμ]+)/;
  while (rest !== '') {
    const m = re.exec(rest);
    if (!m || m[1] === '' || m[1] === '.') throw new CronParseError(`time: invalid duration "${s}"`);
    const unit = units[m[2]!];
    if (unit === undefined) throw new CronParseError(`time: unknown unit "${m[2]}" in duration "${s}"`);
    total += Number(m[1]) * unit;
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

// ---- time zones (Go's time.LoadLocation and time.Date, through Intl) ----

export class UnknownTimeZoneError extends Error {
  override readonly name = 'UnknownTimeZoneError';
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

const WEEKDAYS: Readonly<Record<string, number>> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** A location: wall-clock fields of an instant, and the instant of wall-clock fields. */
export class Zone {
  private readonly fmt: Intl.DateTimeFormat | undefined;

  private constructor(readonly name: string) {
    this.fmt =
      name === 'UTC'
        ? undefined
        : new Intl.DateTimeFormat('en-US', { timeZone: name, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short' });
  }

  static readonly UTC = new Zone('UTC');
  private static local: Zone | undefined;
  private static readonly cache = new Map<string, Zone>();

  /** The host's zone (Go's time.Local). */
  static hostLocal(): Zone {
    return (Zone.local ??= Zone.load(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'));
  }

  /** Go's time.LoadLocation: "" and "UTC" are UTC, "Local" the host's zone, else an IANA name. */
  static load(name: string): Zone {
    if (name === '' || name === 'UTC') return Zone.UTC;
    if (name === 'Local') return Zone.hostLocal();
    const cached = Zone.cache.get(name);
    if (cached) return cached;
    // Go refuses names that could escape the zoneinfo directory.
    if (name.startsWith('/') || name.includes('..') || name.includes('\\')) throw new UnknownTimeZoneError(`unknown time zone ${name}`);
    let z: Zone;
    try {
      z = new Zone(name);
    } catch {
      throw new UnknownTimeZoneError(`unknown time zone ${name}`);
    }
    Zone.cache.set(name, z);
    return z;
  }

  parts(ms: number): LocalParts {
    if (!this.fmt) {
      const d = new Date(ms);
      return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), weekday: d.getUTCDay() };
    }
    const p: Partial<LocalParts> = {};
    for (const part of this.fmt.formatToParts(ms)) {
      if (part.type === 'weekday') p.weekday = WEEKDAYS[part.value] ?? 0;
      else if (part.type in { year: 1, month: 1, day: 1, hour: 1, minute: 1, second: 1 }) p[part.type as 'year'] = Number(part.value);
    }
    return p as LocalParts;
  }

  /** UTC offset in ms at instant `ms`. */
  offset(ms: number): number {
    if (!this.fmt) return 0;
    const s = Math.floor(ms / 1000) * 1000;
    const p = this.parts(s);
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - s;
  }

  /** Go's time.Date: normalizes overflowing fields; in a DST gap or overlap, picks as Go does. */
  date(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
    const local = Date.UTC(year, month - 1, day, hour, minute, second);
    const off1 = this.offset(local);
    const utc = local - off1;
    const off2 = this.offset(utc);
    return off2 === off1 ? utc : local - off2;
  }

  /** RFC 3339 in this zone, with Z for a zero offset (Go's time.RFC3339). */
  formatRFC3339(ms: number): string {
    const p = this.parts(ms);
    const off = Math.round(this.offset(ms) / 60_000);
    const pad = (n: number, w = 2) => String(n).padStart(w, '0');
    const zone = off === 0 ? 'Z' : `${off < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
    return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}${zone}`;
  }
}

// ---- schedules ----

class SpecSchedule implements CronSchedule {
  constructor(
    private readonly minute: Field,
    private readonly hour: Field,
    private readonly dom: Field,
    private readonly month: Field,
    private readonly dow: Field,
    private readonly zone: Zone,
  ) {}

  /** Both day fields restrict when either is a star; otherwise either one suffices (cron's OR). */
  private dayMatches(p: LocalParts): boolean {
    const domMatch = this.dom.values.has(p.day);
    const dowMatch = this.dow.values.has(p.weekday);
    return this.dom.star || this.dow.star ? domMatch && dowMatch : domMatch || dowMatch;
  }

  next(from: number): number | undefined {
    const z = this.zone;
    // The earliest candidate is the next whole second.
    let t = Math.floor(from / 1000) * 1000 + 1000;
    let added = false;
    const yearLimit = z.parts(t).year + 5;
    wrap: for (;;) {
      let p = z.parts(t);
      if (p.year > yearLimit) return undefined;
      while (!this.month.values.has(p.month)) {
        if (!added) {
          added = true;
          t = z.date(p.year, p.month, 1, 0, 0, 0);
          p = z.parts(t);
        }
        t = z.date(p.year, p.month + 1, p.day, p.hour, p.minute, p.second);
        p = z.parts(t);
        if (p.month === 1) continue wrap;
      }
      while (!this.dayMatches(p)) {
        if (!added) {
          added = true;
          t = z.date(p.year, p.month, p.day, 0, 0, 0);
          p = z.parts(t);
        }
        t = z.date(p.year, p.month, p.day + 1, p.hour, p.minute, p.second);
        p = z.parts(t);
        // Midnight moved by a DST change: back to midnight.
        if (p.hour !== 0) {
          t += (p.hour > 12 ? 24 - p.hour : -p.hour) * 3_600_000;
          p = z.parts(t);
        }
        if (p.day === 1) continue wrap;
      }
      while (!this.hour.values.has(p.hour)) {
        if (!added) {
          added = true;
          t = z.date(p.year, p.month, p.day, p.hour, 0, 0);
        }
        t += 3_600_000;
        p = z.parts(t);
        if (p.hour === 0) continue wrap;
      }
      while (!this.minute.values.has(p.minute)) {
        if (!added) {
          added = true;
          t = Math.floor(t / 60_000) * 60_000;
        }
        t += 60_000;
        p = z.parts(t);
        if (p.minute === 0) continue wrap;
      }
      // The standard parser's seconds field is 0.
      if (p.second !== 0) {
        if (!added) added = true;
        t = Math.floor(t / 60_000) * 60_000 + 60_000;
        continue wrap;
      }
      return t;
    }
  }
}

/** `@every d`: every d (whole seconds, at least one) after the given time. */
class ConstantDelaySchedule implements CronSchedule {
  constructor(readonly delayMs: number) {}

  next(from: number): number {
    return from - (((from % 1000) + 1000) % 1000) + this.delayMs;
  }
}

const DESCRIPTORS: Readonly<Record<string, (zone: Zone) => CronSchedule>> = {
  '@yearly': (z) => new SpecSchedule(only(0), only(0), only(1), only(1), all(DOW), z),
  '@annually': (z) => new SpecSchedule(only(0), only(0), only(1), only(1), all(DOW), z),
  '@monthly': (z) => new SpecSchedule(only(0), only(0), only(1), all(MONTHS), all(DOW), z),
  '@weekly': (z) => new SpecSchedule(only(0), only(0), all(DOM), all(MONTHS), only(0), z),
  '@daily': (z) => new SpecSchedule(only(0), only(0), all(DOM), all(MONTHS), all(DOW), z),
  '@midnight': (z) => new SpecSchedule(only(0), only(0), all(DOM), all(MONTHS), all(DOW), z),
  '@hourly': (z) => new SpecSchedule(only(0), all(HOURS), all(DOM), all(MONTHS), all(DOW), z),
};

/**
 * robfig/cron's ParseStandard. `defaultZone` is the location without a TZ= prefix (Go's time.Local:
 * the host's zone). Throws CronParseError with robfig's messages.
 */
export function parseStandard(spec: string, defaultZone: Zone = Zone.hostLocal()): CronSchedule {
  if (spec.length === 0) throw new CronParseError('empty spec string');
  let zone = defaultZone;
  let rest = spec;
  if (rest.startsWith('TZ=') || rest.startsWith('CRON_TZ=')) {
    const space = rest.indexOf(' ');
    const eq = rest.indexOf('=');
    const name = space < 0 ? rest.slice(eq + 1) : rest.slice(eq + 1, space);
    try {
      zone = Zone.load(name);
    } catch (err) {
      throw new CronParseError(`provided bad location ${name}: ${(err as Error).message}`);
    }
    rest = space < 0 ? '' : rest.slice(space).trim();
  }
  if (rest.startsWith('@')) {
    if (rest.startsWith('@every ')) {
      const text = rest.slice('@every '.length);
      let ms: number;
      try {
        ms = parseGoDuration(text);
      } catch (err) {
        throw new CronParseError(`failed to parse duration ${rest}: ${(err as Error).message}`);
      }
      return new ConstantDelaySchedule(Math.max(1000, ms - (ms % 1000)));
    }
    const d = DESCRIPTORS[rest];
    if (!d) throw new CronParseError(`unrecognized descriptor: ${rest}`);
    return d(zone);
  }
  const fields = rest.split(/\s+/).filter((f) => f !== '');
  if (fields.length !== 5) throw new CronParseError(`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`);
  const [minute, hour, dom, month, dow] = fields as [string, string, string, string, string];
  return new SpecSchedule(parseField(minute, MINUTES), parseField(hour, HOURS), parseField(dom, DOM), parseField(month, MONTHS), parseField(dow, DOW), zone);
}
