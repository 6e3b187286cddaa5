package logging_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/logging"
)

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in   string
		want slog.Level
		ok   bool
	}{
		{"", slog.LevelInfo, true},
		{"debug", slog.LevelDebug, true},
		{"INFO", slog.LevelInfo, true},
		{"warn", slog.LevelWarn, true},
		{"warning", slog.LevelWarn, true},
		{" error ", slog.LevelError, true},
		{"trace", 0, false},
		{"0", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := logging.ParseLevel(tt.in)
			if !tt.ok {
				require.ErrorIs(t, err, logging.ErrBadLevel)
				assert.Contains(t, err.Error(), "use one of debug, info, warn, error")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]logging.Format{"": logging.FormatText, "text": logging.FormatText, "JSON": logging.FormatJSON} {
		got, err := logging.ParseFormat(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := logging.ParseFormat("logfmt")
	require.ErrorIs(t, err, logging.ErrBadFormat)
	assert.Contains(t, err.Error(), `"logfmt": use one of text, json`)
}

func TestNew(t *testing.T) {
	tests := []struct {
		name, level, format string
		check               func(t *testing.T, out string)
	}{
		{"text info drops debug", "", "", func(t *testing.T, out string) {
			assert.NotContains(t, out, "dbg")
			assert.Contains(t, out, "level=INFO msg=hello k=v")
			assert.Contains(t, out, "time=")
		}},
		{"text debug", "debug", "text", func(t *testing.T, out string) {
			assert.Contains(t, out, "level=DEBUG msg=dbg")
		}},
		{"error only", "error", "text", func(t *testing.T, out string) {
			assert.Empty(t, out)
		}},
		{"json", "info", "json", func(t *testing.T, out string) {
			var rec map[string]any
			require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(out)), &rec))
			assert.Equal(t, "hello", rec["msg"])
			assert.Equal(t, "v", rec["k"])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := logging.New(logging.Options{Level: tt.level, Format: tt.format, Writer: &buf})
			require.NoError(t, err)
			log.Debug("dbg")
			log.Info("hello", "k", "v")
			tt.check(t, buf.String())
		})
	}

	_, err := logging.New(logging.Options{Level: "loud"})
	require.ErrorIs(t, err, logging.ErrBadLevel)
	_, err = logging.New(logging.Options{Format: "xml"})
	require.ErrorIs(t, err, logging.ErrBadFormat)
}

// TestJournalOmitsTime: when the writer is the stream JOURNAL_STREAM names,
// records carry no time (the journal adds it).
func TestJournalOmitsTime(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "journal"))
	require.NoError(t, err)
	defer f.Close()
	var st syscall.Stat_t
	require.NoError(t, syscall.Fstat(int(f.Fd()), &st))

	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	assert.True(t, logging.OnJournal(f))
	log, err := logging.New(logging.Options{Writer: f})
	require.NoError(t, err)
	log.Info("hello")
	b, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	assert.Equal(t, "level=INFO msg=hello\n", string(b))

	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino+1))
	assert.False(t, logging.OnJournal(f))
	t.Setenv("JOURNAL_STREAM", "garbage")
	assert.False(t, logging.OnJournal(f))
}

func TestDiscard(t *testing.T) {
	logging.Discard().Error("nothing") // must not panic or print
}
