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

// ErrOverBudget is wrapped by the error for a message that the receiver
// dropped because its Allowance refused the memory the message needs.
var ErrOverBudget = errors.New("dRPC message over the memory budget")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedPacket, fmt.Sprintf(format, args...))
}
