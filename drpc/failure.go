package drpc

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Failure is a dRPC call's failure: a non-success Status and what went
// wrong. A handler returns one to choose the response status; its message
// travels with the response as the failure's reason (DAOS peers ignore
// it). A client gets one back for every response that is not a success:
// FailureFromResponse makes it from a Response, and the generated clients
// return it. StatusOf reads the status of any error.
type Failure struct {
	status  Status
	message string
	cause   error
}

// NewFailure returns a Failure with the given status and message; the
// message may be empty. Handlers should keep it short and free of secrets:
// it is sent to the caller.
func NewFailure(status Status, message string) *Failure {
	return &Failure{status: status, message: message}
}

// WrapFailure returns a Failure with the given status caused by err; its
// message is err's, and errors.Is and errors.As see err through it.
func WrapFailure(status Status, err error) *Failure {
	f := &Failure{status: status, cause: err}
	if err != nil {
		f.message = err.Error()
	}
	return f
}

// Status is the failure's dRPC status.
func (f *Failure) Status() Status { return f.status }

// Message is the failure's detail, possibly empty.
func (f *Failure) Message() string { return f.message }

// Error describes the failure.
func (f *Failure) Error() string {
	if f.message == "" {
		return "dRPC call failed: " + f.status.String()
	}
	return fmt.Sprintf("dRPC call failed: %s: %s", f.status, f.message)
}

// Unwrap returns the error that caused the failure, if any.
func (f *Failure) Unwrap() error { return f.cause }

// StatusOf returns the dRPC status that err stands for: StatusSuccess for
// nil, the status of a *Failure anywhere in err's chain, and StatusFailure
// for any other error. A server answers a handler's error with it; a
// client reads a call's outcome with it.
func StatusOf(err error) Status {
	if err == nil {
		return StatusSuccess
	}
	var f *Failure
	if errors.As(err, &f) {
		return f.status
	}
	return StatusFailure
}

// FailureFromResponse returns nil if resp reports StatusSuccess and a
// *Failure with resp's status otherwise, whose message is the reason the
// server sent, if any (a transport refusal or a handler's Failure).
func FailureFromResponse(resp *Response) error {
	return failureOf(resp.GetStatus(), resp.GetBody())
}

// maxReasonLen bounds the reason a failure carries on the wire, both ways.
const maxReasonLen = 512

// failureOf returns nil for StatusSuccess and otherwise a *Failure whose
// message is body, if body reads as a short reason: DAOS servers send no
// body with a failure.
func failureOf(status Status, body []byte) error {
	if status == StatusSuccess {
		return nil
	}
	f := &Failure{status: status}
	if len(body) > 0 && len(body) <= maxReasonLen && utf8.Valid(body) && isPrintable(body) {
		f.message = string(body)
	}
	return f
}

// reasonOf returns the reason to send with the failure err stands for: the
// message of a *Failure in its chain, cut to maxReasonLen bytes on a rune
// boundary, with spaces made plain and anything else unprintable replaced; nil for other errors,
// whose text may hold what the caller should not see.
func reasonOf(err error) []byte {
	var f *Failure
	if !errors.As(err, &f) || f.message == "" {
		return nil
	}
	out := make([]byte, 0, min(len(f.message), maxReasonLen))
	for _, r := range f.message {
		switch {
		case unicode.IsSpace(r):
			r = ' '
		case !unicode.IsPrint(r):
			r = '?'
		}
		if len(out)+utf8.RuneLen(r) > maxReasonLen {
			break
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

func isPrintable(b []byte) bool {
	for _, r := range string(b) {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
