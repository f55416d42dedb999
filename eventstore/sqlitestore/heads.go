package sqlitestore

// streamHead is what the writer needs to check an expected revision.
type streamHead struct {
	exists bool
	last   uint64 // revision of the stream's last event, when exists
}

// headCache remembers the heads of recently written streams so that most
// appends check their expected revision without a query. It holds at most
// 2×size entries whatever the number of streams: two generations of maps,
// the older one dropped wholesale when the newer fills (a cheap
// approximation of LRU). Only the writer goroutine uses it.
type headCache struct {
	size     int
	cur, old map[string]streamHead
}

func newHeadCache(size int) *headCache {
	return &headCache{size: size, cur: make(map[string]streamHead, size)}
}

func (c *headCache) get(stream string) (streamHead, bool) {
	if h, ok := c.cur[stream]; ok {
		return h, true
	}
	if h, ok := c.old[stream]; ok {
		c.put(stream, h) // still in use: promote it
		return h, true
	}
	return streamHead{}, false
}

func (c *headCache) put(stream string, h streamHead) {
	if _, ok := c.cur[stream]; !ok && len(c.cur) >= c.size {
		c.old, c.cur = c.cur, make(map[string]streamHead, c.size)
	}
	c.cur[stream] = h
}
