// Numbers, units, names and dates as people read them (British English).

const whole = new Intl.NumberFormat("en-GB", { maximumFractionDigits: 0 });

/** count formats a whole number with thousands separators: 29,112. */
export function count(n: number): string {
  return whole.format(n);
}

/**
 * decimal formats an exact decimal as the API gives it, with thousands
 * separators and every fractional digit it has (1,023.4 — never rounded).
 * The API writes quantities as JSON numbers with at most six fractional
 * digits; JavaScript's shortest round-trip form of such a number gives the
 * same digits back for every value under 2^53 millionths.
 */
export function decimal(q: number): string {
  const s = String(q);
  if (!/^-?\d+(\.\d+)?$/.test(s)) {
    return new Intl.NumberFormat("en-GB", { maximumFractionDigits: 6 }).format(q);
  }
  const [int = "0", frac] = s.split(".");
  const sign = int.startsWith("-") ? "-" : "";
  const digits = int.replace("-", "");
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return sign + grouped + (frac ? "." + frac : "");
}

/** quantity formats a seized quantity with its unit: £4,250,000; 1,023.4 kg. */
export function quantity(q: number, unit: string): string {
  switch (unit) {
    case "gbp":
      return "£" + decimal(q);
    case "kg":
      return decimal(q) + " kg";
    case "sticks":
      return decimal(q) + " sticks";
    case "items":
      return decimal(q) + (q === 1 ? " item" : " items");
    default:
      return decimal(q) + " " + unit;
  }
}

const commodities: Record<string, string> = {
  class_a_drugs: "Class A drugs",
  cannabis: "Cannabis",
  cash: "Cash",
  cigarettes: "Cigarettes",
  hand_rolling_tobacco: "Hand-rolling tobacco",
  firearms: "Firearms",
  other: "Other goods",
};

export function commodity(c: string): string {
  return commodities[c] ?? c;
}

const methods: Record<string, string> = {
  co2_probe: "CO₂ probe",
  sniffer_dog: "Sniffer dog",
  heartbeat_monitor: "Heartbeat monitor",
  visual_search: "Visual search",
  scanner: "Scanner",
};

export function method(m: string): string {
  return methods[m] ?? m;
}

const monthFmt = new Intl.DateTimeFormat("en-GB", { month: "long", year: "numeric", timeZone: "UTC" });
const shortMonthFmt = new Intl.DateTimeFormat("en-GB", { month: "short", year: "2-digit", timeZone: "UTC" });
const dayFmt = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
const timeFmt = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZone: "UTC" });
const dateTimeFmt = new Intl.DateTimeFormat("en-GB", {
  day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZone: "UTC",
});

function utc(day: string): Date {
  return new Date(day + "T00:00:00Z");
}

/** month names a YYYY-MM key: September 2010. */
export function month(key: string): string {
  return monthFmt.format(utc(key + "-01"));
}

/** shortMonth is an axis label for a YYYY-MM key: Sep 10. */
export function shortMonth(key: string): string {
  return shortMonthFmt.format(utc(key + "-01"));
}

/** day names a YYYY-MM-DD date: 6 June 2011. */
export function day(d: string): string {
  return dayFmt.format(utc(d));
}

/** periodKey names a group key of a time grouping (day, month or year). */
export function periodKey(key: string): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(key)) return day(key);
  if (/^\d{4}-\d{2}$/.test(key)) return month(key);
  return key;
}

/** clock is a time of day in UTC: 14:03:12 UTC. */
export function clock(t: Date): string {
  return timeFmt.format(t) + " UTC";
}

/** dateTime formats an RFC 3339 time: 6 Jun 2011, 09:30:00 UTC. */
export function dateTime(iso: string): string {
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? iso : dateTimeFmt.format(t) + " UTC";
}

/** plural picks the word for n. */
export function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}
