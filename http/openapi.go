package casehttp

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/casebook/casebook/domain"
)

// The OpenAPI 3.1 document is built in code rather than kept as a file so
// that it shares the problem types, roles and event types with the handlers
// and cannot drift from them; a test checks that every registered route is
// documented and that real answers validate against the schemas.

type obj = map[string]any

var (
	openAPIOnce  sync.Once
	openAPIBytes []byte
)

// OpenAPI returns the OpenAPI 3.1 document (JSON).
func OpenAPI() []byte {
	openAPIOnce.Do(func() {
		b, err := json.MarshalIndent(openAPIDocument(), "", "  ")
		if err != nil {
			panic("casehttp: OpenAPI document does not marshal: " + err.Error())
		}
		openAPIBytes = b
	})
	return openAPIBytes
}

func serveOpenAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", OpenAPI())
}

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func str(desc string) obj { return obj{"type": "string", "description": desc} }

func strFormat(format, desc string) obj {
	return obj{"type": "string", "format": format, "description": desc}
}

func integer(desc string) obj { return obj{"type": "integer", "minimum": 0, "description": desc} }

func nullableInteger(desc string) obj {
	return obj{"type": []string{"integer", "null"}, "minimum": 0, "description": desc}
}

func boolean(desc string) obj { return obj{"type": "boolean", "description": desc} }

func arrayOf(items obj, desc string) obj {
	return obj{"type": "array", "items": items, "description": desc}
}

func enum(desc string, values ...string) obj {
	return obj{"type": "string", "enum": values, "description": desc}
}

// object is a closed object schema: every property listed, unknown ones
// refused (so the validator catches undocumented fields in answers).
func object(desc string, props obj, required ...string) obj {
	if required == nil {
		required = []string{}
	}
	return obj{"type": "object", "description": desc, "properties": props, "required": required, "additionalProperties": false}
}

func jsonContent(schema obj) obj { return obj{"application/json": obj{"schema": schema}} }

func response(desc string, schema obj, headers ...string) obj {
	r := obj{"description": desc, "content": jsonContent(schema)}
	if len(headers) > 0 {
		h := obj{}
		for _, name := range headers {
			h[name] = documentedHeaders[name]
		}
		r["headers"] = h
	}
	return r
}

var documentedHeaders = map[string]obj{
	"ETag":              {"description": "The case version as a strong entity tag, e.g. \"3\"; send it back in If-Match.", "schema": obj{"type": "string"}},
	"Location":          {"description": "URL of the created resource.", "schema": obj{"type": "string"}},
	"Retry-After":       {"description": "Seconds to wait before retrying.", "schema": obj{"type": "integer"}},
	"Casebook-Position": {"description": "The global log position the read model reflects.", "schema": obj{"type": "integer"}},
}

func problemResponse(status int) obj {
	desc := http.StatusText(status)
	for _, t := range ProblemTypes {
		if t.Status == status {
			desc += "; type " + t.URI()
		}
	}
	return obj{"description": desc, "content": obj{"application/problem+json": obj{"schema": ref("Problem")}}}
}

// op describes one operation. roles nil: no token needed.
func op(summary, description string, roles []string, params []obj, body obj, responses obj, problems ...int) obj {
	o := obj{"summary": summary, "description": description, "responses": responses}
	if len(params) > 0 {
		o["parameters"] = params
	}
	if body != nil {
		o["requestBody"] = obj{"required": true, "content": jsonContent(body)}
	}
	if roles != nil {
		o["security"] = []obj{{"bearer": []string{}}}
		o["x-casebook-roles"] = roles
		problems = append(problems, http.StatusUnauthorized, http.StatusForbidden)
	}
	for _, s := range problems {
		responses[strconv.Itoa(s)] = problemResponse(s)
	}
	// Any other failure (500, 503 when overloaded, …) is a problem too.
	responses["default"] = obj{"description": "Any other error, as a problem document.",
		"content": obj{"application/problem+json": obj{"schema": ref("Problem")}}}
	return o
}

func pathParam(name, desc string, schema obj) obj {
	return obj{"name": name, "in": "path", "required": true, "description": desc, "schema": schema}
}

func queryParam(name, desc string, schema obj) obj {
	return obj{"name": name, "in": "query", "required": false, "description": desc, "schema": schema}
}

func headerParam(name, desc string) obj {
	return obj{"name": name, "in": "header", "required": false, "description": desc, "schema": obj{"type": "string"}}
}

var (
	caseIDPathParam = pathParam("id", "The case id.", obj{"type": "string", "format": "uuid"})
	limitParam      = queryParam("limit", "Page size (default 100; values above 1000 are capped at 1000).", obj{"type": "integer", "minimum": 1})
)

// The purpose of a consultation, stated in headers on every read of case
// data (core/purpose.go has the rule).
var (
	purposeParam = obj{"name": HeaderPurpose, "in": "header", "required": false,
		"description": "Why the case data is consulted: one of " + strings.Join(domain.Purposes, ", ") + ". " +
			"Recorded in the access log. Without it the role's default is recorded (investigator: investigation, auditor: audit) and marked purpose_defaulted; " +
			"a server run with --require-purpose answers a read of a case record, history, verification or time travel without it with 400 (code purpose_required). " +
			"An unknown code is 400 (unknown_purpose).",
		"schema": purposes()}
	purposeReferenceParam = obj{"name": HeaderPurposeReference, "in": "header", "required": false,
		"description": "A reference for the purpose (an operation name, a disclosure request number): at most 200 characters, no control characters (else 400, invalid_purpose_reference). Recorded in the access log.",
		"schema":      obj{"type": "string", "maxLength": 200}}
)

func purposes() obj { return enum("A purpose of consultation.", domain.Purposes...) }

var (
	rolesInvestigator = []string{domain.RoleInvestigator}
	rolesCaseReaders  = []string{domain.RoleInvestigator, domain.RoleAuditor}
	rolesAuditor      = []string{domain.RoleAuditor}
	rolesPublic       []string
)

func openAPIDocument() obj {
	paths := obj{
		"/healthz": obj{"get": op("Liveness", "Answers 200 while the process serves HTTP.", rolesPublic, nil, nil,
			obj{"200": response("Alive.", ref("Health"))})},
		"/readyz": obj{"get": op("Readiness", "Answers 200 while the event store answers and a configured OpenID Connect issuer has answered discovery; 503 (saying which) while either does not, or while shutting down.", rolesPublic, nil, nil,
			obj{"200": response("Ready.", ref("Ready"))}, http.StatusServiceUnavailable)},
		"/metrics": obj{"get": op("Prometheus metrics", "Request counts and latency by route and status, append latency, projection lag.", rolesPublic, nil, nil,
			obj{"200": obj{"description": "Prometheus text exposition format.", "content": obj{"text/plain": obj{"schema": obj{"type": "string"}}}}})},
		"/openapi.json": obj{"get": op("This document", "The OpenAPI 3.1 description of every route.", rolesPublic, nil, nil,
			obj{"200": response("The OpenAPI document.", obj{"type": "object"})})},
		"/problems/{slug}": obj{"get": op("Describe a problem type", "Every problem's `type` is /problems/{slug}; this describes it.", rolesPublic,
			[]obj{pathParam("slug", "The problem type's name.", problemSlugs())}, nil,
			obj{"200": response("The problem type.", ref("ProblemTypeDescription"))}, http.StatusNotFound)},

		"/v1/cases": obj{
			"post": op("Open a case",
				"An investigator opens a case for their own agency (lead_agency defaults to it; another agency is 403). Answers the case at version 0.",
				rolesInvestigator, nil, ref("OpenCaseRequest"),
				obj{
					"201": response("Opened.", ref("Case"), "Location", "ETag"),
					"200": response("Already opened by an earlier identical request with the same id (a retry); nothing new was written.", ref("Case"), "Location", "ETag"),
				},
				http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity),
			"get": op("List visible cases",
				"The caller's visible cases from the case-list read model (investigators: their agency's cases, led or joined; auditors: all), newest first, cursor-paged.",
				rolesCaseReaders, []obj{
					queryParam("status", "Only cases with this status.", enum("", "open", "closed")),
					queryParam("agency", "Only cases this agency leads or has joined.", obj{"type": "string"}),
					queryParam("crime_type", "Only cases covering this crime type.", crimeTypes()),
					queryParam("q", "Text to find in the reference or title (case-insensitive).", obj{"type": "string"}),
					queryParam("cursor", "The next_cursor of the previous page.", obj{"type": "string"}),
					limitParam,
					queryParam("min_position", "Wait (bounded) until the read model reflects this global position.", obj{"type": "integer", "minimum": 0}),
				}, nil,
				obj{"200": response("A page of cases.", ref("CaseList"), "Casebook-Position")},
				http.StatusBadRequest, http.StatusServiceUnavailable),
		},
		"/v1/cases/{id}": obj{"get": op("Read a case",
			"The case's state from its own stream (always current), or as it stood at a version or a recorded time. The read is recorded in the access log, with its purpose.",
			rolesCaseReaders, []obj{caseIDPathParam, purposeParam, purposeReferenceParam,
				queryParam("version", "The state right after this version.", obj{"type": "integer", "minimum": 0}),
				queryParam("as_of", "The state as recorded at this time (RFC 3339).", obj{"type": "string", "format": "date-time"}),
			}, nil,
			obj{"200": response("The case.", ref("Case"), "ETag")},
			http.StatusBadRequest, http.StatusNotFound)},
		"/v1/cases/{id}/events": obj{
			"post": op("Record an event on a case",
				"Appends one event. `If-Match: \"<version>\"` makes it conditional (409 when the case moved on, nothing written). A retry with the same `id` and content answers the original result with 200, stored once; the same `id` with other content is 409.",
				rolesInvestigator, []obj{caseIDPathParam, headerParam("If-Match", "The case version the event was decided on, as \"<version>\".")},
				ref("RecordEventRequest"),
				obj{
					"201": response("Recorded.", ref("RecordedEvent"), "ETag", "Location"),
					"200": response("Already recorded by an earlier identical request (a retry); nothing new was written.", ref("RecordedEvent"), "ETag", "Location"),
				},
				http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge,
				http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity),
			"get": op("Read a case's history",
				"The case's events in version order with their envelope and hash chain. The read is recorded in the access log, with its purpose.",
				rolesCaseReaders, []obj{caseIDPathParam, purposeParam, purposeReferenceParam,
					queryParam("from_version", "First version to return (inclusive; default 0).", obj{"type": "integer", "minimum": 0}),
					limitParam,
				}, nil,
				obj{"200": response("A page of events.", ref("EventPage"))},
				http.StatusBadRequest, http.StatusNotFound),
		},
		"/v1/cases/{id}/verify": obj{"get": op("Verify a case's hash chain",
			"Recomputes every event's hash and reports the first version whose stored event was altered, removed or reordered. Recorded in the access log, with its purpose.",
			rolesCaseReaders, []obj{caseIDPathParam, purposeParam, purposeReferenceParam}, nil,
			obj{"200": response("The verdict.", ref("VerifyResult"))},
			http.StatusBadRequest, http.StatusNotFound)},
		"/v1/events": obj{"get": op("Read the global log",
			"Every case event in global order, paged by position (auditors only). Each case whose events appear is recorded in its access log.",
			rolesAuditor, []obj{
				purposeParam, purposeReferenceParam,
				queryParam("from_position", "First position to return (inclusive; default 0).", obj{"type": "integer", "minimum": 0}),
				limitParam,
				queryParam("type", "Only events of these types (repeat the parameter or separate with commas).", obj{"type": "string"}),
			}, nil,
			obj{"200": response("A page of the log.", ref("LogPage"))},
			http.StatusBadRequest)},
		"/v1/events/live": obj{"get": op("Stream the global log (Server-Sent Events)",
			"Streams case events as Server-Sent Events: `id` is the event's position, `event` its type, `data` the event as in GET /v1/events. Starts after `Last-Event-ID` (resume), else at `from_position` (inclusive), else with events appended from now on. Comment lines keep the connection alive.",
			rolesAuditor, []obj{
				purposeParam, purposeReferenceParam,
				queryParam("from_position", "First position to send (inclusive).", obj{"type": "integer", "minimum": 0}),
				queryParam("type", "Only events of these types.", obj{"type": "string"}),
				headerParam("Last-Event-ID", "The position of the last event received; the stream resumes after it."),
			}, nil,
			obj{"200": obj{"description": "An endless event stream.", "content": obj{"text/event-stream": obj{"schema": obj{"type": "string"}}}}},
			http.StatusBadRequest, http.StatusServiceUnavailable)},
		"/v1/access-log": obj{"get": op("Question the access log",
			"Who consulted a case, or what a person consulted — when, how, why (purpose and reference) and with what outcome (auditors only). "+
				"Name a case, a subject or both; agency, purpose, outcome, from and to narrow the answer. A case's entries come in version order; "+
				"a subject's in the order they consulted (occurred_at). Pages continue with `cursor` (the previous page's next_cursor); "+
				"one case's whole log may also be paged with from_version. One person's entries are found through an index, not by reading the whole log.",
			rolesAuditor, []obj{
				queryParam("case", "The case id (required unless subject is given).", obj{"type": "string", "format": "uuid"}),
				queryParam("subject", "Who consulted, exactly as recorded (required unless case is given).", obj{"type": "string"}),
				queryParam("agency", "Only consultations by people of this agency.", obj{"type": "string"}),
				queryParam("purpose", "Only consultations for this purpose.", purposes()),
				queryParam("outcome", "Only served, or only denied consultations.", enum("", domain.AccessServed, domain.AccessDenied)),
				queryParam("from", "Consultations from this time (inclusive; a date is its start, UTC).", obj{"type": "string"}),
				queryParam("to", "Consultations before this time (exclusive).", obj{"type": "string"}),
				queryParam("cursor", "The next_cursor of the previous page.", obj{"type": "string"}),
				queryParam("from_version", "With case alone: the first entry to return (inclusive; default 0); the first version's paging.", obj{"type": "integer", "minimum": 0}),
				limitParam,
			}, nil,
			obj{"200": response("A page of the access log.", ref("AccessLogPage"))},
			http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusServiceUnavailable)},
	}
	addDocumentedPaths(paths)

	return obj{
		"openapi": "3.1.0",
		"info": obj{
			"title":   "Casebook API",
			"version": "1.0.0",
			"description": "Event-sourced case management for organised-crime investigations. " +
				"Times are RFC 3339 UTC. Errors are RFC 9457 problem documents (application/problem+json, schema Problem) whose `type` is /problems/{slug}; " +
				"an unknown route answers 404 and a method a route does not support answers 405 (with Allow), both as problem documents. " +
				"Every response carries X-Request-ID (the client's, when it sent a safe one).",
		},
		"paths": paths,
		"components": obj{
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer",
				"description": "A token from casebookd's tokens file, or an OpenID Connect token (JWT, RS256 or ES256) of the configured issuer whose claims carry a subject, exactly one Casebook role and a configured agency; the role and agency decide what the caller may do. " +
					"An invalid token is 401; a verified token whose claims do not map is 403 (code unmappable_claims, field naming the claim); while the issuer cannot be reached, 503 (code issuer_unavailable)."}},
			"schemas": componentSchemas(),
		},
	}
}

func problemSlugs() obj {
	slugs := make([]string, len(ProblemTypes))
	for i, t := range ProblemTypes {
		slugs[i] = t.Slug
	}
	return obj{"type": "string", "enum": slugs}
}

func crimeTypes() obj {
	return enum("A crime type.", domain.CrimePeopleSmuggling, domain.CrimeClassADrugs, domain.CrimeCannabis,
		domain.CrimeTobacco, domain.CrimeCash, domain.CrimeFirearms, domain.CrimeMoneyLaundering, domain.CrimeOther)
}

func uuidSchema(desc string) obj { return strFormat("uuid", desc) }

func timeSchema(desc string) obj { return strFormat("date-time", desc) }

func componentSchemas() obj {
	problemTypeURIs := make([]string, len(ProblemTypes))
	for i, t := range ProblemTypes {
		problemTypeURIs[i] = t.URI()
	}
	actor := object("Who logged an event.", obj{
		"subject": str("The officer's identity."),
		"role":    enum("", domain.RoleInvestigator, domain.RoleAuditor, domain.RoleAnalyst, domain.RoleAdmin),
		"agency":  str("The officer's agency."),
	}, "subject", "role", "agency")

	s := obj{
		"Problem": object("An RFC 9457 problem document.", obj{
			"type":            obj{"type": "string", "enum": problemTypeURIs, "description": "Stable identifier of the cause."},
			"title":           str("Short summary of the problem type."),
			"status":          obj{"type": "integer", "minimum": 400, "maximum": 599},
			"detail":          str("What went wrong with this request."),
			"instance":        str("The request path."),
			"request_id":      str("The request's X-Request-ID; quote it when reporting a problem."),
			"field":           str("The offending field, query parameter or header."),
			"code":            str("The domain rule broken, e.g. case_closed, suspect_not_identified."),
			"current_version": integer("On version conflicts: the case's version now."),
		}, "type", "title", "status", "detail", "request_id"),
		"ProblemTypeDescription": object("A problem type.", obj{
			"type": str("The problem's `type`."), "title": str(""), "status": obj{"type": "integer"}, "description": str(""),
		}, "type", "title", "status", "description"),
		"Health": object("", obj{"status": enum("", "ok")}, "status"),
		"Ready":  object("", obj{"status": enum("", "ready")}, "status"),
		"Actor":  actor,
		"OpenCaseRequest": object("A new case.", obj{
			"id":          uuidSchema("Optional id for the new case; repeating a request with the same id and content is idempotent."),
			"reference":   str("The agency's case reference."),
			"title":       str("A short title."),
			"crime_types": arrayOf(crimeTypes(), "At least one crime type."),
			"location":    str("Where the investigation is based."),
			"lead_agency": str("The leading agency; defaults to (and must be) the caller's agency."),
		}, "reference", "title", "crime_types", "location"),
		"RecordEventRequest": object("An event to record on a case.", obj{
			"id":          uuidSchema("Optional event id; makes retries idempotent."),
			"type":        obj{"type": "string", "enum": domain.EventTypes(), "description": "The event type; `data` follows the schema <type>Data."},
			"occurred_at": timeSchema("When it happened (default: now); not in the future, not before 1990."),
			"data":        obj{"type": "object", "description": "The event's data; see the schemas named <type>Data."},
		}, "type", "data"),
		"RecordedEvent": object("Where an event was recorded.", obj{
			"id":       uuidSchema("The event id."),
			"case_id":  uuidSchema("The case."),
			"version":  integer("The case version the event became."),
			"position": integer("The event's global log position (use as min_position on read models)."),
		}, "id", "case_id", "version", "position"),
		"Event": object("A recorded case event with its envelope.", obj{
			"id":             uuidSchema(""),
			"stream":         str("The case's stream: case-<case id>."),
			"type":           str("The event type."),
			"version":        integer("The event's version in its case (0 = CaseOpened)."),
			"position":       integer("The event's global log position."),
			"occurred_at":    timeSchema("When it happened (business time)."),
			"recorded_at":    timeSchema("When it was first recorded."),
			"actor":          ref("Actor"),
			"correlation_id": uuidSchema(""),
			"causation_id":   uuidSchema(""),
			"data":           obj{"type": []string{"object", "null"}, "description": "The event's data in the current schema (null only in the global log, for a stored event that can no longer be decoded)."},
			"prev_hash":      str("Hex SHA-256 of the previous event (empty for version 0)."),
			"hash":           str("Hex SHA-256 over this event's canonical encoding and prev_hash."),
		}, "id", "stream", "type", "version", "position", "occurred_at", "recorded_at", "actor",
			"correlation_id", "causation_id", "data", "prev_hash", "hash"),
		"EventPage": object("A page of a case's history.", obj{
			"case_id":           uuidSchema(""),
			"events":            arrayOf(ref("Event"), "In version order."),
			"next_from_version": nullableInteger("from_version of the next page; null at the end."),
		}, "case_id", "events", "next_from_version"),
		"LogPage": object("A page of the global log.", obj{
			"events":             arrayOf(ref("Event"), "In position order."),
			"next_from_position": nullableInteger("from_position of the next page; null at the end (for now)."),
		}, "events", "next_from_position"),
		"AccessLogEntry": object("One consultation of a case (or a run of identical ones, merged with a count), as its hash-chained access-log entry records it.", obj{
			"case_id":           uuidSchema(""),
			"version":           integer("The entry's index in the case's access log."),
			"position":          integer("The entry's global log position."),
			"type":              enum("CaseAccessed; CaseRead for entries written before the access log was chained.", domain.TypeCaseAccessed, domain.TypeCaseRead),
			"subject":           str("Who consulted the case."),
			"role":              str(""),
			"agency":            str(""),
			"operation":         enum("What was consulted.", domain.AccessOperations...),
			"outcome":           enum("served, or denied: the caller could not see the case (and was answered as if it did not exist).", domain.AccessServed, domain.AccessDenied),
			"version_read":      nullableInteger("The latest case version the caller was shown; null when nothing was shown."),
			"from_version":      integer("The earliest version shown, for a history or log page."),
			"at_version":        integer("The version asked for (time travel)."),
			"as_of":             timeSchema("The as-of time asked for (time travel)."),
			"purpose":           obj{"type": "string", "enum": append([]string{""}, domain.Purposes...), "description": "The stated (or defaulted) purpose of the consultation; empty for entries written before purposes were recorded."},
			"purpose_reference": str("The purpose's reference."),
			"purpose_defaulted": boolean("True when no purpose was stated and the role's default was recorded."),
			"count":             integer("How many identical consultations the entry stands for."),
			"occurred_at":       timeSchema("The (first) consultation."),
			"last_at":           timeSchema("The last consultation merged into the entry."),
			"recorded_at":       timeSchema("When the entry was written."),
			"at":                timeSchema("Deprecated: recorded_at under its first name; removed in the next version."),
			"route":             str("The route, for entries written before the access log was chained."),
			"request_id":        str("The request's id."),
			"prev_hash":         str("Hex SHA-256 of the previous entry (empty for the first chained entry)."),
			"hash":              str("Hex SHA-256 over this entry's canonical encoding and prev_hash."),
		}, "case_id", "version", "position", "type", "subject", "role", "agency", "operation", "outcome", "version_read",
			"purpose_defaulted", "count", "occurred_at", "last_at", "recorded_at", "at", "prev_hash", "hash"),
		"AccessLogPage": object("A page of the access log.", obj{
			"case_id":           uuidSchema("The case asked about (queries naming a case)."),
			"entries":           arrayOf(ref("AccessLogEntry"), "A case's in version order; a subject's in the order they consulted."),
			"next_cursor":       obj{"type": []string{"string", "null"}, "description": "cursor of the next page; null at the end."},
			"next_from_version": nullableInteger("Queries naming a case: from_version of the next page; null at the end."),
		}, "entries", "next_cursor"),
	}
	for name, schema := range eventDataSchemas() {
		s[name] = schema
	}
	for name, schema := range caseSchemas() {
		s[name] = schema
	}
	for name, schema := range reportSchemas() {
		s[name] = schema
	}
	return s
}

// eventDataSchemas documents the data of each event type (domain/events.go).
func eventDataSchemas() obj {
	quantity := obj{"type": []string{"number", "string"}, "description": "An exact positive decimal (at most 6 fractional digits), as a number or a numeric string."}
	return obj{
		"CaseOpenedData": object("", obj{
			"reference": str(""), "title": str(""), "lead_agency": str(""),
			"crime_types": arrayOf(crimeTypes(), ""), "location": str(""),
		}, "reference", "title", "lead_agency", "crime_types", "location"),
		"AgencyJoinedData":              object("Gives the agency's investigators access to the case.", obj{"agency": str("")}, "agency"),
		"OrganisedCrimeGroupLinkedData": object("", obj{"group_id": uuidSchema(""), "name": str("")}, "group_id", "name"),
		"SuspectIdentifiedData": object("", obj{
			"person_id": uuidSchema(""), "name": str(""),
			"date_of_birth": strFormat("date", "YYYY-MM-DD"), "nationality": str(""),
		}, "person_id", "name"),
		"IntelligenceLoggedData": object("", obj{
			"summary": str(""), "grading": obj{"type": "string", "pattern": "^[1-3][A-E][1-2]$", "description": "3x5x2 grading, e.g. 1A1."},
		}, "summary", "grading"),
		"ArrestMadeData": object("", obj{
			"person_id": uuidSchema("An identified suspect of the case."), "location": str(""), "offence": str(""),
			"agency": str("Defaults to the logging officer's agency."),
		}, "person_id", "location", "offence"),
		"SuspectChargedData": object("", obj{"person_id": uuidSchema(""), "charges": arrayOf(obj{"type": "string"}, "")}, "person_id", "charges"),
		"SeizureRecordedData": object("", obj{
			"commodity": enum("", domain.CommodityClassADrugs, domain.CommodityCannabis, domain.CommodityCash,
				domain.CommodityCigarettes, domain.CommodityHandRollingTobacco, domain.CommodityFirearms, domain.CommodityOther),
			"quantity": quantity,
			"unit":     enum("Must fit the commodity.", domain.UnitKg, domain.UnitGBP, domain.UnitSticks, domain.UnitItems),
			"location": str(""), "exhibit_ref": str(""),
		}, "commodity", "quantity", "unit", "location"),
		"StowawaysDetectedData": object("", obj{
			"location": str(""),
			"method": enum("", domain.MethodCO2Probe, domain.MethodSnifferDog, domain.MethodHeartbeatMonitor,
				domain.MethodVisualSearch, domain.MethodScanner),
			"people": obj{"type": "integer", "minimum": 1}, "vehicle": str(""),
		}, "location", "method", "people"),
		"GangDismantledData": object("", obj{"group_id": uuidSchema("A group linked to this case.")}, "group_id"),
		"CaseClosedData":     object("", obj{"outcome": str("")}, "outcome"),
		"CaseReopenedData":   object("", obj{"reason": str("")}, "reason"),
		"EntryRetractedData": object("", obj{"event_id": uuidSchema("A retractable event of this case."), "reason": str("")}, "event_id", "reason"),
	}
}
