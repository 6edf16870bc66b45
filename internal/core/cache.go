package core

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// credCache remembers recent successful password verifications so that a
// client logging in again (HTTP sends credentials on every request) does not
// pay argon2id each time. Keys are a SHA-256 over user, password and stored
// hash: a password change or a different password misses the cache.
type credCache struct {
	mu    sync.Mutex
	size  int
	ttl   time.Duration
	order *list.List // front: most recent; values are [32]byte keys
	items map[[32]byte]cacheEntry
}

type cacheEntry struct {
	expires time.Time
	elem    *list.Element
}

func newCredCache(size int, ttl time.Duration) *credCache {
	return &credCache{size: size, ttl: ttl, order: list.New(), items: make(map[[32]byte]cacheEntry, size)}
}

func cacheKey(user, pw, hash string) [32]byte {
	h := sha256.New()
	for _, s := range []string{user, pw, hash} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (c *credCache) ok(user, pw, hash string, now time.Time) bool {
	k := cacheKey(user, pw, hash)
	c.mu.Lock()
	defer c.mu.Unlock()
	ent, found := c.items[k]
	if !found {
		return false
	}
	if now.After(ent.expires) {
		c.order.Remove(ent.elem)
		delete(c.items, k)
		return false
	}
	c.order.MoveToFront(ent.elem)
	return true
}

func (c *credCache) add(user, pw, hash string, now time.Time) {
	k := cacheKey(user, pw, hash)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ent, found := c.items[k]; found {
		ent.expires = now.Add(c.ttl)
		c.items[k] = ent
		c.order.MoveToFront(ent.elem)
		return
	}
	for c.order.Len() >= c.size {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.items, old.Value.([32]byte))
	}
	c.items[k] = cacheEntry{expires: now.Add(c.ttl), elem: c.order.PushFront(k)}
}
