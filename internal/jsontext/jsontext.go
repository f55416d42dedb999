// Package jsontext holds the byte-level JSON helpers that encoding/json does
// not offer and that hot paths need: finding where a value ends in a
// document json.Valid has already accepted (so nothing needs checking twice),
// and writing a UUID's canonical text without allocating.
//
// The span functions assume valid JSON: on anything else their answers are
// meaningless (they may even index past the end), so callers check with
// json.Valid first.
package jsontext

import (
	"bytes"
	"encoding/hex"

	"github.com/google/uuid"
)

// IsSpace reports whether c is JSON white space.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns the index of the first byte at or after i that is not
// white space (len(data) if none).
func SkipSpace(data []byte, i int) int {
	for i < len(data) && IsSpace(data[i]) {
		i++
	}
	return i
}

// StringEnd returns the index just past the string whose opening quote is
// data[i].
func StringEnd(data []byte, i int) int {
	i++
	for {
		i += bytes.IndexByte(data[i:], '"')
		// The quote is escaped when an odd number of backslashes
		// precede it.
		backslashes := 0
		for data[i-1-backslashes] == '\\' {
			backslashes++
		}
		i++
		if backslashes%2 == 0 {
			return i
		}
	}
}

// PlainString reads the string whose opening quote is data[i] when it has
// no escapes and no control bytes, so that its bytes are its value: it
// returns those bytes, the index just past the closing quote, and whether
// every byte is ASCII. ok is false for any other string, including one that
// does not end. Unlike the span functions it is safe on unchecked input.
func PlainString(data []byte, i int) (value []byte, end int, ascii, ok bool) {
	start := i + 1
	var high byte // the OR of every byte: ASCII when below 0x80
	for j := start; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return data[start:j], j + 1, high < 0x80, true
		case c == '\\' || c < 0x20:
			return nil, 0, false, false
		default:
			high |= c
		}
	}
	return nil, 0, false, false
}

// ValueEnd returns the index just past the value starting at data[i]: its
// bytes, data[i:ValueEnd(data, i)], are what a json.RawMessage holds.
func ValueEnd(data []byte, i int) int {
	switch data[i] {
	case '"':
		return StringEnd(data, i)
	case '{', '[':
		depth := 0
		for {
			switch data[i] {
			case '"':
				i = StringEnd(data, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
	default: // a number, true, false or null
		for i < len(data) && !IsSpace(data[i]) && data[i] != ',' && data[i] != '}' && data[i] != ']' {
			i++
		}
		return i
	}
}

// AppendUUID appends id as id.String() writes it: lowercase hex, hyphenated
// 8-4-4-4-12.
func AppendUUID(b []byte, id uuid.UUID) []byte {
	b = hex.AppendEncode(b, id[0:4])
	b = append(b, '-')
	b = hex.AppendEncode(b, id[4:6])
	b = append(b, '-')
	b = hex.AppendEncode(b, id[6:8])
	b = append(b, '-')
	b = hex.AppendEncode(b, id[8:10])
	b = append(b, '-')
	return hex.AppendEncode(b, id[10:16])
}
