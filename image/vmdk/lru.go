package vmdk

import "container/list"

// lru is a least-recently-used cache of at most max values keyed by
// int64. It is not safe for concurrent use; Disk guards it with its mutex.
type lru[V any] struct {
	max int
	l   *list.List // of *lruEntry[V], most recent first
	m   map[int64]*list.Element
}

type lruEntry[V any] struct {
	k int64
	v V
}

func newLRU[V any](max int) *lru[V] {
	return &lru[V]{max: max, l: list.New(), m: make(map[int64]*list.Element)}
}

func (c *lru[V]) get(k int64) (V, bool) {
	if e, ok := c.m[k]; ok {
		c.l.MoveToFront(e)
		return e.Value.(*lruEntry[V]).v, true
	}
	var zero V
	return zero, false
}

func (c *lru[V]) put(k int64, v V) {
	if e, ok := c.m[k]; ok {
		e.Value.(*lruEntry[V]).v = v
		c.l.MoveToFront(e)
		return
	}
	c.m[k] = c.l.PushFront(&lruEntry[V]{k, v})
	for c.l.Len() > c.max {
		e := c.l.Back()
		c.l.Remove(e)
		delete(c.m, e.Value.(*lruEntry[V]).k)
	}
}
