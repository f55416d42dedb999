package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/casebook/casebook/http/apitest"
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
	code := m.Run()
	if ok, outside := apitest.Counts(); ok+outside > 0 {
		fmt.Println(apitest.Report("cmd/casebookd"))
	}
	os.Exit(code)
}
