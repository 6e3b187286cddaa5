package tlsconfig

import "strings"

// hints map a fragment of a handshake error, as Go's crypto/tls and x509
// (or gRPC around them) write it on either side, to what it most likely
// means. The first match wins.
var hints = []struct{ fragment, hint string }{
	{"client certificate is not listed in client_cert_dir", "the server's client_cert_dir does not list this certificate"},
	{"certificate signed by unknown authority", "the peer's certificate is not signed by the CA this side trusts (ca_cert): both sides must use certificates of the same CA"},
	{"unknown certificate authority", "the peer does not trust the CA that signed this side's certificate: both sides must use certificates of the same CA (ca_cert)"},
	{"certificate has expired or is not yet valid", "the peer's certificate has expired (or is not valid yet): make a new one (drpc-server gen-certs)"},
	{"expired certificate", "the peer says this side's certificate has expired (or is not valid yet): make a new one (drpc-server gen-certs)"},
	{"first record does not look like a TLS handshake", "the peer does not speak TLS: it has transport_config.allow_insecure: true and this side has not; set it the same on both sides"},
	{"certificate required", "the server requires a client certificate: give the client its cert and key in transport_config"},
	{"doesn't contain any IP SANs", "the server's certificate does not name the address the client dialled: add it to the certificate, or dial a name it has"},
	{"certificate is valid for", "the server's certificate does not name the address the client dialled: add it to the certificate, or dial a name it has"},
	{"bad certificate", "the peer refused this side's certificate: its log says why"},
	{"handshake failure", "the server refused the TLS handshake: it probably runs without TLS (transport_config.allow_insecure: true) while this side has not; set it the same on both sides (its log says why)"},
	{"tls: ", "the TLS handshake failed"},
}

// Hint returns one sentence that says what a handshake error most likely
// means, or "" if it does not look like one. insecure tells whether this
// side runs without TLS (allow_insecure), which explains a peer that hangs
// up without a word.
func Hint(err error, insecure bool) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	for _, h := range hints {
		if strings.Contains(msg, h.fragment) {
			return h.hint
		}
	}
	if insecure && (strings.Contains(msg, "EOF") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "server preface") || strings.Contains(msg, "broken pipe")) {
		return "the server hung up at once: it probably requires TLS, and this side has transport_config.allow_insecure: true; set it the same on both sides"
	}
	return ""
}
