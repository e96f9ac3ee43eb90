// Time as the reservations module shows and compares it: UTC ISO-8601 on the wire, epoch ms in
// storage, UTC calendar days for "released by today".

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

const dayMs = 86_400_000;
// The last day formatted: every GET /movies asks for today (a Date and toISOString were ~10 % of a cached hit).
let lastDay = Number.NaN;
let lastDayText = "";

/** YYYY-MM-DD (UTC). */
export function utcDay(ms: number): string {
  const day = Math.floor(ms / dayMs);
  if (day !== lastDay) {
    lastDayText = new Date(day * dayMs).toISOString().slice(0, 10);
    lastDay = day;
  }
  return lastDayText;
}

/** UTC days are 86,400,000 ms long in JavaScript time (no leap seconds). */
export function nextUtcMidnight(ms: number): number {
  return (Math.floor(ms / dayMs) + 1) * dayMs;
}
