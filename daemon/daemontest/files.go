package daemontest

import (
	"bytes"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// SocketDir returns a new empty directory for sockets, with a short path
// (os.TempDir/dtNNNN): a socket's path must fit in the 107 bytes of
// sun_path, which the long names of t.TempDir can exceed. Only this user may
// enter it (mode 0700, as os.MkdirTemp makes it); a test that runs a program
// as another user opens it with os.Chmod. It is removed with its content
// when the test ends.
func SocketDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dt")
	require.NoError(t, err, "make a short temporary directory")
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// SyncBuffer is a bytes.Buffer that one side writes (a child's output, a
// logger in goroutines) while the test reads it. The zero value is ready to
// use; do not copy it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
