package domain

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Quantity is an exact, non-negative decimal amount (a weight, a sum of
// money, a count). It is held as an integer number of millionths so that sums
// are exact (0.1 kg + 0.2 kg is 0.3 kg) and projections can add them with
// SQLite's integer SUM. At most 6 fractional digits.
//
// The type itself accepts any amount from 0 to MaxQuantity so that totals
// (which may reach 0 after a retraction, or exceed one seizure's bound) use
// it too; the rule that a seized quantity is > 0 and ≤ MaxSeizureQuantity is
// the event's validation (see SeizureRecorded).
//
// JSON: accepts a number or a string holding a JSON number ("12.5"); writes a
// number literal with the exact digits (no exponent, no trailing fractional
// zeros): 0.3, 12, 4250000.
type Quantity struct {
	micros int64
}

const (
	// QuantityScale is the number of millionths in one unit.
	QuantityScale = 1_000_000
	// MaxSeizureQuantity bounds one seizure: 10^12 units.
	MaxSeizureQuantity int64 = 1_000_000_000_000
	// maxQuantityUnits bounds any Quantity (a total, too): 9×10^12 units,
	// so that micros fit an int64 with room to spare.
	maxQuantityUnits  int64 = 9_000_000_000_000
	maxQuantityMicros       = maxQuantityUnits * QuantityScale
)

// MaxQuantityStringLength bounds a quantity sent as a string ("12.5"): the
// API documents the bound, so it is enforced rather than left to the value's.
const MaxQuantityStringLength = 32

// ErrQuantityOverflow is returned by Add when a sum leaves Quantity's range.
var ErrQuantityOverflow = errors.New("quantity: sum out of range")

// QuantityFromMicros builds a Quantity from millionths.
func QuantityFromMicros(m int64) Quantity { return Quantity{micros: m} }

// Micros returns the quantity in millionths.
func (q Quantity) Micros() int64 { return q.micros }

// IsZero reports whether q is zero (the zero value: no quantity given).
func (q Quantity) IsZero() bool { return q.micros == 0 }

// Add returns q+o, or ErrQuantityOverflow when the sum leaves the range
// [0, 9×10^12].
func (q Quantity) Add(o Quantity) (Quantity, error) {
	s := q.micros + o.micros
	// The first two conditions catch int64 wrap-around (possible only for
	// values built with QuantityFromMicros); the others the range.
	if (o.micros > 0 && s < q.micros) || (o.micros < 0 && s > q.micros) || s < 0 || s > maxQuantityMicros {
		return q, ErrQuantityOverflow
	}
	return Quantity{micros: s}, nil
}

// Sub returns q-o, or ErrQuantityOverflow when the result would be negative.
func (q Quantity) Sub(o Quantity) (Quantity, error) {
	return q.Add(Quantity{micros: -o.micros})
}

// String writes the exact decimal: "0.3", "12", "4250000.000001".
func (q Quantity) String() string {
	m := q.micros
	neg := m < 0
	if neg {
		m = -m // only reachable through QuantityFromMicros with a negative argument
	}
	whole := strconv.FormatInt(m/QuantityScale, 10)
	frac := m % QuantityScale
	s := whole
	if frac != 0 {
		f := fmt.Sprintf("%06d", frac)
		s += "." + strings.TrimRight(f, "0")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// MarshalJSON writes q as an exact number literal.
func (q Quantity) MarshalJSON() ([]byte, error) { return []byte(q.String()), nil }

// UnmarshalJSON reads a JSON number or a string holding one. null leaves q
// unchanged (encoding/json's convention), so a missing quantity is caught by
// the required-field check.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		unq, err := strconv.Unquote(s)
		if err != nil {
			return &quantityError{msg: "must be a number or a string holding a number"}
		}
		if len(unq) > MaxQuantityStringLength {
			return &quantityError{msg: fmt.Sprintf("must be at most %d characters when written as a string", MaxQuantityStringLength)}
		}
		s = unq
	} else if len(s) == 0 || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
		return &quantityError{msg: "must be a number or a string holding a number"}
	}
	v, err := ParseQuantity(s)
	if err != nil {
		return err
	}
	*q = v
	return nil
}

// quantityError is a parse failure of a Quantity; its message is meant to
// follow a field name ("quantity: must have at most 6 fractional digits").
type quantityError struct{ msg string }

func (e *quantityError) Error() string { return e.msg }

// ParseQuantity parses an exact decimal written with JSON number syntax
// ("12", "0.25", "1.5e3"). Negative amounts, more than 6 fractional digits
// and amounts above 9×10^12 are rejected; nothing is rounded.
func ParseQuantity(s string) (Quantity, error) {
	bad := func(msg string) (Quantity, error) { return Quantity{}, &quantityError{msg: msg} }
	if s == "" {
		return bad("must be a number")
	}
	i := 0
	if s[0] == '-' {
		// -0 is still not a positive amount; reject every sign.
		return bad("must not be negative")
	}
	// Integer part: 0 | [1-9][0-9]*
	start := i
	if i < len(s) && s[i] == '0' {
		i++
	} else {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i == start {
		return bad("must be a number")
	}
	intDigits := s[start:i]
	fracDigits := ""
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == fs {
			return bad("must be a number")
		}
		fracDigits = s[fs:i]
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		sign := 1
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			if s[i] == '-' {
				sign = -1
			}
			i++
		}
		es := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			// Bound the exponent while reading it: anything beyond ±1000
			// is out of range (or has too many fractional digits) anyway.
			if exp < 100000 {
				exp = exp*10 + int(s[i]-'0')
			}
			i++
		}
		if i == es {
			return bad("must be a number")
		}
		exp *= sign
	}
	if i != len(s) {
		return bad("must be a number")
	}
	// digits × 10^(point - len(digits)), where point is the decimal point's
	// index in digits after applying the exponent.
	digits := strings.TrimLeft(intDigits+fracDigits, "0")
	if digits == "" {
		return Quantity{}, nil // zero, whatever the exponent
	}
	point := len(intDigits) - (len(intDigits+fracDigits) - len(digits)) + exp
	// Drop trailing zeros of the significand into the exponent so that
	// "1.500000000" has 1 fractional digit, not 9.
	trimmed := strings.TrimRight(digits, "0")
	fracLen := len(trimmed) - point // fractional digits needed
	if fracLen > 6 {
		return bad("must have at most 6 fractional digits")
	}
	if point > 13 {
		return bad("is too large")
	}
	// micros = trimmed × 10^(6 - fracLen)
	var m int64
	push := func(d int64) bool {
		if m > (maxQuantityMicros-d)/10 {
			return false
		}
		m = m*10 + d
		return true
	}
	for _, c := range trimmed {
		if !push(int64(c - '0')) {
			return bad("is too large")
		}
	}
	for k := fracLen; k < 6; k++ {
		if !push(0) {
			return bad("is too large")
		}
	}
	return Quantity{micros: m}, nil
}
