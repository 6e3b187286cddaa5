// Package protoalias decodes protobuf messages as proto.Unmarshal does,
// except that bytes fields alias the input instead of holding a copy of
// it, and encodes them with their largest bytes field left for the caller
// to send from where it is.
//
// It exists for speed: a server decodes each request from its receive
// buffer, which stays valid while the handler runs, and a request's bytes
// field can be megabytes that proto.Unmarshal would allocate and copy
// (protobuf-go copies every bytes field, whatever its options say); a
// reply that carries such a field (an echo, a read) would be copied again
// into the encoding. The protobuf library still decodes and encodes every
// other field: this package only takes the aliased fields out of its way,
// so what it accepts, rejects and keeps (unknown fields, required fields,
// UTF-8 checks of strings) is the library's. The fuzz test holds Unmarshal
// to proto.Unmarshal.
package protoalias
