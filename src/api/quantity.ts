// resource.Quantity's canonical string, which is what upstream's printers show for capacities,
// quota usage and HPA targets: `1.5Gi` prints `1536Mi`, `0.5` prints `500m`, `1000` prints `1k`.

const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIXES: Readonly<Record<string, number>> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const DECIMAL_BY_EXPONENT = new Map(Object.entries(DECIMAL_SUFFIXES).map(([s, e]) => [e, s]));
const BINARY_BY_POWER = new Map(Object.entries(BINARY_SUFFIXES).map(([s, p]) => [p, s]));

type Format = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

interface Parsed {
  /** value = mantissa × 10^exponent */
  mantissa: bigint;
  exponent: number;
  format: Format;
}

const QUANTITY = /^([+-]?)(\d*)(?:\.(\d*))?([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE]?)$/;

function parse(text: string): Parsed | undefined {
  const m = QUANTITY.exec(text);
  if (!m) return undefined;
  const [, sign = '', whole = '', frac = '', suffix = ''] = m;
  if (whole === '' && frac === '') return undefined;
  let mantissa = BigInt(whole + frac || '0');
  let exponent = -frac.length;
  let format: Format;
  if (suffix in BINARY_SUFFIXES) {
    mantissa *= 1n << BigInt(10 * BINARY_SUFFIXES[suffix]!);
    format = 'BinarySI';
  } else if (suffix in DECIMAL_SUFFIXES) {
    exponent += DECIMAL_SUFFIXES[suffix]!;
    format = 'DecimalSI';
  } else {
    exponent += Number(suffix.slice(1));
    format = 'DecimalExponent';
  }
  // Upstream keeps nano precision and rounds anything finer up, away from zero.
  if (exponent < -9 && mantissa !== 0n) {
    const div = 10n ** BigInt(-9 - exponent);
    mantissa = (mantissa + div - 1n) / div;
    exponent = -9;
  }
  return { mantissa: sign === '-' ? -mantissa : mantissa, exponent, format };
}

function abs(n: bigint): bigint {
  return n < 0n ? -n : n;
}

/** The integer value if value is whole, else undefined. */
function asInteger(p: Parsed): bigint | undefined {
  if (p.exponent >= 0) return p.mantissa * 10n ** BigInt(p.exponent);
  const div = 10n ** BigInt(-p.exponent);
  return p.mantissa % div === 0n ? p.mantissa / div : undefined;
}

function decimal(p: Parsed, format: 'DecimalSI' | 'DecimalExponent'): string {
  let { mantissa, exponent } = p;
  while (mantissa % 10n === 0n) {
    mantissa /= 10n;
    exponent++;
  }
  // Lower the exponent to a multiple of 3, as the SI suffixes need.
  const r = ((exponent % 3) + 3) % 3;
  mantissa *= 10n ** BigInt(r);
  exponent -= r;
  if (format === 'DecimalExponent') return exponent === 0 ? `${mantissa}` : `${mantissa}e${exponent}`;
  return `${mantissa}${DECIMAL_BY_EXPONENT.get(exponent) ?? ''}`;
}

/**
 * The canonical form of a quantity as upstream's Quantity.String() prints it; a missing quantity is `0`
 * (Go's zero Quantity). Text that is not a quantity comes back unchanged (validation would have refused it).
 */
export function canonicalQuantity(q: string | number | undefined | null): string {
  if (q === undefined || q === null) return '0';
  const text = String(q);
  const p = parse(text);
  if (!p) return text;
  if (p.mantissa === 0n) return '0';
  if (p.format === 'BinarySI') {
    const whole = asInteger(p);
    // Small or fractional binary quantities print in decimal rather than lose precision.
    if (whole === undefined || abs(whole) < 1024n) return decimal(p, 'DecimalSI');
    let n = whole;
    let power = 0;
    while (n % 1024n === 0n) {
      n /= 1024n;
      power++;
    }
    return `${n}${BINARY_BY_POWER.get(power) ?? ''}`;
  }
  return decimal(p, p.format);
}

/** Whether text is a well-formed quantity. */
export function isQuantity(q: string | number): boolean {
  return parse(String(q)) !== undefined;
}

function scaled(q: string | number | undefined | null, exponent: number): number {
  if (q === undefined || q === null) return 0;
  const p = parse(String(q));
  if (!p) return 0;
  // value × 10^-exponent, rounded up (away from zero) as Quantity.ScaledValue does.
  const shift = p.exponent - exponent;
  if (shift >= 0) return Number(p.mantissa * 10n ** BigInt(shift));
  const div = 10n ** BigInt(-shift);
  const m = p.mantissa;
  const q0 = m / div;
  return Number(m % div === 0n ? q0 : m > 0n ? q0 + 1n : q0 - 1n);
}

/**
 * Quantity.MilliValue(): the value in thousandths, rounded up — how upstream counts cpu
 * (`500m` → 500, `1` → 1000, `0.1` → 100). A missing or malformed quantity counts as 0.
 */
export function milliValue(q: string | number | undefined | null): number {
  return scaled(q, -3);
}

/**
 * Quantity.Value(): the integer value, rounded up — how upstream counts memory, storage, pods and
 * extended resources (`1Gi` → 1073741824, `1.5` → 2). A missing or malformed quantity counts as 0.
 */
export function quantityValue(q: string | number | undefined | null): number {
  return scaled(q, 0);
}
