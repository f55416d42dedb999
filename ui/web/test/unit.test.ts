// Unit tests of the page's pure parts: periods as people read them and as
// the API takes them, numbers as people read them, Retry-After.
// Run with: node ui/web/test.mjs
import assert from "node:assert/strict";
import { test } from "node:test";
import { retryAfterSeconds } from "../src/api/retry";
import * as fmt from "../src/format";
import { addDays, apiPeriod, asOfParam, isDay, lastTwelveMonths, monthPeriod, monthsOf, yearPeriod, yearTo6June2011 } from "../src/period";

test("to 6 June 2011, both days included, is the API's exclusive to=2011-06-07", () => {
  assert.deepEqual(apiPeriod(yearTo6June2011), { from: "2010-06-07", to: "2011-06-07" });
  assert.deepEqual(apiPeriod({ from: "2011-12-01", to: "2011-12-31" }), { from: "2011-12-01", to: "2012-01-01" });
  assert.equal(addDays("2012-02-28", 1), "2012-02-29");
  assert.equal(addDays("2011-02-28", 1), "2011-03-01");
});

test("the last 12 months end today and start a year and a day before", () => {
  assert.deepEqual(lastTwelveMonths(new Date("2026-12-02T15:00:00Z")), { from: "2025-12-03", to: "2026-12-02" });
  assert.deepEqual(lastTwelveMonths(new Date("2024-02-29T01:00:00Z")), { from: "2023-03-02", to: "2024-02-29" });
});

test("as known on a day means recorded by the end of that day, UTC", () => {
  assert.equal(asOfParam("2011-03-02"), "2011-03-02T23:59:59.999999999Z");
});

test("months of a period, and one month's period clipped to it", () => {
  assert.deepEqual(monthsOf(yearTo6June2011), ["2010-06", "2010-07", "2010-08", "2010-09", "2010-10", "2010-11", "2010-12", "2011-01", "2011-02", "2011-03", "2011-04", "2011-05", "2011-06"]);
  assert.deepEqual(monthPeriod("2010-09", yearTo6June2011), { from: "2010-09-01", to: "2010-10-01" });
  assert.deepEqual(monthPeriod("2010-06", yearTo6June2011), { from: "2010-06-07", to: "2010-07-01" });
  assert.deepEqual(monthPeriod("2011-06", yearTo6June2011), { from: "2011-06-01", to: "2011-06-07" });
  assert.deepEqual(monthPeriod("2010-12", yearTo6June2011), { from: "2010-12-01", to: "2011-01-01" });
  assert.deepEqual(yearPeriod("2009"), { from: "2009-01-01", to: "2010-01-01" });
});

test("dates are checked", () => {
  assert.ok(isDay("2011-06-06"));
  for (const bad of ["2011-6-6", "06/06/2011", "2011-13-01", "", "2011-06-06T00:00:00Z"]) assert.ok(!isDay(bad), bad);
});

test("counts have thousands separators", () => {
  assert.equal(fmt.count(29112), "29,112");
  assert.equal(fmt.count(173), "173");
  assert.equal(fmt.count(0), "0");
});

test("quantities keep every decimal the API gives, with their units", () => {
  assert.equal(fmt.quantity(1023.4, "kg"), "1,023.4 kg");
  assert.equal(fmt.quantity(45754.65, "kg"), "45,754.65 kg");
  assert.equal(fmt.quantity(4250000, "gbp"), "£4,250,000");
  assert.equal(fmt.quantity(245000000, "sticks"), "245,000,000 sticks");
  assert.equal(fmt.quantity(0.000001, "kg"), "0.000001 kg");
  assert.equal(fmt.quantity(123456789.123456, "kg"), "123,456,789.123456 kg");
  assert.equal(fmt.quantity(1, "items"), "1 item");
  assert.equal(fmt.quantity(60, "items"), "60 items");
});

test("names people read", () => {
  assert.equal(fmt.month("2010-09"), "September 2010");
  assert.equal(fmt.day("2011-06-06"), "6 June 2011");
  assert.equal(fmt.periodKey("2011"), "2011");
  assert.equal(fmt.commodity("hand_rolling_tobacco"), "Hand-rolling tobacco");
  assert.equal(fmt.method("co2_probe"), "CO₂ probe");
});

test("Retry-After in seconds or as a date", () => {
  const now = Date.parse("2011-06-06T09:00:00Z");
  assert.equal(retryAfterSeconds("2", now), 2);
  assert.equal(retryAfterSeconds(" 30 ", now), 30);
  assert.equal(retryAfterSeconds("Mon, 06 Jun 2011 09:00:05 GMT", now), 5);
  assert.equal(retryAfterSeconds("Mon, 06 Jun 2011 08:00:00 GMT", now), 0);
  assert.equal(retryAfterSeconds(null, now), null);
  assert.equal(retryAfterSeconds("soon", now), null);
});
