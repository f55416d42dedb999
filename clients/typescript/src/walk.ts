// The README's first ten minutes, walked by a client generated from
// casebookd's own /openapi.json: open a case, log an arrest and a seizure,
// read the case and its history, verify it, read every report.
//
// The types (src/schema.d.ts) come from openapi-typescript run against the
// served document, so this program only compiles while the contract says
// what it uses; it then checks at run time that the server answers what
// the contract says. Any disagreement exits 1.
//
//   CASEBOOK_URL=http://127.0.0.1:8080 INVESTIGATOR_TOKEN=… AUDITOR_TOKEN=…
//   ANALYST_TOKEN=… node dist/walk.js
import { randomUUID } from "node:crypto";
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Problem = components["schemas"]["Problem"];

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const baseUrl = env("CASEBOOK_URL");
const client = (token: string) => createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
const investigator = client(env("INVESTIGATOR_TOKEN"));
const auditor = client(env("AUDITOR_TOKEN"));
const analyst = client(env("ANALYST_TOKEN"));

let checks = 0;
function check(ok: boolean, what: string): void {
  checks++;
  if (!ok) throw new Error(`the server disagrees with the contract: ${what}`);
}

// ok unwraps an openapi-fetch answer: the data of a documented success, or
// a failure naming the problem.
function ok<T>(what: string, r: { data?: T; error?: unknown; response: Response }, status: number): T {
  if (r.error !== undefined || r.data === undefined) {
    const p = r.error as Problem | undefined;
    throw new Error(`${what}: ${r.response.status} ${p?.type ?? ""} ${p?.code ?? ""} ${p?.detail ?? ""}`);
  }
  check(r.response.status === status, `${what}: status ${r.response.status}, want ${status}`);
  check(r.response.headers.get("X-Request-ID") !== null, `${what}: no X-Request-ID`);
  return r.data;
}

function say(line: string): void {
  console.log(line);
}

async function main(): Promise<void> {
  const started = Date.now();
  const ref = `UKBA/2011/${randomUUID().slice(0, 8)}`;

  // 1. An investigator opens a case.
  const opened = await investigator.POST("/v1/cases", {
    body: { reference: ref, title: "Operation Nightjar", crime_types: ["people_smuggling", "class_a_drugs"], location: "Calais" },
  });
  const c = ok("open a case", opened, 201);
  check(c.version === 0 && c.status === "open" && c.lead_agency === "UKBA", "a new case is open, at version 0, led by UKBA");
  check(opened.response.headers.get("ETag") === '"0"', "a new case's ETag is \"0\"");
  check(opened.response.headers.get("Location") === `/v1/cases/${c.id}`, "Location names the case");
  say(`opened    ${c.id}  ${c.reference}  "${c.title}"  lead ${c.lead_agency}  version ${c.version}`);

  // 2. A suspect identified, then arrested (conditionally, on the version
  //    the investigator saw), and a seizure.
  const person = randomUUID();
  const idBody = { type: "SuspectIdentified" as const, data: { person_id: person, name: "K. Osei", nationality: "Ghanaian" } };
  const identified = ok("identify a suspect", await investigator.POST("/v1/cases/{id}/events", {
    params: { path: { id: c.id } }, body: idBody }), 201);
  const arrest = await investigator.POST("/v1/cases/{id}/events", {
    params: { path: { id: c.id }, header: { "If-Match": `"${identified.version}"` } },
    body: { type: "ArrestMade", occurred_at: "2011-03-04T05:30:00Z", data: { person_id: person, location: "Coquelles", offence: "Facilitating illegal entry" } },
  });
  const arrested = ok("log an arrest", arrest, 201);
  check(arrested.version === 2 && arrest.response.headers.get("ETag") === '"2"', "the arrest is version 2");
  say(`arrest    version ${arrested.version}  position ${arrested.position}  (If-Match "${identified.version}")`);
  const stale = await investigator.POST("/v1/cases/{id}/events", {
    params: { path: { id: c.id }, header: { "If-Match": `"${identified.version}"` } },
    body: { type: "IntelligenceLogged", data: { summary: "Decided on a stale version", grading: "2B1" } },
  });
  check(stale.response.status === 409 && stale.error?.type === "/problems/version-conflict" && stale.error.current_version === 2,
    "a stale If-Match is a version conflict naming the current version");
  const seizure = ok("log a seizure", await investigator.POST("/v1/cases/{id}/events", {
    params: { path: { id: c.id } },
    body: { type: "SeizureRecorded", occurred_at: "2011-03-04T06:10:00Z",
      data: { commodity: "class_a_drugs", quantity: 12.5, unit: "kg", location: "Coquelles", exhibit_ref: "NJ-0001" } },
  }), 201);
  say(`seizure   version ${seizure.version}  position ${seizure.position}  12.5 kg class_a_drugs`);

  // 3. The case, and its history page by page (following `next`).
  const read = await investigator.GET("/v1/cases/{id}", { params: { path: { id: c.id } } });
  const now = ok("read the case", read, 200);
  check(now.counts.arrests === 1 && now.counts.seizures === 1 && now.counts.suspects === 1, "the case counts one arrest, one seizure, one suspect");
  check(now.seizures.some((s) => s.commodity === "class_a_drugs" && s.quantity === 12.5), "the case totals 12.5 kg of class A drugs");
  check(read.response.headers.get("ETag") === `"${now.version}"`, "the ETag is the case's version");
  say(`case      version ${now.version}  arrests ${now.counts.arrests}  seizures ${now.counts.seizures}  suspects ${now.counts.suspects}`);
  const before = ok("read the case as it was", await auditor.GET("/v1/cases/{id}", {
    params: { path: { id: c.id }, query: { version: 1 } } }), 200);
  check(before.counts.arrests === 0, "at version 1 there was no arrest");

  const types: string[] = [];
  let from: number | undefined = 0;
  let pages = 0;
  while (from !== undefined) {
    const page: components["schemas"]["EventPage"] = ok("read the history", await auditor.GET("/v1/cases/{id}/events", {
      params: { path: { id: c.id }, query: { from_version: from, limit: 2 } } }), 200);
    pages++;
    for (const e of page.events) {
      check(/^[0-9a-f]{64}$/.test(e.hash) && e.stream === `case-${c.id}`, "an event carries its stream and hash");
      types.push(`${e.version}:${e.type}`);
    }
    check((page.next === null) === (page.next_from_version === null), "next and next_from_version agree");
    from = page.next === null ? undefined : Number(new URL(page.next, baseUrl).searchParams.get("from_version"));
  }
  check(types.length === 4 && pages === 2, "the history has 4 events in 2 pages of 2");
  say(`history   ${types.join("  ")}  (${pages} pages, following next)`);

  // 4. Verify its hash chains.
  const verdict = ok("verify the case", await auditor.GET("/v1/cases/{id}/verify", { params: { path: { id: c.id } } }), 200);
  check(verdict.valid && verdict.checked === 4 && verdict.streams.length === 2, "both chains hold");
  say(`verify    valid ${verdict.valid}  checked ${verdict.checked}  head ${verdict.head_hash.slice(0, 12)}  streams ${verdict.streams.map((s) => `${s.stream.split("-")[0]}:${s.valid}`).join(" ")}`);

  // 5. Who read it: the access log (recorded_at, like every other route).
  const access = ok("read the access log", await auditor.GET("/v1/access-log", { params: { query: { case: c.id, limit: 100 } } }), 200);
  check(access.entries.length >= 4 && access.entries.every((e) => e.recorded_at === e.at), "every entry says recorded_at (and its old name at)");
  say(`access    ${access.entries.length} entries: ${[...new Set(access.entries.map((e) => `${e.operation}/${e.role}`))].join(" ")}`);

  // 6. Every report, as an analyst, reading its own writes.
  const q = { from: "2011-01-01", to: "2011-12-31T23:59:59Z", min_position: seizure.position };
  const arrests = ok("arrests report", await analyst.GET("/v1/reports/arrests", { params: { query: { ...q, group_by: "month", explain: true } } }), 200);
  check(arrests.total >= 1 && arrests.groups.some((g) => g.key === "2011-03") && (arrests.event_ids ?? []).length === arrests.total,
    "the arrest is counted in March 2011, with its event id");
  say(`report    arrests ${arrests.total}  by month ${arrests.groups.map((g) => `${g.key}:${g.count}`).join(" ")}`);
  const gangs = ok("gangs report", await analyst.GET("/v1/reports/gangs-dismantled", { params: { query: { ...q, group_by: "agency" } } }), 200);
  say(`report    gangs-dismantled ${gangs.total}`);
  const seizures = ok("seizures report", await analyst.GET("/v1/reports/seizures", { params: { query: q } }), 200);
  const drugs = seizures.totals.find((s) => s.commodity === "class_a_drugs");
  check(drugs !== undefined && drugs.quantity >= 12.5 && drugs.unit === "kg", "12.5 kg of class A drugs are in the seizures");
  say(`report    seizures ${seizures.totals.map((s) => `${s.commodity} ${s.quantity} ${s.unit}`).join(", ")}`);
  const detections = ok("detections report", await analyst.GET("/v1/reports/detections", { params: { query: { ...q, group_by: "year" } } }), 200);
  say(`report    detections ${detections.incidents} incidents, ${detections.people} people`);
  const summary = ok("summary report", await analyst.GET("/v1/reports/summary", { params: { query: q } }), 200);
  check(summary.arrests === arrests.total && summary.gangs_dismantled === gangs.total, "the summary agrees with the reports");
  say(`report    summary: gangs ${summary.gangs_dismantled}, arrests ${summary.arrests}, seizures ${summary.seizures.length} commodities, detections ${summary.detections.incidents}`);

  // Filters: the investigator is UKBA's, so its arrests are all of them;
  // the agency is any letter case, echoed as configured.
  const ukbaArrests = ok("arrests filtered by agency", await analyst.GET("/v1/reports/arrests", { params: { query: { ...q, agency: "ukba" } } }), 200);
  check(ukbaArrests.agency === "UKBA" && ukbaArrests.total === arrests.total, "UKBA's arrests are the case's, the agency echoed as UKBA");
  const atCoquelles = ok("summary filtered by location", await analyst.GET("/v1/reports/summary", { params: { query: { ...q, location: "coquelles" } } }), 200);
  check(atCoquelles.location === "COQUELLES" && atCoquelles.arrests === arrests.total && atCoquelles.gangs_dismantled === undefined,
    "the summary at Coquelles counts the arrest there, and has no gangs figure (dismantlings have no place)");
  // (The contract gives the gangs no location parameter: sent anyway, it is refused.)
  const noPlace = await analyst.GET("/v1/reports/gangs-dismantled", { params: { query: { ...q, location: "Coquelles" } as typeof q } });
  check(noPlace.response.status === 400 && noPlace.error?.field === "location", "gangs dismantled refuse a location filter");
  say(`filters   UKBA's arrests ${ukbaArrests.total}; summary at Coquelles: arrests ${atCoquelles.arrests}; gangs by location: ${noPlace.response.status} ${noPlace.error?.code}`);

  // 7. Failures are problems the client can branch on.
  const missing = await auditor.GET("/v1/cases/{id}", { params: { path: { id: randomUUID() } } });
  check(missing.response.status === 404 && missing.error?.type === "/problems/not-found" && missing.error.code === "case_not_found",
    "a missing case is a not-found problem with code case_not_found");
  const forbidden = await analyst.GET("/v1/cases/{id}", { params: { path: { id: c.id } } });
  check(forbidden.response.status === 403 && forbidden.error?.code !== undefined, "an analyst may not read a case");
  say(`problems  ${missing.error?.type} (${missing.error?.code}), ${forbidden.error?.type} (${forbidden.error?.code})`);

  say(`walkthrough: ${checks} checks passed against ${baseUrl} in ${Date.now() - started} ms`);
}

main().catch((err: unknown) => {
  console.error(`walkthrough FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
