// metav1.MicroTime and metav1.Time on the wire: RFC 3339 in UTC, with exactly six fractional
// digits for MicroTime (Go's "2006-01-02T15:04:05.000000Z07:00") and none for Time.

/** `2025-01-02T03:04:05.678000Z` */
export function microTime(ms: number): string {
  const iso = new Date(ms).toISOString(); // …T03:04:05.678Z
  return `${iso.slice(0, 23)}000Z`;
}

/** `2025-01-02T03:04:05Z` */
export function rfc3339(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}
