package main

import (
	"os"
	"testing"
)

// TestMain lets the end-to-end tests run the real main() — flags, signal
// handling, exit status — in a child process: re-executed with
// CASEBOOK_TEST_RUN_MAIN=1, the test binary is casebookd.
func TestMain(m *testing.M) {
	if os.Getenv("CASEBOOK_TEST_RUN_MAIN") == "1" {
		os.Args = append([]string{"casebookd"}, os.Args[1:]...)
		main()
		return
	}
	os.Exit(m.Run())
}
