package sqlitestore

import (
	"fmt"
	"time"
)

// recordedAtLayout is RFC 3339 in UTC with a fixed nine-digit fraction, so
// that the text sorts like the time it names and parses without a search.
const recordedAtLayout = "2006-01-02T15:04:05.000000000Z"

func formatRecordedAt(t time.Time) string { return t.UTC().Format(recordedAtLayout) }

// parseRecordedAt parses the column written by formatRecordedAt. It takes a
// fast path for exactly that layout (reading the log parses one per event)
// and falls back to RFC 3339 for anything else, so that it accepts and
// rejects exactly what time.Parse(time.RFC3339Nano, ...) does for that
// layout (a test holds the two side by side).
//
// Kept by measurement (scripts/load/ab.sh, builds alternated, medians,
// 2026-12-02, shared 2-core machine): a build with the hand-written JSON
// paths (this one, the domain's object scan and metadata encoder, the
// record-event body and answer in http/recordbody.go, sqlitestore's
// recorded_at and event id parsing) replaced by encoding/json and the
// standard parsers reached 0.81x the previous release's durable POST rate
// (4,140 vs 5,131 req/s, 7 rounds, every one lower), against 1.00x for the
// same build with them (5 rounds), and 0.91x of the build with them in a
// direct A/B (5 rounds). Together they are worth more than the 10% a speed
// trick must earn; the noise of this machine did not allow telling the
// pieces apart.
func parseRecordedAt(b string) (time.Time, error) {
	if len(b) == len(recordedAtLayout) && b[4] == '-' && b[7] == '-' && b[10] == 'T' &&
		b[13] == ':' && b[16] == ':' && b[19] == '.' && b[29] == 'Z' {
		year, ok1 := digits(b[0:4])
		month, ok2 := digits(b[5:7])
		day, ok3 := digits(b[8:10])
		hour, ok4 := digits(b[11:13])
		minute, ok5 := digits(b[14:16])
		sec, ok6 := digits(b[17:19])
		nsec, ok7 := digits(b[20:29])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && month >= 1 && month <= 12 &&
			day >= 1 && day <= daysIn(month, year) && hour < 24 && minute < 60 && sec < 60 {
			return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), nil
		}
	}
	t, err := time.Parse(time.RFC3339Nano, b)
	if err != nil {
		return time.Time{}, fmt.Errorf("recorded_at %q: %w", b, err)
	}
	return t.UTC(), nil
}

func digits(b string) (int, bool) {
	n := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// daysIn is the length of month in year (proleptic Gregorian, as time uses).
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
