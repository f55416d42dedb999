// The projections page (admins): each read model's state, position, lag
// and last error, refreshed every two seconds, and its rebuild button
// (after a confirmation). Rows are updated in place, so a refresh never
// takes the keyboard focus away.
import { type ProjectionStatus, projectionList, rebuild } from "../api/client";
import type { App, View } from "../app";
import { h, replace } from "../dom";
import * as fmt from "../format";

const refreshEvery = 2000;

const stateNames: Record<string, string> = {
  live: "Live",
  catching_up: "Catching up",
  rebuilding: "Rebuilding",
  failed: "Failed",
};

interface Row {
  tr: HTMLTableRowElement;
  cells: Record<"state" | "position" | "head" | "lagEvents" | "lagSeconds" | "version" | "error", HTMLTableCellElement>;
}

export function projectionsView(app: App): View {
  const tbody = h("tbody");
  const rows = new Map<string, Row>();
  const fetched = h("p", { class: "provenance", role: "status" });
  const message = h("p", { role: "status" });
  let timer: number | undefined;
  let disposed = false;

  const dialogText = h("p");
  const confirmButton = h("button", { type: "button", class: "danger", id: "confirm-rebuild" }, "Rebuild");
  const cancelButton = h("button", { type: "button", class: "secondary" }, "Cancel");
  const dialog = h(
    "dialog",
    { "aria-labelledby": "rebuild-h", "aria-describedby": "rebuild-desc" },
    h("h2", { id: "rebuild-h" }, "Rebuild a read model?"),
    h("div", { id: "rebuild-desc" }, dialogText,
      h("p", {}, "It is rebuilt from the start of the log into new tables while the current ones keep answering, then swapped in. Reports stay available throughout.")),
    h("div", { class: "dialog-buttons" }, cancelButton, confirmButton),
  );
  let pending: { name: ProjectionStatus["name"]; opener: HTMLElement } | null = null;
  cancelButton.addEventListener("click", () => dialog.close("cancel"));
  confirmButton.addEventListener("click", () => dialog.close("rebuild"));
  dialog.addEventListener("close", () => {
    const p = pending;
    pending = null;
    if (!p) return;
    p.opener.focus();
    if (dialog.returnValue !== "rebuild") return;
    message.textContent = `Starting the rebuild of ${p.name}…`;
    rebuild(p.name)
      .then(() => {
        message.textContent = `The rebuild of ${p.name} has started.`;
        void refresh();
      })
      .catch((err) => {
        app.fail(err);
        message.textContent = `The rebuild of ${p.name} could not start: ${err instanceof Error ? err.message : String(err)}`;
      });
  });

  const rowFor = (p: ProjectionStatus): Row => {
    let row = rows.get(p.name);
    if (row) return row;
    const td = () => h("td");
    const num = () => h("td", { class: "num" });
    const cells = { state: td(), position: num(), head: num(), lagEvents: num(), lagSeconds: num(), version: num(), error: td() };
    const button = h("button", {
      type: "button",
      class: "secondary",
      "aria-label": `Rebuild ${p.name}`,
      onclick: (ev: Event) => {
        pending = { name: p.name, opener: ev.currentTarget as HTMLElement };
        dialogText.textContent = `Rebuild the read model ${p.name}?`;
        dialog.returnValue = "";
        dialog.showModal();
        cancelButton.focus();
      },
    }, "Rebuild…");
    const tr = h("tr", { "data-projection": p.name },
      h("th", { scope: "row" }, p.name),
      cells.state, cells.position, cells.head, cells.lagEvents, cells.lagSeconds, cells.version, cells.error,
      h("td", {}, button));
    tbody.append(tr);
    row = { tr, cells };
    rows.set(p.name, row);
    return row;
  };

  const refresh = async () => {
    window.clearTimeout(timer);
    try {
      const r = await projectionList();
      if (disposed) return;
      for (const p of r.data) {
        const { cells } = rowFor(p);
        cells.state.textContent = stateNames[p.state] ?? p.state;
        cells.state.className = "state-" + p.state;
        cells.position.textContent = fmt.count(p.position);
        cells.head.textContent = fmt.count(p.head);
        cells.lagEvents.textContent = fmt.count(p.lag_events);
        cells.lagSeconds.textContent = p.lag_seconds.toFixed(1);
        cells.version.textContent = String(p.version);
        cells.error.textContent = p.error ?? "—";
      }
      fetched.textContent = `Fetched ${fmt.clock(r.fetchedAt)}; refreshed every ${refreshEvery / 1000} seconds.`;
    } catch (err) {
      app.fail(err);
      fetched.textContent = `Not refreshed: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (!disposed) timer = window.setTimeout(() => void refresh(), refreshEvery);
  };

  const head = ["Read model", "State", "Position", "Log head", "Lag (events)", "Lag (seconds)", "Version", "Last error", "Action"];
  const numeric = [false, false, true, true, true, true, true, false, false];
  const el = h(
    "div",
    { "data-page": "projections" },
    h("h1", {}, "Projections"),
    h("p", {}, "The read models behind the reports and the case list: how far each has read the event log, and the last error if one failed."),
    h("section", { class: "card", "aria-labelledby": "projections-h" },
      h("h2", { id: "projections-h" }, "Read models"),
      h("div", { class: "table-wrap" },
        h("table", { id: "projections" },
          h("caption", { class: "visually-hidden" }, "Read models with their state, position and lag"),
          h("thead", {}, h("tr", {}, head.map((t, i) => h("th", { scope: "col", class: numeric[i] ? "num" : "" }, t)))),
          tbody)),
      message,
      fetched),
    dialog,
  );
  replace(tbody);
  void refresh();
  return {
    el,
    dispose() {
      disposed = true;
      window.clearTimeout(timer);
    },
  };
}
