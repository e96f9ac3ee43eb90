// Time as the reservations module shows and compares it: UTC ISO-8601 on the wire, epoch ms in
// storage, UTC calendar days for "released by today".

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** YYYY-MM-DD (UTC). */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function nextUtcMidnight(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
}
