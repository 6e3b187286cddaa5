// Package envelope encodes and decodes the dRPC envelope messages, Call and
// Response, straight from and to byte slices, with the same bytes as
// proto.Marshal and the same acceptance as proto.Unmarshal.
//
// It exists for speed: the body of a call or response can be megabytes, and
// this package never copies it. Encoding produces only the head (every field
// before the body, plus the body's tag and length), so the body goes to the
// socket from the caller's slice; decoding returns a body that aliases the
// input. The fuzz test holds both directions to the protobuf library's
// answers.
package envelope
