package testenv

import (
	"testing"
	"time"
)

// Eventually polls cond until it returns nil, and fails the test with
// what and cond's last error if that takes longer than within. It is how a
// test waits for something another goroutine or process does, instead of
// sleeping.
func Eventually(t testing.TB, within time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, within, err)
		}
		<-tick.C
	}
}
