package drpc

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Failure is a dRPC call's failure: a non-success Status and what went
// wrong. Handlers return it to choose the response status; clients get it
// from FailureFromResponse (and generated clients return it) so callers can
// branch with errors.As, or errors.Is against a Failure of the same status.
type Failure struct {
	status  Status
	message string
	cause   error
}

// NewFailure returns a Failure with the given status.
func NewFailure(status Status) *Failure {
	return &Failure{status: status}
}

// NewFailureWithMessage returns a StatusFailure Failure with a message.
func NewFailureWithMessage(message string) *Failure {
	return &Failure{status: StatusFailure, message: message}
}

// WrapFailure returns a Failure with the given status caused by err.
func WrapFailure(status Status, err error) *Failure {
	f := &Failure{status: status, cause: err}
	if err != nil {
		f.message = err.Error()
	}
	return f
}

// UnknownModuleFailure is the Failure for a call to an unregistered module.
func UnknownModuleFailure() *Failure { return NewFailure(StatusUnknownModule) }

// UnknownMethodFailure is the Failure for a method a module does not serve.
func UnknownMethodFailure() *Failure { return NewFailure(StatusUnknownMethod) }

// UnmarshalingCallFailure is the Failure for a Call that does not decode.
func UnmarshalingCallFailure() *Failure { return NewFailure(StatusFailedUnmarshalCall) }

// UnmarshalingPayloadFailure is the Failure for a body that does not decode
// into the method's request.
func UnmarshalingPayloadFailure() *Failure { return NewFailure(StatusFailedUnmarshalPayload) }

// MarshalingFailure is the Failure for a reply that cannot be encoded.
func MarshalingFailure() *Failure { return NewFailure(StatusFailedMarshal) }

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

// Is reports whether target is a *Failure with the same status, so that
// errors.Is(err, drpc.UnknownMethodFailure()) works.
func (f *Failure) Is(target error) bool {
	t, ok := target.(*Failure)
	return ok && t.status == f.status
}

// ErrorToStatus maps a handler's error to a response status: nil is
// StatusSuccess, a *Failure anywhere in the chain gives its status, and any
// other error is StatusFailure.
func ErrorToStatus(err error) Status {
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
// *Failure with resp's status otherwise. When the server's transport
// refused the call (session limit, message size, shutdown), the failure's
// message is the reason it sent.
func FailureFromResponse(resp *Response) error {
	return failureOf(resp.GetStatus(), resp.GetBody())
}

// maxReasonLen bounds the reason a failure takes from a response body.
const maxReasonLen = 512

// failureOf returns nil for StatusSuccess and otherwise a *Failure whose
// message is body, if body reads as a short reason: DAOS servers send no
// body with a failure, and this server only its transport's refusals.
func failureOf(status Status, body []byte) error {
	if status == StatusSuccess {
		return nil
	}
	f := NewFailure(status)
	if len(body) > 0 && len(body) <= maxReasonLen && utf8.Valid(body) && isPrintable(body) {
		f.message = string(body)
	}
	return f
}

func isPrintable(b []byte) bool {
	for _, r := range string(b) {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
