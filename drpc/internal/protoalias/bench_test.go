package protoalias

import (
	"bytes"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
	drpcv1 "github.com/cc532012/drpc/proto/drpc/v1"
)

// BenchmarkUnmarshal compares Unmarshal with proto.Unmarshal on a message
// that is one bytes field (EchoRequest) and on one whose bytes field comes
// after others (Call).
func BenchmarkUnmarshal(b *testing.B) {
	for _, size := range []int{64, 4 << 10, 128 << 10} {
		payload := bytes.Repeat([]byte{7}, size)
		for _, tc := range []struct {
			name string
			in   proto.Message
			out  proto.Message
		}{
			{"echo", &testv1.EchoRequest{Payload: payload}, new(testv1.EchoRequest)},
			{"call", &drpcv1.Call{Module: 1, Method: 101, Sequence: 9, Body: payload}, new(drpcv1.Call)},
		} {
			in, err := proto.Marshal(tc.in)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/%d/alias", tc.name, size), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := Unmarshal(in, tc.out); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("%s/%d/proto", tc.name, size), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := proto.Unmarshal(in, tc.out); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkAppendHead compares AppendHead with proto's MarshalAppend, into
// a reused buffer.
func BenchmarkAppendHead(b *testing.B) {
	for _, size := range []int{64, 4 << 10, 128 << 10} {
		m := &testv1.EchoResponse{Payload: bytes.Repeat([]byte{7}, size)}
		var buf []byte
		b.Run(fmt.Sprintf("%d/head", size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				head, _, err := AppendHead(buf[:0], m, 64<<10)
				if err != nil {
					b.Fatal(err)
				}
				buf = head
			}
		})
		b.Run(fmt.Sprintf("%d/proto", size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out, err := proto.MarshalOptions{}.MarshalAppend(buf[:0], m)
				if err != nil {
					b.Fatal(err)
				}
				buf = out
			}
		})
	}
}
