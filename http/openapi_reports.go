package casehttp

import (
	"net/http"
	"strings"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/projections"
)

// The report and projection routes are served by reports*.go; their
// documentation lives here with the rest of the document, following
// projections' report types (projections/reports.go) field for field.

var (
	rolesReports     = []string{domain.RoleAnalyst, domain.RoleAuditor, domain.RoleAdmin}
	rolesProjections = []string{domain.RoleAdmin}
)

// addDocumentedPaths adds the report and projection routes.
func addDocumentedPaths(paths obj) {
	for path, item := range reportPaths() {
		paths[path] = item
	}
}

func reportParams(report string, grouped bool) []obj {
	ps := []obj{
		queryParam("from", "Start of the period, inclusive: a date (2010-06-07, meaning 00:00 UTC) or an RFC 3339 time, over each event's occurred_at.", obj{"type": "string"}),
		queryParam("to", "End of the period, exclusive: a date or an RFC 3339 time.", obj{"type": "string"}),
	}
	if grouped {
		ps = append(ps, queryParam("group_by", "Grouping of the figures.", enum("", projections.GroupByKeys[report]...)))
	}
	return append(ps,
		queryParam("explain", "List event ids behind the figures: a page of at most limit of them, in (occurred_at, position) order; next_cursor continues. The figures are exact whatever the page.", obj{"type": "boolean"}),
		queryParam("limit", "With explain: the most event ids a page lists (default 100; larger values are capped at 1000).", obj{"type": "integer", "minimum": 1}),
		queryParam("cursor", "With explain: the next_cursor of the previous page.", obj{"type": "string"}),
		queryParam("as_of", "The figures as they stood at this recorded time (RFC 3339): events and retractions recorded later are ignored.", obj{"type": "string", "format": "date-time"}),
		queryParam("min_position", "Wait (bounded) until the read models reflect this global log position (read-your-writes); 503 past the bound.", obj{"type": "integer", "minimum": 0}),
	)
}

func reportOp(summary, desc, report, schema string, grouped bool) obj {
	return obj{"get": op(summary, desc+" Retracted entries never count; never personal data.", rolesReports,
		reportParams(report, grouped), nil,
		obj{"200": response("The report.", ref(schema), "Casebook-Position")},
		http.StatusBadRequest, http.StatusServiceUnavailable)}
}

func reportPaths() obj {
	return obj{
		"/v1/reports/arrests": reportOp("Arrests", "Arrests in the period, in total and by group.",
			"arrests", "ArrestsReport", true),
		"/v1/reports/gangs-dismantled": reportOp("Organised crime groups dismantled",
			"Distinct groups dismantled in the period, each counted once at its first dismantling.",
			"gangs-dismantled", "GangsReport", true),
		"/v1/reports/seizures": reportOp("Seizures", "Exact totals seized per commodity and unit, and by group.",
			"seizures", "SeizuresReport", true),
		"/v1/reports/detections": reportOp("Stowaway detections", "Detection incidents and people found, in total and by group.",
			"detections", "DetectionsReport", true),
		"/v1/reports/summary": reportOp("Summary", "Gangs dismantled, arrests, seizures and detections in one answer (default period: the 12 months up to now).",
			"summary", "SummaryReport", false),
		"/v1/projections": obj{"get": op("Projections' state", "Each read model's projection: state, position and lag (admins).",
			rolesProjections, nil, nil,
			obj{"200": response("The projections.", ref("ProjectionList"))})},
		"/v1/projections/{name}/rebuild": obj{"post": op("Rebuild a projection",
			"Rebuilds the read model from position 0 into new tables while the current ones keep answering, then swaps them in (admins).",
			rolesProjections, []obj{pathParam("name", "The projection (also spelt with hyphens, as the report routes: gangs-dismantled).", enum("", projectionNames()...))}, nil,
			obj{"202": response("The rebuild has started.", ref("RebuildAccepted"))},
			http.StatusNotFound, http.StatusConflict)},
	}
}

func reportSchemas() obj {
	period := func(props obj, required ...string) obj {
		props["from"] = obj{"type": []string{"string", "null"}, "format": "date-time", "description": "Start of the period (inclusive)."}
		props["to"] = obj{"type": []string{"string", "null"}, "format": "date-time", "description": "End of the period (exclusive)."}
		props["as_of"] = timeSchema("The recorded time the figures are as of (only with as_of).")
		props["position"] = integer("The global log position the figures reflect.")
		return props
	}
	eventIDs := arrayOf(uuidSchema(""), "With explain=true: the events behind the figure on this page.")
	nextCursor := str("With explain=true, when the page did not hold every event id: the cursor of the next page.")
	countGroup := object("", obj{"key": str("e.g. 2011-03, 2011, an agency or a location."), "count": integer(""), "event_ids": eventIDs}, "key", "count")
	quantity := obj{"type": "number", "description": "Exact decimal sum."}
	seizureTotal := object("", obj{"commodity": str(""), "unit": str(""), "quantity": quantity, "count": integer(""), "event_ids": eventIDs},
		"commodity", "unit", "quantity", "count")
	countReport := func(desc string) obj {
		return object(desc, period(obj{"group_by": str(""), "total": integer(""), "groups": arrayOf(countGroup, "Sorted by key."), "event_ids": eventIDs,
			"groups_overlap": obj{"type": "boolean", "description": "True when an item may count in several groups, so that the groups may add up to more than the total (gangs by agency: a group dismantled by two agencies counts once for each)."},
			"next_cursor":    nextCursor}),
			"from", "to", "position", "total", "groups")
	}
	return obj{
		"ArrestsReport": countReport("Arrests."),
		"GangsReport":   countReport("Organised crime groups dismantled."),
		"SeizuresReport": object("Seizures.", period(obj{"group_by": str(""), "next_cursor": nextCursor,
			"totals": arrayOf(seizureTotal, ""),
			"groups": arrayOf(object("", obj{"key": str(""), "commodity": str(""), "unit": str(""), "quantity": quantity, "count": integer(""), "event_ids": eventIDs},
				"key", "commodity", "unit", "quantity", "count"), ""),
		}), "from", "to", "position", "totals", "groups"),
		"DetectionsReport": object("Stowaway detections.", period(obj{"group_by": str(""), "next_cursor": nextCursor,
			"incidents": integer(""), "people": integer(""), "event_ids": eventIDs,
			"groups": arrayOf(object("", obj{"key": str(""), "incidents": integer(""), "people": integer(""), "event_ids": eventIDs},
				"key", "incidents", "people"), ""),
		}), "from", "to", "position", "incidents", "people", "groups"),
		"SummaryReport": object("The press release's paragraph in one answer.", period(obj{
			"gangs_dismantled": integer(""), "arrests": integer(""),
			"seizures":                   arrayOf(seizureTotal, ""),
			"detections":                 object("", obj{"incidents": integer(""), "people": integer(""), "event_ids": eventIDs}, "incidents", "people"),
			"gangs_dismantled_event_ids": eventIDs, "arrests_event_ids": eventIDs, "next_cursor": nextCursor,
		}), "from", "to", "position", "gangs_dismantled", "arrests", "seizures", "detections"),
		"ProjectionStatus": object("One projection.", obj{
			"name":          enum("", projections.Names()...),
			"version":       integer("The version of its code."),
			"state":         enum("", projections.StateCatchingUp, projections.StateLive, projections.StateRebuilding, projections.StateFailed),
			"position":      integer("The last log position it reflects."),
			"head":          integer("The log's newest position."),
			"lag_events":    integer("Events of the log it has not applied."),
			"lag_seconds":   obj{"type": "number", "minimum": 0},
			"error":         str("Why it failed (only when failed)."),
			"last_error":    str("Why the read model last rebuilt itself from the start (its tables did not reflect the log, or were built by a version this one cannot read)."),
			"last_error_at": timeSchema("When it did."),
		}, "name", "version", "state", "position", "head", "lag_events", "lag_seconds"),
		"ProjectionList":  obj{"type": "array", "items": ref("ProjectionStatus")},
		"RebuildAccepted": object("", obj{"name": str(""), "state": str("")}, "name"),
	}
}

// projectionNames are the names the rebuild route takes: each projection's,
// and the same spelt with hyphens.
func projectionNames() []string {
	var out []string
	for _, n := range projections.Names() {
		out = append(out, n)
		if h := strings.ReplaceAll(n, "_", "-"); h != n {
			out = append(out, h)
		}
	}
	return out
}
