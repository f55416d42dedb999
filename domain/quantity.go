package domain

// Quantity is an exact, positive decimal amount (a weight, a sum of money, a
// count). It is held as an integer number of millionths so that sums are
// exact (0.1 kg + 0.2 kg is 0.3 kg) and projections can add them with
// SQLite's integer SUM. At most 6 fractional digits; at most 10^12.
//
// JSON: accepts a number or a numeric string; writes a number literal with
// the exact digits (no exponent, no trailing fractional zeros).
type Quantity struct {
	micros int64
}

// QuantityFromMicros builds a Quantity from millionths.
func QuantityFromMicros(m int64) Quantity { return Quantity{micros: m} }

// Micros returns the quantity in millionths.
func (q Quantity) Micros() int64 { return q.micros }
