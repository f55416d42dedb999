package domain

import (
	"errors"
	"fmt"
)

// Kind classifies a domain error for callers that translate it (the HTTP
// layer maps KindInvalid → 422, KindConflict → 409, KindNotFound → 404,
// KindForbidden → 403).
type Kind string

const (
	// KindInvalid: the command breaks a rule or carries bad data. Retrying
	// it unchanged will fail again.
	KindInvalid Kind = "invalid"
	// KindConflict: the command collides with what is stored (an expected
	// version that is no longer current, an event id used for other
	// content, a case that already exists).
	KindConflict Kind = "conflict"
	// KindNotFound: the case (or the version asked for) does not exist.
	KindNotFound Kind = "not_found"
	// KindForbidden: the actor may not do this.
	KindForbidden Kind = "forbidden"
)

// Stable error codes. They appear in API answers (the problem type) and
// must never change meaning.
const (
	CodeValidation               = "validation"     // bad field value, unknown field, wrong JSON type, missing field
	CodeMalformedJSON            = "malformed_json" // event data is not JSON (or not one object)
	CodeUnknownEventType         = "unknown_event_type"
	CodeUnsupportedSchemaVersion = "unsupported_schema_version"
	CodeOccurredInFuture         = "occurred_in_future"
	CodeOccurredTooEarly         = "occurred_too_early"
	CodeCaseNotFound             = "case_not_found"
	CodeVersionNotFound          = "version_not_found"
	CodeCaseExists               = "case_exists"
	CodeCaseClosed               = "case_closed"
	CodeCaseNotClosed            = "case_not_closed"
	CodeAgencyAlreadyJoined      = "agency_already_joined"
	CodeGroupAlreadyLinked       = "group_already_linked"
	CodeGroupNotLinked           = "group_not_linked"
	CodeGroupAlreadyDismantled   = "group_already_dismantled"
	CodeSuspectAlreadyIdentified = "suspect_already_identified"
	CodeSuspectNotIdentified     = "suspect_not_identified"
	CodeEntryNotFound            = "entry_not_found"
	CodeEntryNotRetractable      = "entry_not_retractable"
	CodeEntryAlreadyRetracted    = "entry_already_retracted"
	CodeQuantityOverflow         = "quantity_overflow"
	CodeVersionConflict          = "version_conflict"
	CodeDuplicateEventID         = "duplicate_event_id"
)

// Error is a domain error: a rule broken, bad input, a conflict. Use
// errors.As to get it out of a wrapped error; errors.Is matches two Errors
// with the same Code, so the Err… values below work as sentinels.
type Error struct {
	Code    string `json:"code"`
	Kind    Kind   `json:"kind"`
	Field   string `json:"field,omitempty"` // the offending field of the event data or command, if one
	Message string `json:"message"`
	// CurrentVersion is the case's current version, set on version
	// conflicts so that a client can reload and decide what to do.
	CurrentVersion *uint64 `json:"current_version,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Is reports whether target is an *Error with the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is. Compare codes, not messages.
var (
	ErrValidation             = &Error{Code: CodeValidation, Kind: KindInvalid}
	ErrCaseNotFound           = &Error{Code: CodeCaseNotFound, Kind: KindNotFound}
	ErrCaseExists             = &Error{Code: CodeCaseExists, Kind: KindConflict}
	ErrCaseClosed             = &Error{Code: CodeCaseClosed, Kind: KindInvalid}
	ErrVersionConflict        = &Error{Code: CodeVersionConflict, Kind: KindConflict}
	ErrDuplicateEventID       = &Error{Code: CodeDuplicateEventID, Kind: KindConflict}
	ErrSuspectNotIdentified   = &Error{Code: CodeSuspectNotIdentified, Kind: KindInvalid}
	ErrGroupNotLinked         = &Error{Code: CodeGroupNotLinked, Kind: KindInvalid}
	ErrGroupAlreadyDismantled = &Error{Code: CodeGroupAlreadyDismantled, Kind: KindInvalid}
	ErrEntryNotRetractable    = &Error{Code: CodeEntryNotRetractable, Kind: KindInvalid}
	ErrEntryAlreadyRetracted  = &Error{Code: CodeEntryAlreadyRetracted, Kind: KindInvalid}
)

func invalid(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Kind: KindInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

func fieldError(field, format string, args ...any) *Error {
	return invalid(CodeValidation, field, format, args...)
}

// NewVersionConflict is the error of a command whose expected version is
// not the case's current one.
func NewVersionConflict(expected, current uint64) *Error {
	c := current
	return &Error{
		Code:           CodeVersionConflict,
		Kind:           KindConflict,
		Message:        fmt.Sprintf("expected version %d, the case is at version %d", expected, current),
		CurrentVersion: &c,
	}
}

// AsError returns the *Error inside err, if any.
func AsError(err error) (*Error, bool) {
	var de *Error
	if errors.As(err, &de) {
		return de, true
	}
	return nil, false
}
