package main_test

import "net/http"

// reportRows are the authorization matrix rows of the report and
// projection routes: analysts, auditors and admins read reports; only
// admins see and rebuild projections; investigators get neither.
// Callers: invUKBA, invSOCA, auditor, analyst, admin, anonymous, bad token.
func reportRows(string) []matrixRow {
	const (
		ok  = http.StatusOK
		acc = http.StatusAccepted
		fb  = http.StatusForbidden
		una = http.StatusUnauthorized
	)
	report := func(path string) matrixRow {
		return matrixRow{op: "GET " + path, req: func(as string) req {
			return req{method: "GET", path: path + "?from=2009-01-01&to=2030-01-01", as: as}
		}, want: []int{fb, fb, ok, ok, ok, una, una}}
	}
	return []matrixRow{
		report("/v1/reports/arrests"),
		report("/v1/reports/gangs-dismantled"),
		report("/v1/reports/seizures"),
		report("/v1/reports/detections"),
		report("/v1/reports/summary"),
		{op: "GET /v1/projections", req: func(as string) req { return req{method: "GET", path: "/v1/projections", as: as} },
			want: []int{fb, fb, fb, fb, ok, una, una}},
		{op: "POST /v1/projections/{name}/rebuild", req: func(as string) req {
			return req{method: "POST", path: "/v1/projections/arrests/rebuild", as: as}
		}, want: []int{fb, fb, fb, fb, acc, una, una}},
	}
}
