package secagent

import (
	"fmt"
	"time"

	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

// SetLookups replaces the user database of s, for tests of the fallback
// maps: a nil function answers "unknown" for every id.
func SetLookups(s *Service, lookupUser, lookupGroup func(string) (string, error)) {
	unknown := func(id string) (string, error) { return "", fmt.Errorf("unknown id %s (test)", id) }
	if lookupUser == nil {
		lookupUser = unknown
	}
	if lookupGroup == nil {
		lookupGroup = unknown
	}
	s.resolver.lookupUser = lookupUser
	s.resolver.lookupGroup = lookupGroup
}

// SetNow replaces the clock of s.
func SetNow(s *Service, now func() time.Time) { s.now = now }

// NewCache exposes newCache.
var NewCache = newCache

// Get exposes cache.get.
func (c *cache) Get(key []byte, now time.Time) (*authv1.Credential, bool) { return c.get(key, now) }

// Put exposes cache.put.
func (c *cache) Put(key []byte, cred *authv1.Credential, expires time.Time) {
	c.put(key, cred, expires)
}

// Len exposes cache.len.
func (c *cache) Len() int { return c.len() }
