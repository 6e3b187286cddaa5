// Package wire implements dRPC's chunked framing: how one marshalled message
// travels as one or more SOCK_SEQPACKET packets, each starting with a 24-byte
// chunk header.
//
// The header, in native byte order, is
//
//	offset size field
//	0      8    total_data_size  length of the whole message
//	8      8    chunk_data_size  data bytes in this packet
//	16     4    chunk_idx        0-based index of this packet
//	20     4    total_chunks     packets in the message
//
// A packet is at most MaxPacketSize bytes, so a message of n bytes goes out
// as ceil(n / MaxChunkData) packets (one for an empty message). The Receiver
// checks every packet the way the DAOS C receiver does, bounds the message
// size before it allocates, and also accepts the header-only packet with
// total_chunks = 0 that the DAOS C library sends for an empty message.
//
// Both directions avoid copies where they cost: a Sender writes each large
// packet with one writev of the header and the slices of the message it
// carries, and a Receiver reads the chunks of a message straight into place
// in one reusable buffer sized to the messages it sees; small packets are
// copied, which costs less than gathering or scattering them.
package wire
