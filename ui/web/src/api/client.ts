// The API client: openapi-fetch over the types openapi-typescript generates
// from the OpenAPI document casebookd serves (schema.d.ts), so that a route,
// parameter or field the document does not have fails the build.
//
// Every request carries the signed-in token (from sessionStorage only). A
// 429 or 503 answer with Retry-After is retried after waiting as it says
// (the page tells the user it is waiting); a 401 signs the user out with
// the server's reason; any other problem is thrown as an ApiError carrying
// the problem document.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";
import { session } from "../session";
import { retryAfterSeconds } from "./retry";

export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];

/** ApiError is a problem answer (RFC 9457). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem>,
  ) {
    super(problem.detail || problem.title || `HTTP ${status}`);
  }
  get code(): string | undefined {
    return this.problem.code;
  }
}

/** Unauthenticated is a 401: the token is missing, wrong or revoked. */
export class Unauthenticated extends ApiError {}

// ---- waiting as the server says -------------------------------------------

/** At most this many retries of one request after 429/503. */
const maxRetries = 6;
/** A Retry-After beyond this is not waited for: the error is shown instead. */
const maxWaitSeconds = 120;

type WaitListener = (message: string | null) => void;
let onWait: WaitListener = () => {};

/** setWaitListener receives "waiting…" messages (null when done). */
export function setWaitListener(fn: WaitListener): void {
  onWait = fn;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// A few requests at a time: the reports page asks for eight answers at
// once, and a per-caller rate limit is better met by queueing here than
// by a burst of 429s.
const maxInFlight = 4;
let inFlight = 0;
const queue: (() => void)[] = [];

async function acquire(): Promise<() => void> {
  if (inFlight >= maxInFlight) await new Promise<void>((r) => queue.push(r));
  inFlight++;
  return () => {
    inFlight--;
    queue.shift()?.();
  };
}

let waiting = 0;

async function fetchWaitingAsTold(request: Request): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const release = await acquire();
    let res: Response;
    try {
      res = await fetch(request.clone());
    } finally {
      release();
    }
    if ((res.status !== 429 && res.status !== 503) || attempt >= maxRetries) return res;
    // 429 without Retry-After: wait a second and try again. 503 without it
    // is a state that waiting will not change (say, a store that cannot
    // look events up by id): answer it.
    let wait = retryAfterSeconds(res.headers.get("Retry-After"));
    if (wait === null) {
      if (res.status === 503) return res;
      wait = 1;
    }
    if (wait > maxWaitSeconds) return res;
    waiting++;
    const what = res.status === 429 ? "asked us to slow down" : "is busy";
    onWait(`The server ${what} (${res.status}); trying again in ${wait} s, as it said.`);
    await res.body?.cancel();
    await sleep(wait * 1000);
    if (--waiting === 0) onWait(null);
  }
}

export const client = createClient<paths>({ baseUrl: location.origin, fetch: fetchWaitingAsTold });

client.use({
  onRequest({ request }) {
    const token = session.token();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    return request;
  },
});

/** Fetched is an answer with the moment it arrived. */
export interface Fetched<T> {
  data: T;
  fetchedAt: Date;
}

/** unwrap turns openapi-fetch's result into data, or throws the problem. */
export function unwrap<T>(r: { data?: T; error?: unknown; response: Response }): Fetched<T> {
  if (r.response.ok && r.data !== undefined) return { data: r.data, fetchedAt: new Date() };
  const problem: Partial<Problem> =
    r.error && typeof r.error === "object" ? (r.error as Partial<Problem>) : { detail: `${r.response.status} ${r.response.statusText}` };
  if (r.response.status === 401) throw new Unauthenticated(401, problem);
  throw new ApiError(r.response.status, problem);
}

// ---- reports ----------------------------------------------------------------

export type ReportName = "arrests" | "gangs-dismantled" | "seizures" | "detections" | "summary";
type ReportPath = `/v1/reports/${ReportName}`;
type QueryOf<P extends ReportPath> = NonNullable<paths[P]["get"]["parameters"]["query"]>;
type GroupByOf<P extends ReportPath> = QueryOf<P> extends { group_by?: infer G } ? G : never;

/**
 * What the page asks of a report. agency and location are filters (the
 * gangs report takes no location: a dismantling records no place, and the
 * server refuses it; gangsDismantled leaves it out).
 */
export interface ReportParams<G = string> {
  from?: string;
  to?: string;
  groupBy?: G;
  explain?: boolean;
  asOf?: string;
  agency?: string;
  location?: string;
  limit?: number;
  cursor?: string;
}

function queryOf<P extends ReportPath>(p: ReportParams<GroupByOf<P>>): QueryOf<P> {
  const q: Record<string, unknown> = {};
  if (p.from) q.from = p.from;
  if (p.to) q.to = p.to;
  if (p.groupBy) q.group_by = p.groupBy;
  if (p.explain) q.explain = true;
  if (p.asOf) q.as_of = p.asOf;
  if (p.agency) q.agency = p.agency;
  if (p.location) q.location = p.location;
  if (p.explain && p.limit) q.limit = p.limit;
  if (p.explain && p.cursor) q.cursor = p.cursor;
  return q as QueryOf<P>;
}

export type ArrestsReport = Schemas["ArrestsReport"];
export type GangsReport = Schemas["GangsReport"];
export type SeizuresReport = Schemas["SeizuresReport"];
export type DetectionsReport = Schemas["DetectionsReport"];
export type SummaryReport = Schemas["SummaryReport"];

export async function arrests(p: ReportParams<GroupByOf<"/v1/reports/arrests">>): Promise<Fetched<ArrestsReport>> {
  return unwrap(await client.GET("/v1/reports/arrests", { params: { query: queryOf<"/v1/reports/arrests">(p) } }));
}

/** gangsDismantled: filtered by agency only (p.location is left out). */
export async function gangsDismantled(p: ReportParams<GroupByOf<"/v1/reports/gangs-dismantled">>): Promise<Fetched<GangsReport>> {
  const query = queryOf<"/v1/reports/gangs-dismantled">({ ...p, location: undefined });
  return unwrap(await client.GET("/v1/reports/gangs-dismantled", { params: { query } }));
}

export async function seizures(p: ReportParams<GroupByOf<"/v1/reports/seizures">>): Promise<Fetched<SeizuresReport>> {
  return unwrap(await client.GET("/v1/reports/seizures", { params: { query: queryOf<"/v1/reports/seizures">(p) } }));
}

export async function detections(p: ReportParams<GroupByOf<"/v1/reports/detections">>): Promise<Fetched<DetectionsReport>> {
  return unwrap(await client.GET("/v1/reports/detections", { params: { query: queryOf<"/v1/reports/detections">(p) } }));
}

export async function summary(p: ReportParams<never>): Promise<Fetched<SummaryReport>> {
  return unwrap(await client.GET("/v1/reports/summary", { params: { query: queryOf<"/v1/reports/summary">(p) } }));
}

/** reportGroupBy asks any report for any grouping (the keys differ by report). */
export async function grouped(report: Exclude<ReportName, "summary">, p: ReportParams<string>): Promise<Fetched<ArrestsReport | GangsReport | SeizuresReport | DetectionsReport>> {
  switch (report) {
    case "arrests":
      return arrests(p as ReportParams<GroupByOf<"/v1/reports/arrests">>);
    case "gangs-dismantled":
      return gangsDismantled(p as ReportParams<GroupByOf<"/v1/reports/gangs-dismantled">>);
    case "seizures":
      return seizures(p as ReportParams<GroupByOf<"/v1/reports/seizures">>);
    case "detections":
      return detections(p as ReportParams<GroupByOf<"/v1/reports/detections">>);
  }
}

// ---- events, cases, projections ---------------------------------------------

export type CaseEvent = Schemas["CaseEvent"];
export type VerifyResult = Schemas["VerifyResult"];
export type ProjectionStatus = Schemas["ProjectionStatus"];

export async function event(id: string): Promise<Fetched<CaseEvent>> {
  return unwrap(await client.GET("/v1/events/{id}", { params: { path: { id } } }));
}

export async function verifyCase(id: string): Promise<Fetched<VerifyResult>> {
  return unwrap(await client.GET("/v1/cases/{id}/verify", { params: { path: { id } } }));
}

export type PlaceList = Schemas["PlaceList"];

/** places is the configured list of places (codes and names), for any role. */
export async function places(): Promise<Fetched<PlaceList>> {
  return unwrap(await client.GET("/v1/places"));
}

export async function projectionList(): Promise<Fetched<ProjectionStatus[]>> {
  return unwrap(await client.GET("/v1/projections"));
}

export async function rebuild(name: ProjectionStatus["name"]): Promise<Fetched<Schemas["RebuildAccepted"]>> {
  return unwrap(await client.POST("/v1/projections/{name}/rebuild", { params: { path: { name } } }));
}

/** A UUID no event has: asking for it tells whether the role may open events. */
export const noSuchEvent = "00000000-0000-0000-0000-000000000000";
