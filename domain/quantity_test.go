package domain

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseQuantity(t *testing.T) {
	tests := []struct {
		in     string
		micros int64
		err    string // "" = ok
	}{
		{"0", 0, ""},
		{"1", 1_000_000, ""},
		{"0.1", 100_000, ""},
		{"12.5", 12_500_000, ""},
		{"12.500000", 12_500_000, ""},
		{"12.5000000", 12_500_000, ""}, // trailing zeros are not precision
		{"0.000001", 1, ""},
		{"4250000", 4_250_000_000_000, ""},
		{"1e3", 1_000_000_000, ""},
		{"1.5E2", 150_000_000, ""},
		{"25e-2", 250_000, ""},
		{"1e-6", 1, ""},
		{"1000000000000", 1_000_000_000_000_000_000, ""},
		{"9000000000000", 9_000_000_000_000_000_000, ""},
		{"0e999999999999", 0, ""},
		{"0.0000001", 0, "must have at most 6 fractional digits"},
		{"1e-7", 0, "must have at most 6 fractional digits"},
		{"9000000000000.000001", 0, "is too large"},
		{"10000000000000", 0, "is too large"},
		{"1e400", 0, "is too large"},
		{"99999999999999999999999", 0, "is too large"},
		{"-1", 0, "must not be negative"},
		{"-0", 0, "must not be negative"},
		{"", 0, "must be a number"},
		{"01", 0, "must be a number"},
		{".5", 0, "must be a number"},
		{"5.", 0, "must be a number"},
		{"1e", 0, "must be a number"},
		{"+1", 0, "must be a number"},
		{" 1", 0, "must be a number"},
		{"1 ", 0, "must be a number"},
		{"0x10", 0, "must be a number"},
		{"NaN", 0, "must be a number"},
		{"1,5", 0, "must be a number"},
	}
	for _, tt := range tests {
		q, err := ParseQuantity(tt.in)
		if tt.err == "" {
			if err != nil || q.Micros() != tt.micros {
				t.Errorf("ParseQuantity(%q) = %d, %v; want %d", tt.in, q.Micros(), err, tt.micros)
			}
			continue
		}
		if err == nil || err.Error() != tt.err {
			t.Errorf("ParseQuantity(%q) = %d, %v; want error %q", tt.in, q.Micros(), err, tt.err)
		}
	}
}

func TestQuantityStringAndJSON(t *testing.T) {
	for _, tt := range []struct {
		micros int64
		want   string
	}{
		{0, "0"}, {1, "0.000001"}, {100_000, "0.1"}, {12_500_000, "12.5"},
		{4_250_000_000_000, "4250000"}, {1_000_001, "1.000001"},
	} {
		q := QuantityFromMicros(tt.micros)
		if q.String() != tt.want {
			t.Errorf("String(%d) = %q, want %q", tt.micros, q.String(), tt.want)
		}
		b, err := json.Marshal(q)
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%d) = %s, %v; want %s", tt.micros, b, err, tt.want)
		}
		var back Quantity
		if err := json.Unmarshal(b, &back); err != nil || back != q {
			t.Errorf("round trip of %s = %v, %v", b, back, err)
		}
	}
}

func TestQuantityUnmarshalJSON(t *testing.T) {
	var q Quantity
	if err := json.Unmarshal([]byte(`"0.25"`), &q); err != nil || q.Micros() != 250_000 {
		t.Fatalf(`"0.25" → %v, %v`, q, err)
	}
	for _, bad := range []string{`true`, `{}`, `[]`, `"abc"`, `"1.2345678"`, `-3`, `"\u0031x"`} {
		var q Quantity
		if err := json.Unmarshal([]byte(bad), &q); err == nil {
			t.Errorf("Unmarshal(%s) accepted: %v", bad, q)
		}
	}
	q = QuantityFromMicros(7)
	if err := json.Unmarshal([]byte(`null`), &q); err != nil || q.Micros() != 7 {
		t.Errorf("null changed the quantity: %v %v", q, err)
	}
}

// The point of Quantity: decimal sums are exact where float64 sums are not.
func TestQuantityAddIsExact(t *testing.T) {
	a, _ := ParseQuantity("0.1")
	b, _ := ParseQuantity("0.2")
	sum, err := a.Add(b)
	if err != nil || sum.String() != "0.3" {
		t.Fatalf("0.1 + 0.2 = %s, %v; want 0.3", sum, err)
	}
	if f := 0.1 + 0.2; f == 0.3 {
		t.Log("float64 happened to be exact") // it is not: 0.30000000000000004
	}
	var total Quantity
	tenth, _ := ParseQuantity("0.1")
	for range 10 {
		total, _ = total.Add(tenth)
	}
	if total.String() != "1" {
		t.Fatalf("ten times 0.1 = %s, want 1", total)
	}
	back, err := total.Sub(tenth)
	if err != nil || back.String() != "0.9" {
		t.Fatalf("1 - 0.1 = %s, %v", back, err)
	}
	if _, err := tenth.Sub(total); !errors.Is(err, ErrQuantityOverflow) {
		t.Fatalf("0.1 - 1 should not go negative: %v", err)
	}
	big, _ := ParseQuantity("9000000000000")
	if _, err := big.Add(tenth); !errors.Is(err, ErrQuantityOverflow) {
		t.Fatalf("overflow not detected: %v", err)
	}
	if _, err := QuantityFromMicros(1 << 62).Add(QuantityFromMicros(1 << 62)); !errors.Is(err, ErrQuantityOverflow) {
		t.Fatalf("int64 wrap not detected: %v", err)
	}
}
