package airbytespec

import (
	"sync"
	"sync/atomic"

	"github.com/pb33f/libopenapi-validator/cache"
)

// lazyCache is a schema cache that compiles on first use instead of up front.
//
// libopenapi-validator warms its cache by compiling every schema of every operation
// when a validator is built; for config-api.yaml that is about ten seconds, spent on
// hundreds of operations the project never calls. While warming is set the cache
// claims to hold everything, so the warm-up compiles nothing; afterwards it behaves
// as an ordinary concurrent cache and each schema is compiled once, when first needed.
type lazyCache struct {
	warming atomic.Bool
	m       sync.Map // uint64 -> *cache.SchemaCacheEntry
}

var _ cache.SchemaCache = (*lazyCache)(nil)

func newLazyCache() *lazyCache {
	c := &lazyCache{}
	c.warming.Store(true)
	return c
}

func (c *lazyCache) Load(key uint64) (*cache.SchemaCacheEntry, bool) {
	if c.warming.Load() {
		return nil, true
	}
	v, ok := c.m.Load(key)
	if !ok {
		return nil, false
	}
	return v.(*cache.SchemaCacheEntry), true
}

func (c *lazyCache) Store(key uint64, value *cache.SchemaCacheEntry) {
	if c.warming.Load() || value == nil {
		return
	}
	c.m.Store(key, value)
}

func (c *lazyCache) Range(f func(key uint64, value *cache.SchemaCacheEntry) bool) {
	c.m.Range(func(k, v any) bool { return f(k.(uint64), v.(*cache.SchemaCacheEntry)) })
}
