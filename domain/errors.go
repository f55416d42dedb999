package domain

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error for callers that translate it: the HTTP layer
// maps each kind to one status in one table (http/problem.go), the CLI to an
// exit status. It is Casebook's one error vocabulary: the application core
// returns *Error for every failure, translating the event store's and the
// read models' own errors at its boundary.
type Kind string

const (
	// KindMalformed: the request itself cannot be read — a body that is not
	// JSON, a query parameter or header of the wrong form. Retrying it
	// unchanged will fail again.
	KindMalformed Kind = "malformed"
	// KindInvalid: the command breaks a rule or carries bad data. Retrying
	// it unchanged will fail again.
	KindInvalid Kind = "invalid"
	// KindConflict: the command collides with what is stored (an event id
	// used for other content, a case or reference that already exists).
	KindConflict Kind = "conflict"
	// KindVersionConflict: the command was conditional on a version of the
	// case that is no longer current. Nothing was written; CurrentVersion
	// says where the case is.
	KindVersionConflict Kind = "version_conflict"
	// KindNotFound: the case (or the version asked for) does not exist, or
	// the caller may not know that it does: a case the caller may not see
	// is answered exactly as one that does not exist.
	KindNotFound Kind = "not_found"
	// KindForbidden: the caller's role or agency does not allow this.
	KindForbidden Kind = "forbidden"
	// KindUnavailable: a dependency (the event store, the read models) is
	// not answering or not caught up in time; retry after RetryAfter.
	KindUnavailable Kind = "unavailable"
	// KindInternal: a failure that is nobody's request's fault — stored data
	// that cannot be read, a bug. Logged with its cause, never shown.
	KindInternal Kind = "internal"
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
	CodeEventNotFound            = "event_not_found" // no case event has that id
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
	CodeCaseIDTaken              = "case_id_taken"     // a client-chosen case id already in use
	CodeReferenceTaken           = "reference_taken"   // a case reference already used by its lead agency
	CodeUnknownAgency            = "unknown_agency"    // an agency that is not configured
	CodeUnknownPlace             = "unknown_place"     // a place code that is not configured
	CodeInvalidParameter         = "invalid_parameter" // a query parameter, path segment or header
	CodeForbidden                = "forbidden"         // the caller's role or agency does not allow it
	CodeUnavailable              = "unavailable"       // a dependency is not answering
	CodeNotCaughtUp              = "not_caught_up"     // the read models have not reached min_position in time
	CodeCorruptRecord            = "corrupt_record"    // a stored event cannot be read
	CodeInternal                 = "internal"
	CodeNotFound                 = "not_found" // no such resource (a route, a report)
	CodeUnknownProjection        = "unknown_projection"
	CodeProjectionFailed         = "projection_failed"
	CodeRefused                  = "refused" // an import or restore that breaks a rule
	CodePersonAlreadyErased      = "person_already_erased"
	CodePersonErased             = "person_erased"          // new personal data of a person erased from the case
	CodePersonalDataUnsealed     = "personal_data_unsealed" // plaintext personal data (written before encryption) cannot be erased by a key
	CodeKeyUnavailable           = "key_unavailable"        // a sealed field's key is not in the key store
	CodeUndecryptable            = "undecryptable"          // a sealed field does not open with its key
	CodeCaseDisposed             = "case_disposed"          // the case was disposed of after a retention review
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
	// RetryAfter, on unavailable errors, is how long to wait before
	// trying again.
	RetryAfter time.Duration `json:"-"`
	// Cause is the underlying failure of an internal or unavailable
	// error: logged, never shown to the caller.
	Cause error `json:"-"`
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: %s", e.Code, e.Message)
	if e.Field != "" {
		msg = fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap returns the cause, so that errors.Is sees through an internal or
// unavailable error to what caused it (context.Canceled, say).
func (e *Error) Unwrap() error { return e.Cause }

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
	ErrVersionConflict        = &Error{Code: CodeVersionConflict, Kind: KindVersionConflict}
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
		Kind:           KindVersionConflict,
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

// Errorf builds an *Error of the given kind and code.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf builds an *Error about one field or parameter.
func FieldErrorf(kind Kind, code, field, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// BadParameter is the error of a query parameter, path segment or header of
// the wrong form.
func BadParameter(field, format string, args ...any) *Error {
	return FieldErrorf(KindMalformed, CodeInvalidParameter, field, format, args...)
}

// Internal wraps an unexpected failure: its cause is logged, never shown.
func Internal(cause error) *Error {
	return &Error{Kind: KindInternal, Code: CodeInternal, Message: "an unexpected error occurred", Cause: cause}
}

// Unavailable wraps a dependency's failure that a retry may cure.
func Unavailable(cause error, retryAfter time.Duration, format string, args ...any) *Error {
	return &Error{Kind: KindUnavailable, Code: CodeUnavailable, Message: fmt.Sprintf(format, args...),
		RetryAfter: retryAfter, Cause: cause}
}
