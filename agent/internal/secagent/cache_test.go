package secagent_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cc532012/drpc/agent/internal/secagent"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

func TestCacheExpiryAndLRU(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	c := secagent.NewCache(2)
	a, b, d := &authv1.Credential{Origin: "a"}, &authv1.Credential{Origin: "b"}, &authv1.Credential{Origin: "d"}

	c.Put([]byte("a"), a, t0.Add(time.Minute))
	c.Put([]byte("b"), b, t0.Add(time.Minute))
	got, ok := c.Get([]byte("a"), t0.Add(time.Second)) // a is now the most recent
	assert.True(t, ok)
	assert.Same(t, a, got)

	c.Put([]byte("d"), d, t0.Add(time.Minute)) // evicts b, the least recently used
	assert.Equal(t, 2, c.Len())
	_, ok = c.Get([]byte("b"), t0)
	assert.False(t, ok, "b was evicted")
	_, ok = c.Get([]byte("d"), t0)
	assert.True(t, ok)

	_, ok = c.Get([]byte("a"), t0.Add(time.Minute))
	assert.False(t, ok, "an entry expires at its expiry")
	assert.Equal(t, 1, c.Len(), "an expired entry is dropped when found")

	c.Put([]byte("d"), a, t0.Add(time.Hour+time.Minute)) // replace, with a new expiry
	got, ok = c.Get([]byte("d"), t0.Add(time.Hour+time.Second))
	assert.True(t, ok)
	assert.Same(t, a, got)
	assert.Equal(t, 1, c.Len())
}
