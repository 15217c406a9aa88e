// intstr.GetScaledValueFromIntOrPercent: `maxUnavailable: 1` or `maxSurge: "25%"` of a total.

/** The value of an int-or-percent against `total`, percentages rounded up or down; throws on junk. */
export function scaledValueFromIntOrPercent(v: number | string | undefined, total: number, roundUp: boolean): number {
  if (v === undefined) throw new Error('nil value for IntOrString');
  if (typeof v === 'number') return v;
  const m = /^(-?\d+)%$/.exec(v);
  if (!m) {
    // A numeric string is not a valid percent, as upstream.
    throw new Error(`invalid value for IntOrString: invalid type: string is not a percentage`);
  }
  const pct = Number(m[1]);
  const raw = (pct * total) / 100;
  return roundUp ? Math.ceil(raw) : Math.floor(raw);
}
