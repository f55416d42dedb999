// Periods as people read them (both days included) and as the API takes
// them (from inclusive, to exclusive, dates meaning 00:00 UTC).

/** A calendar date, YYYY-MM-DD (UTC). */
export type Day = string;

export interface Period {
  from: Day; // first day, included
  to: Day; // last day, included
}

export const dayPattern = /^\d{4}-\d{2}-\d{2}$/;

export function isDay(s: string): boolean {
  return dayPattern.test(s) && !Number.isNaN(new Date(s + "T00:00:00Z").getTime());
}

export function addDays(d: Day, n: number): Day {
  const t = new Date(d + "T00:00:00Z");
  t.setUTCDate(t.getUTCDate() + n);
  return t.toISOString().slice(0, 10);
}

export function today(now = new Date()): Day {
  return now.toISOString().slice(0, 10);
}

/** lastTwelveMonths ends today: 3 December 2025 to 2 December 2026. */
export function lastTwelveMonths(now = new Date()): Period {
  const to = today(now);
  const t = new Date(to + "T00:00:00Z");
  t.setUTCFullYear(t.getUTCFullYear() - 1);
  return { from: addDays(t.toISOString().slice(0, 10), 1), to };
}

/** The year of the Home Office's release of 6 June 2011. */
export const yearTo6June2011: Period = { from: "2010-06-07", to: "2011-06-06" };

/** apiPeriod turns "to 6 June 2011" into the API's exclusive to=2011-06-07. */
export function apiPeriod(p: Period): { from: string; to: string } {
  return { from: p.from, to: addDays(p.to, 1) };
}

/**
 * asOfParam is the API's as_of for "as known on" a day: the figures as
 * recorded by the end of that day, UTC (as_of counts what was recorded at
 * or before it).
 */
export function asOfParam(d: Day): string {
  return d + "T23:59:59.999999999Z";
}

/** monthsOf lists the YYYY-MM months a period touches, in order. */
export function monthsOf(p: Period): string[] {
  const out: string[] = [];
  let y = Number(p.from.slice(0, 4)), m = Number(p.from.slice(5, 7));
  const endY = Number(p.to.slice(0, 4)), endM = Number(p.to.slice(5, 7));
  while (y < endY || (y === endY && m <= endM)) {
    out.push(`${y}-${String(m).padStart(2, "0")}`);
    if (++m > 12) { m = 1; y++; }
    if (out.length > 1200) break; // a hundred years is plenty
  }
  return out;
}

/** monthPeriod is the API period of one YYYY-MM month, clipped to p. */
export function monthPeriod(key: string, p: Period): { from: string; to: string } {
  const y = Number(key.slice(0, 4)), m = Number(key.slice(5, 7));
  const first = key + "-01";
  const next = m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, "0")}-01`;
  const end = addDays(p.to, 1); // the API's exclusive end of p
  return { from: first < p.from ? p.from : first, to: next > end ? end : next };
}

/** yearPeriod is the API period of one calendar year. */
export function yearPeriod(year: string): { from: string; to: string } {
  return { from: `${year}-01-01`, to: `${Number(year) + 1}-01-01` };
}
