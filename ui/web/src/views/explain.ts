// From a figure to its events: the reports' explain, paged. Analysts see
// each event's type and date (never a name: the ids come from the reports,
// the dates from the same report grouped by day); auditors can also open
// an event with its case, actor, times and hash, and the case's
// verification (eventDialog).
import { ApiError, type ReportName, type ReportParams, grouped } from "../api/client";
import type { App } from "../app";
import { h, replace } from "../dom";
import * as fmt from "../format";
import { eventDialog } from "./event";

type CountingReport = Exclude<ReportName, "summary">;

/** What a figure's events are, and how to find them. */
export interface ExplainTarget {
  /** title is the figure's accessible name: "Arrests, September 2010: 26". */
  title: string;
  report: CountingReport;
  /** params: the figure's period, as_of and filters (explain is added). */
  params: ReportParams<string>;
  /** pick finds the figure's event ids in the explained answer. */
  pick: (answer: unknown) => string[] | undefined;
  /** events: how many events make the figure (incidents for detections). */
  events: number;
}

/** The event type each report counts. */
const eventTypeOf: Record<CountingReport, string> = {
  arrests: "Arrest made",
  "gangs-dismantled": "Gang dismantled",
  seizures: "Seizure recorded",
  detections: "Stowaways detected",
};

/** How many events a page lists (the API's explain pages at 100 too). */
const pageSize = 100;

/** A page of ids, and how to get the next one. */
interface IdPage {
  ids: string[];
  /** next: the server's next_cursor (explain paging), if it gave one. */
  next: string | null;
}

async function explainPage(t: ExplainTarget, cursor: string | null): Promise<IdPage> {
  const p: ReportParams<string> = { ...t.params, explain: true, limit: pageSize };
  if (cursor) p.cursor = cursor;
  const r = await grouped(t.report, p);
  const answer = r.data as { next_cursor?: string | null };
  return { ids: t.pick(r.data) ?? [], next: answer.next_cursor ?? null };
}

/**
 * datesOf maps event ids to the day (or month, or year) they happened: the
 * same report over the same period grouped by the finest time key it
 * offers, explained. Nothing here is a name. On main only the arrests
 * report groups by day (gangs and detections by month, seizures by year);
 * the reports' contract gives every report day, and then every row has its
 * day with no change here.
 */
async function datesOf(t: ExplainTarget): Promise<Map<string, string>> {
  const dates = new Map<string, string>();
  for (const groupBy of ["day", "month", "year"]) {
    try {
      let cursor: string | null = null;
      for (let page = 0; page < 50; page++) {
        const p: ReportParams<string> = { ...t.params, groupBy, explain: true, limit: 1000 };
        if (cursor) p.cursor = cursor;
        const r = await grouped(t.report, p);
        const answer = r.data as { groups?: { key: string; event_ids?: string[] }[]; next_cursor?: string | null };
        for (const g of answer.groups ?? []) for (const id of g.event_ids ?? []) dates.set(id, g.key);
        cursor = answer.next_cursor ?? null;
        if (!cursor) break;
      }
      return dates;
    } catch (err) {
      // A report that does not offer this grouping answers 400: try the
      // next coarser one.
      if (err instanceof ApiError && err.status === 400 && err.problem.field === "group_by") continue;
      throw err;
    }
  }
  return dates;
}

/**
 * showExplain fills panel with the events behind a figure, moves the focus
 * to its heading and, when closed, back to the figure (returnFocus).
 */
export function showExplain(app: App, panel: HTMLElement, t: ExplainTarget, returnFocus: Element | null): void {
  const headingID = "explain-h";
  const heading = h("h2", { id: headingID, tabindex: "-1" }, `Events behind “${t.title}”`);
  const close = h("button", {
    type: "button",
    class: "secondary",
    onclick: () => {
      panel.hidden = true;
      replace(panel);
      if (returnFocus instanceof HTMLElement || returnFocus instanceof SVGElement) returnFocus.focus();
    },
  }, "Close");
  const intro = h("p", { class: "note" }, "Loading the events…");
  const list = h("ol", { class: "event-list", "aria-labelledby": headingID });
  const more = h("button", { type: "button", class: "secondary", id: "explain-more", hidden: true }, "Show more events");
  const provenance = h("p", { class: "provenance" });
  replace(panel, h("header", {}, heading, close), intro, list, more, provenance);
  panel.hidden = false;
  panel.setAttribute("aria-labelledby", headingID);
  heading.focus();
  panel.scrollIntoView({ block: "nearest" });

  const type = eventTypeOf[t.report];
  let dates = new Map<string, string>();
  let pending: string[] = []; // ids fetched but not yet listed (an answer without paging)
  let cursor: string | null = null;
  let shown = 0;

  const addRows = (ids: string[]) => {
    for (const id of ids) {
      const date = dates.get(id);
      const row = h(
        "li",
        { "data-event-id": id },
        h("span", { class: "type" }, type),
        h("span", { class: "date" }, date ? fmt.periodKey(date) : "date not known"),
        h("code", { class: "id" }, id),
      );
      if (app.caps.events) {
        row.append(h("button", { type: "button", class: "secondary", onclick: (ev: Event) => eventDialog(app, id, ev.currentTarget as HTMLElement) }, "Open event"));
      }
      list.append(row);
    }
    shown += ids.length;
  };

  const nextPage = async () => {
    if (pending.length === 0 && (shown === 0 || cursor)) {
      const page = await explainPage(t, cursor);
      pending = page.ids;
      cursor = page.next;
    }
    addRows(pending.splice(0, pageSize));
    more.hidden = pending.length === 0 && !cursor;
    intro.textContent =
      `${fmt.count(t.events)} ${fmt.plural(t.events, "event", "events")} behind this figure; ` +
      `showing ${fmt.count(shown)}. ` +
      (app.caps.events ? "Open an event to see its case, actor, times and hash." : "Each row is an event's type, the date it happened and its id.");
  };

  more.addEventListener("click", () => {
    const first = list.children.length;
    more.disabled = true;
    nextPage()
      .then(() => (list.children[first] as HTMLElement | undefined)?.querySelector("button")?.focus())
      .catch((err) => fail(err))
      .finally(() => (more.disabled = false));
  });

  const fail = (err: unknown) => {
    app.fail(err);
    intro.textContent = `The events could not be listed: ${err instanceof Error ? err.message : String(err)}`;
    intro.className = "error";
  };

  const started = new Date();
  Promise.all([datesOf(t).catch(() => new Map<string, string>()), Promise.resolve()])
    .then(([d]) => {
      dates = d;
      return nextPage();
    })
    .then(() => {
      provenance.textContent = `Fetched ${fmt.clock(started)}` + (t.params.asOf ? ` · as known on ${fmt.day(t.params.asOf.slice(0, 10))}` : "");
      if (t.events === 0) intro.textContent = "No events are behind this figure.";
    })
    .catch(fail);
}
