package emulator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	testWait = 10 * time.Second
	testTick = 2 * time.Millisecond
)

// A pool serves waiters in arrival order and never more than its size at once.
func TestPoolQueuesInArrivalOrder(t *testing.T) {
	p := newPool("test", 1, 0)
	ok, _ := p.acquire(nil)
	require.True(t, ok)

	order := make(chan int, 3)
	done := make(chan struct{})
	for i := range 3 {
		go func() {
			ok, _ := p.acquire(nil)
			if ok {
				order <- i // recorded while holding the only thread
				p.release(1)
			}
			done <- struct{}{}
		}()
		// The next waiter arrives only once this one is queued.
		require.Eventually(t, func() bool { return p.stats().Queued == i+1 }, testWait, testTick)
	}
	require.Equal(t, 1, p.stats().Busy)
	p.release(1)
	for range 3 {
		<-done
	}
	close(order)
	var got []int
	for i := range order {
		got = append(got, i)
	}
	require.Equal(t, []int{0, 1, 2}, got)
	s := p.stats()
	require.Equal(t, 1, s.MaxBusy, "never more than one thread busy")
	require.Equal(t, 3, s.MaxQueued)
	require.Equal(t, 4, s.MaxInFlight)
	require.Equal(t, int64(4), s.Served)
	require.Zero(t, s.Busy)
}

// A waiter that gives up leaves the queue; the thread goes to the next one.
func TestPoolWaiterGivesUp(t *testing.T) {
	p := newPool("test", 1, 0)
	ok, _ := p.acquire(nil)
	require.True(t, ok)

	gaveUp := make(chan struct{})
	res := make(chan bool, 1)
	go func() {
		ok, _ := p.acquire(gaveUp)
		res <- ok
	}()
	require.Eventually(t, func() bool { return p.stats().Queued == 1 }, testWait, testTick)
	close(gaveUp)
	require.False(t, <-res)
	require.Zero(t, p.stats().Queued)

	p.release(1)
	ok, _ = p.acquire(nil)
	require.True(t, ok, "the thread is free again")
	require.Equal(t, 1, p.stats().Busy)
}

// With a queue limit, a request that finds the queue full is refused at once.
func TestPoolQueueLimitRejects(t *testing.T) {
	p := newPool("test", 1, 1)
	ok, _ := p.acquire(nil)
	require.True(t, ok)
	res := make(chan bool, 1)
	go func() {
		ok, _ := p.acquire(nil)
		res <- ok
		if ok {
			p.release(1)
		}
	}()
	require.Eventually(t, func() bool { return p.stats().Queued == 1 }, testWait, testTick)
	ok, rejected := p.acquire(nil)
	require.False(t, ok)
	require.True(t, rejected)
	require.Equal(t, int64(1), p.stats().Rejected)
	p.release(1)
	require.True(t, <-res, "the queued request is still served")
}

// An unbounded pool never queues.
func TestPoolUnbounded(t *testing.T) {
	p := newPool("test", 0, 1)
	for range 50 {
		ok, _ := p.acquire(nil)
		require.True(t, ok)
	}
	s := p.stats()
	require.Equal(t, 50, s.Busy)
	require.Zero(t, s.MaxQueued)
}
