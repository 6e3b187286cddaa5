package protoalias

import (
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// maxAliased is the most aliased fields one message may carry; a message
// with more is decoded by proto.Unmarshal alone (copied, still correct).
const maxAliased = 8

// aliased is one field found in the input: its descriptor, its value and
// where the whole field (tag, length and value) lies in the input.
type aliased struct {
	fd         protoreflect.FieldDescriptor
	value      []byte
	start, end int
}

// Unmarshal decodes b into m, as proto.Unmarshal does, except that the
// values of m's top-level bytes fields that are singular and not in a
// oneof alias b: they are valid only as long as b is, and writing to them
// writes to b. Other fields, nested messages included, are copied by
// proto.Unmarshal. m is reset first.
//
// An input that is not well formed, or that repeats an aliased field (the
// last occurrence wins, which proto.Unmarshal knows best), is decoded by
// proto.Unmarshal alone, so the error or the result is always its own.
func Unmarshal(b []byte, m proto.Message) error {
	var found [maxAliased]aliased
	n, ok := scan(b, m.ProtoReflect().Descriptor(), &found)
	if !ok || n == 0 {
		return proto.Unmarshal(b, m)
	}
	if rest, scratch := without(b, found[:n]); rest == nil {
		proto.Reset(m) // what decoding nothing does, for less
	} else {
		err := proto.UnmarshalOptions{AllowPartial: true}.Unmarshal(rest, m)
		putScratch(scratch)
		if err != nil {
			return err
		}
	}
	for _, f := range found[:n] {
		setBytes(m, f.fd, f.value)
	}
	return proto.CheckInitialized(m)
}

// scan walks the top-level fields of b and records in found the non-empty
// values of the fields of md to alias. It reports false if b is not well
// formed, if one of those fields occurs more than once (empty or not), or
// if there are more than maxAliased of them.
func scan(b []byte, md protoreflect.MessageDescriptor, found *[maxAliased]aliased) (n int, ok bool) {
	fields := md.Fields()
	var seen [maxAliased]protowire.Number // every aliasable field met, empty or not
	nseen := 0
	for off := 0; off < len(b); {
		num, typ, tagLen := protowire.ConsumeTag(b[off:])
		if tagLen < 0 {
			return 0, false
		}
		if typ != protowire.BytesType {
			valLen := protowire.ConsumeFieldValue(num, typ, b[off+tagLen:])
			if valLen < 0 {
				return 0, false
			}
			off += tagLen + valLen
			continue
		}
		v, valLen := protowire.ConsumeBytes(b[off+tagLen:])
		if valLen < 0 {
			return 0, false
		}
		start := off
		off += tagLen + valLen
		fd := fields.ByNumber(num)
		if !aliasable(fd) {
			continue
		}
		for _, s := range seen[:nseen] {
			if s == num {
				return 0, false
			}
		}
		if nseen == maxAliased {
			return 0, false
		}
		seen[nseen] = num
		nseen++
		if len(v) > 0 { // an empty one is decoded as is
			found[n] = aliased{fd: fd, value: v, start: start, end: off}
			n++
		}
	}
	return n, true
}

// aliasable reports whether fd is a field whose value Unmarshal aliases:
// singular bytes, not in a oneof (whose members replace each other in the
// order they come) and not an extension.
func aliasable(fd protoreflect.FieldDescriptor) bool {
	return fd != nil && fd.Kind() == protoreflect.BytesKind && fd.Cardinality() != protoreflect.Repeated &&
		fd.ContainingOneof() == nil && !fd.IsExtension()
}

// without returns b with the fields in found (in input order) cut out: a
// part of b if what remains is in one piece, else a copy in a pooled
// buffer, which is returned too for putScratch.
func without(b []byte, found []aliased) (rest []byte, scratch *[]byte) {
	var pieces [maxAliased + 1][2]int
	np, at := 0, 0
	for _, f := range found {
		if f.start > at {
			pieces[np] = [2]int{at, f.start}
			np++
		}
		at = f.end
	}
	if at < len(b) {
		pieces[np] = [2]int{at, len(b)}
		np++
	}
	switch np {
	case 0:
		return nil, nil
	case 1:
		return b[pieces[0][0]:pieces[0][1]], nil
	}
	scratch = scratchBufs.Get().(*[]byte)
	buf := (*scratch)[:0]
	for _, p := range pieces[:np] {
		buf = append(buf, b[p[0]:p[1]]...)
	}
	*scratch = buf
	return buf, scratch
}

// scratchBufs holds the buffers the rest of a message is gathered in when
// the aliased fields cut it in pieces; proto.Unmarshal copies what it
// keeps, so a buffer is free again once it returns.
var scratchBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxScratch is the largest scratch buffer put back in the pool.
const maxScratch = 64 << 10

func putScratch(s *[]byte) {
	if s == nil {
		return
	}
	if cap(*s) > maxScratch {
		*s = nil
	}
	scratchBufs.Put(s)
}
