package config_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cc532012/drpc/daemon/config"
)

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic,
// every failure must be a *config.Error of a known kind, and a configuration
// it accepts must survive Dump and Decode unchanged.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"",
		"cache_size: 7\n",
		"cache_ttl: 1m30s\nuid_map:\n  1000: alice\n",
		"log:\n  level: debug\n  format: json\n",
		"groups: [a, b, c]\n",
		"cach_ttl: 1s\n",
		"cache_size: [1\n",
		"a: &x 1\nb: *x\n",
		"- a\n",
		"cache_size: 1\n---\ncache_size: 2\n",
		"uid_map: {1: a, 1: b}\n",
	} {
		f.Add([]byte(s))
	}
	kinds := []error{config.ErrUnknownKey, config.ErrBadValue, config.ErrDuplicateKey, config.ErrSyntax}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := defaults()
		err := config.Decode(data, "fuzz.yaml", &s)
		if err != nil {
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error is not a *config.Error: %T %v", err, err)
			}
			known := false
			for _, k := range kinds {
				known = known || errors.Is(err, k)
			}
			if !known {
				t.Fatalf("error of no known kind: %v", err)
			}
			if s.CacheSize != 100 || s.RuntimeDir != "/run/x" {
				t.Fatalf("failed decode changed the destination: %+v", s)
			}
			return
		}
		var buf bytes.Buffer
		if err := config.Dump(&buf, s); err != nil {
			t.Fatalf("dump of a decoded config: %v", err)
		}
		back := defaults()
		if err := config.Decode(buf.Bytes(), "dump", &back); err != nil {
			t.Fatalf("decode of a dump: %v\n%s", err, buf.Bytes())
		}
		var again bytes.Buffer
		if err := config.Dump(&again, back); err != nil {
			t.Fatalf("second dump: %v", err)
		}
		if !bytes.Equal(buf.Bytes(), again.Bytes()) {
			t.Fatalf("dump does not round-trip:\n%s\n---\n%s", buf.Bytes(), again.Bytes())
		}
	})
}
