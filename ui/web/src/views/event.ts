// An auditor opens one event: its case, actor, times and hash, and the
// verdict on the case's hash chain. Each read is in the case's access log.
import { ApiError, client, event, unwrap, verifyCase } from "../api/client";
import type { App } from "../app";
import { h, replace } from "../dom";
import * as fmt from "../format";

export function eventDialog(app: App, id: string, opener: HTMLElement): void {
  const body = h("div", {}, h("p", {}, "Loading the event…"));
  const close = h("button", { type: "button", class: "secondary" }, "Close");
  const dialog = h(
    "dialog",
    { "aria-labelledby": "event-h", class: "event-dialog" },
    h("h2", { id: "event-h" }, "Event"),
    body,
    h("div", { class: "dialog-buttons" }, close),
  );
  const done = () => {
    dialog.close();
  };
  close.addEventListener("click", done);
  dialog.addEventListener("close", () => {
    dialog.remove();
    opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  close.focus();

  void (async () => {
    try {
      const e = await event(id);
      const ev = e.data;
      const [record, verdict] = await Promise.all([
        client.GET("/v1/cases/{id}", { params: { path: { id: ev.case_id } } }).then(unwrap),
        verifyCase(ev.case_id),
      ]);
      const c = record.data;
      const v = verdict.data;
      const verdictText = v.valid
        ? h("span", { class: "verdict-ok" }, `Intact: ${fmt.count(v.checked)} events checked, every hash matches.`)
        : h(
            "span",
            { class: "verdict-bad" },
            `Broken at version ${v.first_invalid_version ?? "?"}: ${v.reason ?? "a hash does not match"}.`,
          );
      replace(
        body,
        h(
          "dl",
          { class: "fields" },
          h("dt", {}, "Type"), h("dd", { "data-field": "type" }, ev.type),
          h("dt", {}, "Event id"), h("dd", {}, h("code", {}, ev.id)),
          h("dt", {}, "Case"), h("dd", { "data-field": "case" }, `${c.reference} — ${c.title} (lead ${c.lead_agency})`, h("br"), h("code", {}, ev.case_id)),
          h("dt", {}, "Version"), h("dd", {}, `${fmt.count(ev.version)} of the case · log position ${fmt.count(ev.position)}`),
          h("dt", {}, "Actor"), h("dd", { "data-field": "actor" }, `${ev.actor.subject} (${ev.actor.role}, ${ev.actor.agency})`),
          h("dt", {}, "Happened"), h("dd", {}, fmt.dateTime(ev.occurred_at)),
          h("dt", {}, "Recorded"), h("dd", {}, fmt.dateTime(ev.recorded_at)),
          h("dt", {}, "Hash"), h("dd", {}, h("code", { "data-field": "hash" }, ev.hash)),
          h("dt", {}, "Previous hash"), h("dd", {}, h("code", {}, ev.prev_hash || "(none: the case's first event)")),
          h("dt", {}, "Case's hash chain"), h("dd", { "data-field": "verdict" }, verdictText, h("br"), "Head hash ", h("code", {}, v.head_hash)),
        ),
        h("h3", {}, "Data"),
        h("pre", { class: "data" }, JSON.stringify(ev.data, null, 2)),
        h("p", { class: "provenance" }, `Fetched ${fmt.clock(e.fetchedAt)}; this consultation is in the case's access log.`),
      );
    } catch (err) {
      app.fail(err);
      const why = err instanceof ApiError ? err.message : String(err);
      replace(body, h("p", { class: "error" }, `The event could not be opened: ${why}`));
    }
  })();
}
