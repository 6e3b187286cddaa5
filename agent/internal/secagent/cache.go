package secagent

import (
	"container/list"
	"sync"
	"time"

	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

// cache holds credentials by identity key until each one's expiry, at most
// max of them; the least recently used goes first when it is full.
type cache struct {
	max int

	mu  sync.Mutex
	m   map[string]*list.Element
	lru list.List // of *cacheEntry, most recently used first
}

type cacheEntry struct {
	key     string
	cred    *authv1.Credential
	expires time.Time
}

func newCache(max int) *cache {
	return &cache{max: max, m: make(map[string]*list.Element)}
}

// get returns the credential for key if it has not expired. key is only
// read (the map look-up does not copy it).
func (c *cache) get(key []byte, now time.Time) (*authv1.Credential, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[string(key)]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.m, e.key)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e.cred, true
}

// put stores cred for key until expires, evicting the least recently used
// entry if the cache is full.
func (c *cache) put(key []byte, cred *authv1.Credential, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[string(key)]; ok {
		e := el.Value.(*cacheEntry)
		e.cred, e.expires = cred, expires
		c.lru.MoveToFront(el)
		return
	}
	for c.lru.Len() >= c.max {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.m, oldest.Value.(*cacheEntry).key)
	}
	e := &cacheEntry{key: string(key), cred: cred, expires: expires}
	c.m[e.key] = c.lru.PushFront(e)
}

// len returns the number of entries, expired ones included.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
