package vmdk

import (
	"container/list"
	"sync"
)

// lru is a least-recently-used cache holding at most max bytes of values.
// It is not safe for concurrent use; cache guards it with its mutex.
type lru[K comparable, V any] struct {
	max, used int64
	l         *list.List // of *lruEntry, most recent first
	m         map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	k    K
	v    V
	size int64
}

func newLRU[K comparable, V any](max int64) *lru[K, V] {
	return &lru[K, V]{max: max, l: list.New(), m: make(map[K]*list.Element)}
}

func (c *lru[K, V]) get(k K) (V, bool) {
	if e, ok := c.m[k]; ok {
		c.l.MoveToFront(e)
		return e.Value.(*lruEntry[K, V]).v, true
	}
	var zero V
	return zero, false
}

// put adds v, which holds size bytes, evicting the least recently used
// values beyond max (the newest value always stays).
func (c *lru[K, V]) put(k K, v V, size int64) {
	if e, ok := c.m[k]; ok {
		c.used -= e.Value.(*lruEntry[K, V]).size
		c.l.Remove(e)
	}
	c.m[k] = c.l.PushFront(&lruEntry[K, V]{k, v, size})
	c.used += size
	for c.used > c.max && c.l.Len() > 1 {
		e := c.l.Back()
		c.l.Remove(e)
		x := e.Value.(*lruEntry[K, V])
		delete(c.m, x.k)
		c.used -= x.size
	}
}

// cacheKey names a grain table (by GD index) or a decompressed grain (by
// file offset) of one sparse extent.
type cacheKey struct {
	sp *sparse
	i  int64
}

// cache holds the grain tables and decompressed grains of all the sparse
// extents of one Disk, so its memory is bounded per Disk however many
// extents it has.
type cache struct {
	mu     sync.Mutex
	gts    *lru[cacheKey, *gtable]
	grains *lru[cacheKey, []byte]
}

func newCache() *cache {
	return &cache{gts: newLRU[cacheKey, *gtable](gtCacheBytes), grains: newLRU[cacheKey, []byte](grainCacheBytes)}
}
