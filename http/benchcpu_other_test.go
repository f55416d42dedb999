//go:build !unix

package casehttp_test

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
