package gateway

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRegisteredIsBounded: ids are kept until the set is full, then it
// starts afresh with the newest one.
func TestRegisteredIsBounded(t *testing.T) {
	r := &registered{max: 3}
	require.False(t, r.has("a"))
	for i := range 3 {
		r.add(strconv.Itoa(i))
	}
	for i := range 3 {
		require.True(t, r.has(strconv.Itoa(i)))
	}
	r.add("3")
	require.True(t, r.has("3"))
	require.False(t, r.has("0"), "a full set is forgotten")
}
