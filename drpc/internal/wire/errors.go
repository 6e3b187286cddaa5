package wire

import (
	"errors"
	"fmt"
)

// ErrMalformedPacket is wrapped by every error about a packet that breaks the
// framing rules; the message names the rule. The connection cannot be
// trusted after such an error and must be closed.
var ErrMalformedPacket = errors.New("malformed dRPC packet")

// ErrMessageTooLarge is wrapped by the error for a message whose
// total_data_size is above the receiver's limit.
var ErrMessageTooLarge = errors.New("dRPC message too large")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedPacket, fmt.Sprintf(format, args...))
}
