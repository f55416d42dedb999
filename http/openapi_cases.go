package casehttp

import "github.com/casebook/casebook/domain"

// caseSchemas documents the case (domain.Case's JSON), the case list and
// the verification verdict.
func caseSchemas() obj {
	optTime := func(desc string) obj {
		return obj{"type": []string{"string", "null"}, "format": "date-time", "description": desc}
	}
	return obj{
		"Case": object("A case's state: the fold of its events, retracted entries subtracted.", obj{
			"id":          uuidSchema(""),
			"reference":   str(""),
			"title":       str(""),
			"lead_agency": str(""),
			"agencies":    arrayOf(obj{"type": "string"}, "Agencies with access: the lead agency first, then those that joined."),
			"crime_types": arrayOf(crimeTypes(), ""),
			"location":    str(""),
			"status":      enum("", domain.StatusOpen, domain.StatusClosed),
			"outcome":     str("The outcome, while closed."),
			"opened_at":   timeSchema("occurred_at of CaseOpened."),
			"opened_by":   ref("Actor"),
			"closed_at":   optTime("When it was closed, while closed."),
			"updated_at":  timeSchema("When the latest event was recorded."),
			"version":     integer("The latest event's version: the ETag and If-Match value."),
			"position":    integer("The latest event's global log position."),
			"head_hash":   str("The latest event's hash."),
			"counts": object("The case's figures, retracted entries subtracted.", obj{
				"arrests": integer(""), "suspects": integer(""), "suspects_charged": integer(""),
				"charges": integer(""), "intelligence_reports": integer(""), "seizures": integer(""),
				"detections": integer(""), "people_detected": integer(""), "groups_linked": integer(""),
				"gangs_dismantled": integer(""), "retractions": integer(""),
			}, "arrests", "suspects", "suspects_charged", "charges", "intelligence_reports", "seizures",
				"detections", "people_detected", "groups_linked", "gangs_dismantled", "retractions"),
			"seizures": arrayOf(object("Exact total of one commodity in one unit.", obj{
				"commodity": str(""), "unit": str(""), "quantity": obj{"type": "number", "minimum": 0}, "count": integer(""),
			}, "commodity", "unit", "quantity", "count"), ""),
			"groups": arrayOf(object("An organised crime group linked to the case.", obj{
				"group_id": uuidSchema(""), "name": str(""), "linked_at": timeSchema(""), "dismantled": boolean(""),
				"dismantled_at": optTime(""), "dismantled_event_id": obj{"type": []string{"string", "null"}, "format": "uuid"},
				"dismantled_by_agency": str(""),
			}, "group_id", "name", "linked_at", "dismantled"), ""),
			"suspects": arrayOf(object("A person identified in the case.", obj{
				"person_id":     uuidSchema(""),
				"name":          obj{"type": []string{"string", "null"}, "description": "Null once erased, or when unreadable."},
				"date_of_birth": obj{"type": []string{"string", "null"}, "description": "Null once erased, or when unreadable; absent when not recorded."},
				"nationality":   obj{"type": []string{"string", "null"}, "description": "Null once erased, or when unreadable; absent when not recorded."},
				"identified_at": timeSchema(""), "event_id": uuidSchema("The SuspectIdentified event."),
				"arrests": integer(""), "charges": arrayOf(obj{"type": "string"}, ""),
				"erased_at":  timeSchema("When the person's personal data was erased from the case."),
				"unreadable": ref("Unreadable"),
			}, "person_id", "name", "identified_at", "event_id", "arrests", "charges"), ""),
			"retractions": arrayOf(object("An entry retracted, and why.", obj{
				"event_id": uuidSchema(""), "type": str(""), "version": integer("The retracted entry's version."),
				"reason": str(""), "retracted_version": integer("The EntryRetracted event's version."),
				"retracted_at": timeSchema(""), "retracted_by": ref("Actor"),
			}, "event_id", "type", "version", "reason", "retracted_version", "retracted_at", "retracted_by"), ""),
		}, "id", "reference", "title", "lead_agency", "agencies", "crime_types", "location", "status",
			"opened_at", "opened_by", "updated_at", "version", "position", "head_hash",
			"counts", "seizures", "groups", "suspects", "retractions"),
		"CaseSummary": object("One case in the list.", obj{
			"id": uuidSchema(""), "reference": str(""), "title": str(""), "lead_agency": str(""),
			"agencies":    arrayOf(obj{"type": "string"}, "The lead agency and those that joined."),
			"crime_types": arrayOf(crimeTypes(), ""), "location": str(""),
			"status":    enum("", domain.StatusOpen, domain.StatusClosed),
			"opened_at": timeSchema(""), "updated_at": timeSchema(""), "version": integer(""),
		}, "id", "reference", "title", "lead_agency", "agencies", "crime_types", "location", "status",
			"opened_at", "updated_at", "version"),
		"CaseList": object("A page of visible cases.", obj{
			"cases":       arrayOf(ref("CaseSummary"), ""),
			"next_cursor": obj{"type": []string{"string", "null"}, "description": "Pass as cursor for the next page; null on the last page."},
			"position":    integer("The global log position the list reflects."),
		}, "cases", "next_cursor", "position"),
		"VerifyResult": object("The verdict on a case's two hash chains: its events, and its access log. The top-level fields describe the case's events (as before the access log was chained); valid is true only when both chains hold.", obj{
			"case_id":               uuidSchema(""),
			"valid":                 boolean("True when every event's hash and every access-log entry's hash matches."),
			"checked":               integer("Events examined: all when valid, up to the first invalid one otherwise."),
			"head_hash":             str("Hash of the last event that verified (empty if none)."),
			"first_invalid_version": integer("Where the case's chain breaks (only when invalid)."),
			"reason":                str("What did not match (only when invalid)."),
			"streams":               arrayOf(ref("StreamVerdict"), "Each stream's verdict: the case's events, then its access log."),
		}, "case_id", "valid", "checked", "head_hash", "streams"),
		"StreamVerdict": object("The verdict on one stream's hash chain.", obj{
			"stream":                str("case-<id> or access-<id>."),
			"valid":                 boolean(""),
			"checked":               integer(""),
			"head_hash":             str(""),
			"first_invalid_version": integer("Where the chain breaks, naming the version (only when invalid)."),
			"reason":                str("What did not match (only when invalid)."),
			"legacy_entries":        integer("Access-log entries written before the access log was chained (before the chain, not in it)."),
		}, "stream", "valid", "checked", "head_hash"),
	}
}
