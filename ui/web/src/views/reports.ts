// The reports page: a period, filters and an "As known on" date; the
// summary as headline numbers; charts of arrests by month, detections by
// year and by method, seizures by commodity and by location, and gangs
// dismantled by agency, each with a table of its figures, the position it
// reflects and when it was fetched. Any bar or headline opens its events.
import {
  type DetectionsReport,
  type Fetched,
  type GangsReport,
  type ReportParams,
  type SeizuresReport,
  type SummaryReport,
  type ArrestsReport,
  arrests,
  detections,
  gangsDismantled,
  places,
  seizures,
  summary,
} from "../api/client";
import { type App, type View, mark } from "../app";
import { type Bar, renderChart, okabeIto } from "../charts";
import { h, replace, uid } from "../dom";
import * as fmt from "../format";
import { type Period, apiPeriod, asOfParam, isDay, lastTwelveMonths, monthPeriod, monthsOf, yearPeriod, yearTo6June2011 } from "../period";
import { type ExplainTarget, showExplain } from "./explain";

interface State {
  period: Period;
  asOf: string; // a day, or "" for now
  agency: string; // "" for all
  location: string;
}

/** stateFromHash reads #/reports?from=…&to=…&as_of=…&agency=…&location=… */
function stateFromHash(hash: string): State {
  const q = new URLSearchParams(hash.split("?")[1] ?? "");
  const def = lastTwelveMonths();
  const from = q.get("from") ?? "", to = q.get("to") ?? "", asOf = q.get("as_of") ?? "";
  const period = isDay(from) && isDay(to) && from <= to ? { from, to } : def;
  return { period, asOf: isDay(asOf) ? asOf : "", agency: q.get("agency") ?? "", location: q.get("location") ?? "" };
}

function hashOf(s: State): string {
  const q = new URLSearchParams({ from: s.period.from, to: s.period.to });
  if (s.asOf) q.set("as_of", s.asOf);
  if (s.agency) q.set("agency", s.agency);
  if (s.location) q.set("location", s.location);
  return "#/reports?" + q.toString();
}

/** A card: a titled section holding one chart (or the headlines). */
interface Card {
  el: HTMLElement;
  body: HTMLElement;
  provenance: HTMLElement;
}

function card(title: string, note?: string): Card {
  const id = uid("card");
  const body = h("div", { class: "card-body" }, h("p", { class: "note" }, "Loading…"));
  const provenance = h("footer", { class: "provenance" });
  const el = h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), note ? h("p", { class: "note" }, note) : null, body, provenance);
  return { el, body, provenance };
}

function provenanceText(position: number, fetched: Fetched<unknown>, s: State): string {
  return `Position ${fmt.count(position)} · fetched ${fmt.clock(fetched.fetchedAt)}` + (s.asOf ? ` · as known on ${fmt.day(s.asOf)}` : "");
}

/** figuresTable is a chart's text alternative: the same figures as a table. */
function figuresTable(caption: string, head: string[], rows: (string | number)[][], numeric: boolean[]): HTMLElement {
  return h(
    "details",
    { class: "table" },
    h("summary", {}, "Figures as a table"),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        {},
        h("caption", {}, caption),
        h("thead", {}, h("tr", {}, head.map((t, i) => h("th", { scope: "col", class: numeric[i] ? "num" : "" }, t)))),
        h("tbody", {}, rows.map((r) => h("tr", {}, r.map((v, i) => (i === 0 ? h("th", { scope: "row" }, String(v)) : h("td", { class: numeric[i] ? "num" : "" }, String(v))))))),
      ),
    ),
  );
}

export function reportsView(app: App, hash: string): View {
  let state = stateFromHash(hash);
  let generation = 0; // answers of an older load are dropped
  const observers: ResizeObserver[] = [];

  // ---- the controls ----
  const from = h("input", { id: "from", name: "from", type: "date", required: true });
  const to = h("input", { id: "to", name: "to", type: "date", required: true });
  const asOf = h("input", { id: "as-of", name: "as_of", type: "date", "aria-describedby": "as-of-help" });
  const agency = h("select", { id: "agency", name: "agency" });
  const location = h("select", { id: "location", name: "location" });
  const formError = h("p", { class: "error", role: "alert" });
  // The agencies and locations the page has seen in the figures, offered
  // as filters (kept across loads, so that a filtered page still offers
  // the others).
  const seenAgencies = new Set<string>(), seenLocations = new Set<string>();
  // Place names for the codes the reports carry (GET /v1/places); a code
  // stands for itself until they come, or if they cannot be had.
  const placeNames = new Map<string, string>();
  const placeName = (code: string) => placeNames.get(code) ?? code;
  const namesLoaded = places()
    .then((r) => { for (const p of r.data.places ?? []) if (p.code && p.name) placeNames.set(p.code, p.name); })
    .catch(() => undefined);
  const setPeriod = (p: Period) => {
    from.value = p.from;
    to.value = p.to;
  };
  const fillControls = () => {
    setPeriod(state.period);
    asOf.value = state.asOf;
    fillSelect(agency, "All agencies", state.agency, []);
    fillSelect(location, "All locations", state.location, []);
  };
  const submit = () => {
    formError.textContent = "";
    if (!isDay(from.value) || !isDay(to.value)) {
      formError.textContent = "Give the first and the last day of the period.";
      return;
    }
    if (from.value > to.value) {
      formError.textContent = "The period's first day is after its last day.";
      return;
    }
    state = { period: { from: from.value, to: to.value }, asOf: isDay(asOf.value) ? asOf.value : "", agency: agency.value, location: location.value };
    history.replaceState(null, "", hashOf(state));
    void load();
  };
  const form = h(
    "form",
    { class: "controls", "aria-label": "What the figures cover", onsubmit: (ev: Event) => { ev.preventDefault(); submit(); } },
    h(
      "fieldset",
      {},
      h("legend", {}, "Period (both days included)"),
      h("div", { class: "field" }, h("label", { for: "from" }, "From"), from),
      h("div", { class: "field" }, h("label", { for: "to" }, "To"), to),
      h(
        "div",
        { class: "buttons" },
        h("button", { type: "button", class: "secondary", onclick: () => { setPeriod(lastTwelveMonths()); submit(); } }, "Last 12 months"),
        h("button", { type: "button", class: "secondary", id: "year-to-june-2011", onclick: () => { setPeriod(yearTo6June2011); submit(); } }, "Year to 6 June 2011"),
      ),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Filters"),
      h("div", { class: "field" }, h("label", { for: "agency" }, "Agency"), agency),
      h("div", { class: "field" }, h("label", { for: "location" }, "Location"), location),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Time travel"),
      h("div", { class: "field" }, h("label", { for: "as-of" }, "As known on"), asOf),
      h("button", { type: "button", class: "secondary", id: "clear-as-of", onclick: () => { asOf.value = ""; submit(); } }, "Clear"),
    ),
    h("div", { class: "buttons" }, h("button", { type: "submit", id: "show" }, "Show figures")),
    h("p", { id: "as-of-help", class: "note" }, "As known on: the figures as they had been recorded by the end of that day (UTC), before any later entry or correction."),
    formError,
  );

  // ---- the figures ----
  const periodLine = h("p", { class: "period-line", role: "status" });
  const headlines = card("Headline figures");
  headlines.el.id = "headlines";
  const explainPanel = h("section", { class: "card explain", id: "explain", hidden: true });
  const charts = {
    arrests: card("Arrests by month"),
    detectionsByYear: card("People detected by year", "Every year of the data, whatever the period chosen."),
    detectionsByMethod: card("People detected by method"),
    seizuresByCommodity: card("Seizures by commodity", "Bars count seizures; the table gives the quantities seized."),
    seizuresByLocation: card("Seizures by location", "Bars count seizures, coloured by commodity."),
    gangs: card("Gangs dismantled by agency"),
  };
  charts.arrests.el.id = "chart-arrests";
  charts.detectionsByYear.el.id = "chart-detections-year";
  charts.detectionsByMethod.el.id = "chart-detections-method";
  charts.seizuresByCommodity.el.id = "chart-seizures-commodity";
  charts.seizuresByLocation.el.id = "chart-seizures-location";
  charts.gangs.el.id = "chart-gangs";

  const el = h(
    "div",
    { "data-page": "reports" },
    h("h1", {}, "Reports"),
    form,
    periodLine,
    headlines.el,
    explainPanel,
    h("div", { class: "charts" }, Object.values(charts).map((c) => c.el)),
  );
  fillControls();

  /** params are a report's query for the page's state over period p. */
  const params = (p: { from: string; to: string } | null): Omit<ReportParams<string>, "groupBy"> => {
    const out: Omit<ReportParams<string>, "groupBy"> = {};
    if (p) {
      out.from = p.from;
      out.to = p.to;
    }
    if (state.asOf) out.asOf = asOfParam(state.asOf);
    if (state.agency) out.agency = state.agency;
    if (state.location) out.location = state.location;
    return out;
  };

  const explain = (t: ExplainTarget, from: Element | null) => showExplain(app, explainPanel, t, from);

  /** chartInto draws bars into a card, again whenever its width changes. */
  const chartInto = (c: Card, draw: (width: number) => SVGSVGElement, extra: (HTMLElement | null)[], label: string) => {
    const holder = h("div", { class: "chart" });
    const describedBy = uid("desc");
    const desc = h("p", { id: describedBy, class: "visually-hidden" }, label);
    replace(c.body, holder, desc, ...extra);
    let lastWidth = 0;
    const render = () => {
      const width = Math.max(280, Math.floor(holder.clientWidth));
      if (Math.abs(width - lastWidth) < 16) return;
      lastWidth = width;
      const svg = draw(width);
      svg.setAttribute("aria-labelledby", c.el.getAttribute("aria-labelledby") ?? "");
      svg.setAttribute("aria-describedby", describedBy);
      replace(holder, svg);
    };
    render();
    const ro = new ResizeObserver(() => render());
    ro.observe(holder);
    observers.push(ro);
  };

  const showError = (c: Card, err: unknown) => {
    app.fail(err);
    replace(c.body, h("p", { class: "error" }, `Not available: ${err instanceof Error ? err.message : String(err)}`));
    c.provenance.textContent = "";
  };

  // ---- each figure ----

  const renderHeadlines = (r: Fetched<SummaryReport>) => {
    const s = r.data;
    const api = apiPeriod(state.period);
    const figure = (id: string, value: string, what: string, extraText: string | null, target: ExplainTarget) => {
      const b: HTMLButtonElement = h(
        "button",
        { type: "button", class: "figure", id, "data-value": value, onclick: () => explain(target, b) },
        h("span", { class: "value" }, value),
        h("span", { class: "what" }, what),
        extraText ? h("span", { class: "extra" }, extraText) : null,
        h("span", { class: "visually-hidden" }, " — list the events behind this figure"),
      );
      return b;
    };
    // Filtered by location, the summary has no gangs figure: a dismantling
    // records no place.
    const gangs = s.gangs_dismantled;
    const tiles = [
      gangs === undefined ? null : figure("figure-gangs", fmt.count(gangs), "organised crime gangs dismantled", null, {
        title: `Gangs dismantled: ${fmt.count(gangs)}`, report: "gangs-dismantled", params: params(api),
        pick: (a) => (a as GangsReport).event_ids, events: gangs,
      }),
      figure("figure-arrests", fmt.count(s.arrests), "arrests", null, {
        title: `Arrests: ${fmt.count(s.arrests)}`, report: "arrests", params: params(api),
        pick: (a) => (a as ArrestsReport).event_ids, events: s.arrests,
      }),
      figure("figure-people", fmt.count(s.detections.people), "people detected", `in ${fmt.count(s.detections.incidents)} ${fmt.plural(s.detections.incidents, "incident", "incidents")}`, {
        title: `People detected: ${fmt.count(s.detections.people)} in ${fmt.count(s.detections.incidents)} incidents`, report: "detections", params: params(api),
        pick: (a) => (a as DetectionsReport).event_ids, events: s.detections.incidents,
      }),
      ...s.seizures.map((t) =>
        figure(`figure-seized-${t.commodity}`, fmt.quantity(t.quantity, t.unit), `${fmt.commodity(t.commodity)} seized`, `${fmt.count(t.count)} ${fmt.plural(t.count, "seizure", "seizures")}`, {
          title: `${fmt.commodity(t.commodity)} seized: ${fmt.quantity(t.quantity, t.unit)} in ${fmt.count(t.count)} seizures`, report: "seizures", params: params(api),
          pick: (a) => (a as SeizuresReport).totals.find((x) => x.commodity === t.commodity && x.unit === t.unit)?.event_ids, events: t.count,
        }),
      ),
    ];
    replace(
      headlines.body,
      h("div", { class: "headlines" }, tiles),
      gangs === undefined ? h("p", { class: "note", id: "gangs-no-location" }, "Gangs dismantled are not counted by location: a dismantling records no place.") : null,
      s.seizures.length === 0 ? h("p", { class: "note" }, "Nothing was seized in the period.") : null,
    );
    headlines.provenance.textContent = provenanceText(s.position, r, state);
    mark("first-headline");
  };

  const renderArrests = (r: Fetched<ArrestsReport>) => {
    const counts = new Map(r.data.groups.map((g) => [g.key, g.count]));
    const bars: Bar[] = monthsOf(state.period).map((m) => {
      const value = counts.get(m) ?? 0;
      const name = `Arrests, ${fmt.month(m)}: ${fmt.count(value)}`;
      return {
        key: m, tick: fmt.shortMonth(m), name, value,
        activate: value > 0 ? () => explain({ title: name, report: "arrests", params: params(monthPeriod(m, state.period)), pick: (a) => (a as ArrestsReport).event_ids, events: value }, document.activeElement) : undefined,
      };
    });
    const peak = bars.reduce((a, b) => (b.value > a.value ? b : a), bars[0] ?? { value: 0, name: "" } as Bar);
    chartInto(charts.arrests, (width) => renderChart({ orientation: "vertical", bars, width, valueLabel: "Arrests" }),
      [figuresTable("Arrests by month", ["Month", "Arrests"], bars.map((b) => [fmt.month(b.key), fmt.count(b.value)]), [false, true])],
      `Bar chart of ${bars.length} months; ${fmt.count(r.data.total)} arrests in all` + (peak.value > 0 ? `; the most in ${peak.name.replace(/^Arrests, /, "")}.` : "."));
    charts.arrests.provenance.textContent = provenanceText(r.data.position, r, state);
  };

  const renderDetectionsByYear = (r: Fetched<DetectionsReport>) => {
    const bars: Bar[] = r.data.groups.map((g) => {
      const name = `People detected, ${g.key}: ${fmt.count(g.people)}`;
      return {
        key: g.key, tick: g.key, name, value: g.people,
        activate: g.incidents > 0 ? () => explain({ title: `${name} in ${fmt.count(g.incidents)} incidents`, report: "detections", params: params(yearPeriod(g.key)), pick: (a) => (a as DetectionsReport).event_ids, events: g.incidents }, document.activeElement) : undefined,
      };
    });
    chartInto(charts.detectionsByYear, (width) => renderChart({ orientation: "vertical", bars, width, valueLabel: "People" }),
      [figuresTable("People detected by year", ["Year", "People", "Incidents"], r.data.groups.map((g) => [g.key, fmt.count(g.people), fmt.count(g.incidents)]), [false, true, true])],
      bars.length ? `Bar chart: ${bars.map((b) => b.name.replace("People detected, ", "")).join("; ")} people.` : "No detections recorded.");
    if (bars.length === 0) charts.detectionsByYear.body.prepend(h("p", { class: "note" }, "No detections recorded."));
    charts.detectionsByYear.provenance.textContent = provenanceText(r.data.position, r, state);
  };

  const renderDetectionsByMethod = (r: Fetched<DetectionsReport>) => {
    const api = apiPeriod(state.period);
    const bars: Bar[] = r.data.groups.map((g) => {
      const name = `People detected by ${fmt.method(g.key).toLowerCase()}: ${fmt.count(g.people)}`;
      return {
        key: g.key, tick: fmt.method(g.key), name, value: g.people,
        activate: g.incidents > 0 ? () => explain({ title: `${name} in ${fmt.count(g.incidents)} incidents`, report: "detections", params: { ...params(api), groupBy: "method" }, pick: (a) => (a as DetectionsReport).groups.find((x) => x.key === g.key)?.event_ids, events: g.incidents }, document.activeElement) : undefined,
      };
    });
    chartInto(charts.detectionsByMethod, (width) => renderChart({ orientation: "horizontal", bars, width, valueLabel: "People" }),
      [bars.length ? null : h("p", { class: "note" }, "No detections in the period."),
        figuresTable("People detected by method", ["Method", "People", "Incidents"], r.data.groups.map((g) => [fmt.method(g.key), fmt.count(g.people), fmt.count(g.incidents)]), [false, true, true])],
      `Bar chart of people detected by ${bars.length} methods.`);
    charts.detectionsByMethod.provenance.textContent = provenanceText(r.data.position, r, state);
  };

  const renderSeizuresByCommodity = (r: Fetched<SummaryReport>) => {
    const api = apiPeriod(state.period);
    const bars: Bar[] = r.data.seizures.map((t) => {
      const name = `Seizures of ${fmt.commodity(t.commodity).toLowerCase()}: ${fmt.count(t.count)} (${fmt.quantity(t.quantity, t.unit)})`;
      return {
        key: `${t.commodity}/${t.unit}`, tick: fmt.commodity(t.commodity), name, value: t.count,
        activate: t.count > 0 ? () => explain({ title: name, report: "seizures", params: params(api), pick: (a) => (a as SeizuresReport).totals.find((x) => x.commodity === t.commodity && x.unit === t.unit)?.event_ids, events: t.count }, document.activeElement) : undefined,
      };
    });
    chartInto(charts.seizuresByCommodity, (width) => renderChart({ orientation: "horizontal", bars, width, valueLabel: "Seizures" }),
      [bars.length ? null : h("p", { class: "note" }, "Nothing was seized in the period."),
        figuresTable("Seizures by commodity", ["Commodity", "Seized", "Seizures"], r.data.seizures.map((t) => [fmt.commodity(t.commodity), fmt.quantity(t.quantity, t.unit), fmt.count(t.count)]), [false, true, true])],
      `Bar chart of seizures of ${bars.length} commodities.`);
    charts.seizuresByCommodity.provenance.textContent = provenanceText(r.data.position, r, state);
  };

  const renderSeizuresByLocation = (r: Fetched<SeizuresReport>) => {
    const api = apiPeriod(state.period);
    const commodities = [...new Set(r.data.groups.map((g) => g.commodity))].sort();
    const bars: Bar[] = r.data.groups.map((g) => {
      const name = `Seizures of ${fmt.commodity(g.commodity).toLowerCase()} at ${placeName(g.key)}: ${fmt.count(g.count)} (${fmt.quantity(g.quantity, g.unit)})`;
      return {
        key: g.key, tick: placeName(g.key), name, value: g.count, series: g.commodity,
        activate: g.count > 0 ? () => explain({ title: name, report: "seizures", params: { ...params(api), groupBy: "location" }, pick: (a) => (a as SeizuresReport).groups.find((x) => x.key === g.key && x.commodity === g.commodity && x.unit === g.unit)?.event_ids, events: g.count }, document.activeElement) : undefined,
      };
    });
    const legend = h("ul", { class: "legend", "aria-label": "Colours" }, commodities.map((c, i) => {
      const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
      swatch.style.backgroundColor = okabeIto[i % okabeIto.length]!; // CSSOM, which the CSP allows (no style attribute)
      return h("li", {}, swatch, fmt.commodity(c));
    }));
    chartInto(charts.seizuresByLocation, (width) => renderChart({ orientation: "horizontal", bars, width, valueLabel: "Seizures", series: { domain: commodities, name: fmt.commodity } }),
      [legend, bars.length ? null : h("p", { class: "note" }, "Nothing was seized in the period."),
        figuresTable("Seizures by location", ["Location", "Commodity", "Seized", "Seizures"], r.data.groups.map((g) => [placeName(g.key), fmt.commodity(g.commodity), fmt.quantity(g.quantity, g.unit), fmt.count(g.count)]), [false, false, true, true])],
      `Stacked bar chart of seizures at ${new Set(bars.map((b) => b.key)).size} locations by commodity.`);
    charts.seizuresByLocation.provenance.textContent = provenanceText(r.data.position, r, state);
    return [...new Set(r.data.groups.map((g) => g.key))];
  };

  const renderGangs = (r: Fetched<GangsReport>, total: number | null) => {
    const api = apiPeriod(state.period);
    const bars: Bar[] = r.data.groups.map((g) => {
      const name = `Gangs dismantled by ${g.key}: ${fmt.count(g.count)}`;
      return {
        key: g.key, tick: g.key, name, value: g.count,
        activate: g.count > 0 ? () => explain({ title: name, report: "gangs-dismantled", params: { ...params(api), groupBy: "agency" }, pick: (a) => (a as GangsReport).groups.find((x) => x.key === g.key)?.event_ids, events: g.count }, document.activeElement) : undefined,
      };
    });
    const sum = r.data.groups.reduce((a, g) => a + g.count, 0);
    // groups_overlap is the contract's word for it; main's answer lacks it,
    // and the sum tells the same.
    const overlap = r.data.groups_overlap ?? sum > r.data.total;
    const overlapNote = h("p", { class: "note", id: "gangs-overlap" },
      `A gang dismantled jointly counts once for each agency that dismantled it, but once in the total (${fmt.count(total ?? r.data.total)})` +
      (overlap && sum > r.data.total ? `: here the agencies add up to ${fmt.count(sum)}.` : "."));
    const locationNote = state.location
      ? h("p", { class: "note" }, `Not filtered by location (a dismantling records no place): every location${state.agency ? `, ${state.agency} only` : ""}.`)
      : null;
    chartInto(charts.gangs, (width) => renderChart({ orientation: "horizontal", bars, width, valueLabel: "Gangs dismantled" }),
      [overlapNote, locationNote, bars.length ? null : h("p", { class: "note" }, "No gang was dismantled in the period."),
        figuresTable("Gangs dismantled by agency", ["Agency", "Gangs dismantled"], r.data.groups.map((g) => [g.key, fmt.count(g.count)]), [false, true])],
      `Bar chart of gangs dismantled by ${bars.length} agencies.`);
    charts.gangs.provenance.textContent = provenanceText(r.data.position, r, state);
    return r.data.groups.map((g) => g.key);
  };

  // ---- loading ----

  async function load(): Promise<void> {
    const gen = ++generation;
    const current = () => gen === generation;
    const api = apiPeriod(state.period);
    periodLine.textContent =
      `Figures for ${fmt.day(state.period.from)} to ${fmt.day(state.period.to)}` +
      (state.agency ? `, ${state.agency}` : "") + (state.location ? `, ${state.location}` : "") +
      (state.asOf ? `, as known on ${fmt.day(state.asOf)}` : ", as recorded now") + ".";
    explainPanel.hidden = true;
    for (const o of observers.splice(0)) o.disconnect();
    for (const c of [headlines, ...Object.values(charts)]) {
      replace(c.body, h("p", { class: "note" }, "Loading…"));
      c.provenance.textContent = "";
    }

    // Every report call carries the filters (params); the gangs report
    // takes the agency only (gangsDismantled leaves the location out).
    const sum = summary(params(api));
    let gangsTotal: number | null = null;
    const agencies = seenAgencies, locations = seenLocations;
    const jobs: Promise<void>[] = [
      sum.then((r) => {
        if (!current()) return;
        if (r.data.agency && r.data.agency !== state.agency) {
          // The server answers an agency in its configured form (ukba: UKBA).
          state = { ...state, agency: r.data.agency };
          history.replaceState(null, "", hashOf(state));
        }
        gangsTotal = r.data.gangs_dismantled ?? null;
        renderHeadlines(r);
        renderSeizuresByCommodity(r);
      }).catch((err) => { showError(headlines, err); showError(charts.seizuresByCommodity, err); }),
      arrests({ ...params(api), groupBy: "month" }).then((r) => { if (current()) renderArrests(r); }).catch((err) => showError(charts.arrests, err)),
      // Every year of the data, whatever the period: no from and to.
      detections({ ...params(null), groupBy: "year" }).then((r) => { if (current()) renderDetectionsByYear(r); }).catch((err) => showError(charts.detectionsByYear, err)),
      detections({ ...params(api), groupBy: "method" }).then((r) => { if (current()) renderDetectionsByMethod(r); }).catch((err) => showError(charts.detectionsByMethod, err)),
      seizures({ ...params(api), groupBy: "location" }).then(async (r) => {
        await namesLoaded;
        if (current()) renderSeizuresByLocation(r).forEach((l) => locations.add(l));
      }).catch((err) => showError(charts.seizuresByLocation, err)),
      gangsDismantled({ ...params(api), groupBy: "agency" }).then(async (r) => {
        await sum.catch(() => undefined); // the note names the summary's total
        if (current()) renderGangs(r, gangsTotal).forEach((a) => agencies.add(a));
      }).catch((err) => showError(charts.gangs, err)),
    ];
    await Promise.all(jobs);
    if (!current()) return;
    fillSelect(agency, "All agencies", state.agency, [...agencies]);
    fillSelect(location, "All locations", state.location, [...locations], placeName);
    mark("reports-loaded");
    mark("reports-loaded");
    el.setAttribute("data-loaded", String(gen));
  }

  void load();
  return {
    el,
    dispose() {
      generation++;
      for (const o of observers) o.disconnect();
    },
  };
}

/** fillSelect offers "all" and the values seen, keeping the current one;
 * label names a value for people (a place's name for its code). */
function fillSelect(select: HTMLSelectElement, all: string, current: string, seen: string[], label: (v: string) => string = (v) => v): void {
  const values = [...new Set([...seen, ...(current ? [current] : [])])].sort();
  replace(select, h("option", { value: "" }, all), values.map((v) => h("option", { value: v }, label(v))));
  select.value = current;
}
