// A fixed request time for table tests, and timestamps relative to it.
export const NOW = new Date('2024-05-01T12:00:00Z');

const UNITS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** An RFC 3339 timestamp `amount` units before NOW: ago(5, 'm'). Negative amounts are in the future. */
export function ago(amount: number, unit: keyof typeof UNITS = 's'): string {
  return new Date(NOW.getTime() - amount * UNITS[unit]).toISOString().replace(/\.000Z$/, 'Z');
}

/** Cells of the one row `toTable` rendered for a single object. */
export function onlyRow<T>(rows: T[]): T {
  if (rows.length !== 1) throw new Error(`want 1 row, got ${rows.length}`);
  return rows[0]!;
}
