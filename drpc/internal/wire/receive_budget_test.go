package wire

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// account is an Allowance with a limit that records what it holds.
type account struct {
	limit, held, peak int
	refused           int
}

func (a *account) Grow(n int) bool {
	if a.held+n > a.limit {
		a.refused++
		return false
	}
	a.held += n
	a.peak = max(a.peak, a.held)
	return true
}

func (a *account) Force(n int) {
	a.held += n
	a.peak = max(a.peak, a.held)
}

func (a *account) Shrink(n int) {
	a.held -= n
	if a.held < 0 {
		panic("an account went below zero")
	}
}

func TestReceiverGrowsWithTheBytesReceived(t *testing.T) {
	// A peer that declares a huge message and sends a few packets of it
	// makes the receiver hold about what it sent, not what it declared.
	const declared = DefaultMaxMessageSize
	for _, sent := range []int{1, 2, 5} {
		var packets [][]byte
		for i := range sent {
			packets = append(packets, chunkOf(declared, uint32(i), 7))
		}
		acct := &account{limit: 1 << 30}
		r := newTestReceiver("vectored", packets, 0)
		r.Allowance = acct
		_, err := r.ReadMessage()
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "%d packets", sent)
		received := sent * MaxPacketSize
		assert.LessOrEqual(t, cap(r.buf), 2*received+MaxPacketSize, "%d packets: buffer", sent)
		assert.Equal(t, cap(r.buf), acct.held, "%d packets: the account holds the buffer", sent)
		r.Release()
		assert.Zero(t, acct.held, "Release gives everything back")
	}
}

func TestReceiverAllowance(t *testing.T) {
	big := testMessage(3*MaxChunkData + 100)
	tests := []struct {
		name    string
		limit   int
		msgs    [][]byte
		refused []bool // per message: dropped for the budget
	}{
		{"everything fits", 8 << 20, [][]byte{testMessage(10), big, testMessage(20)}, []bool{false, false, false}},
		{"a first message over a budget of a small buffer", minBufferSize + 100, [][]byte{testMessage(1000), testMessage(10)}, []bool{true, false}},
		{"the first packet fits, the rest does not", 2 * MaxPacketSize, [][]byte{big, testMessage(10), big}, []bool{true, false, true}},
		{"one chunk of exactly the budget", 1 << 20, [][]byte{testMessage(MaxChunkData)}, []bool{false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var packets [][]byte
			for _, m := range tc.msgs {
				packets = append(packets, sendPackets(t, m)...)
			}
			acct := &account{limit: tc.limit}
			r := newTestReceiver("vectored", packets, 0)
			r.Allowance = acct
			for i, m := range tc.msgs {
				got, err := r.ReadMessage()
				if tc.refused[i] {
					require.ErrorIs(t, err, ErrOverBudget, "message %d", i)
					var d *DroppedError
					require.ErrorAs(t, err, &d)
					assert.Equal(t, uint64(len(m)), d.Size)
					assert.Equal(t, m[:min(len(m), HeadSize)], d.Head, "the head of the dropped message is kept")
					assert.Contains(t, err.Error(), "more than the receiver may hold")
				} else {
					require.NoError(t, err, "message %d", i)
					require.True(t, bytes.Equal(m, got), "message %d", i)
				}
				assert.Equal(t, cap(r.buf), acct.held, "message %d: the account holds the buffer", i)
				assert.LessOrEqual(t, acct.peak, tc.limit)
				assert.False(t, r.over.Held())
			}
			_, err := r.ReadMessage()
			require.Equal(t, io.EOF, err, "the connection stayed in step")
			r.Release()
			assert.Zero(t, acct.held)
		})
	}
}

func TestReceiverPartial(t *testing.T) {
	// Partial brackets the messages of several packets, whatever becomes
	// of them, and never a message of one packet.
	tests := []struct {
		name    string
		packets [][]byte
		limit   int
		calls   []bool
	}{
		{"one packet", sendPackets(t, testMessage(100)), 0, nil},
		{"three packets", sendPackets(t, testMessage(2*MaxChunkData+1)), 0, []bool{true, false}},
		{"three packets above the limit", sendPackets(t, testMessage(2*MaxChunkData+1)), 1000, []bool{true, false}},
		{"cut off after one of three", [][]byte{chunkOf(2*MaxChunkData+1, 0, 1)}, 0, []bool{true, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls []bool
			r := newTestReceiver("vectored", tc.packets, tc.limit)
			r.Partial = func(inProgress bool) { calls = append(calls, inProgress) }
			_, _ = r.ReadMessage()
			assert.Equal(t, tc.calls, calls)
		})
	}
}
