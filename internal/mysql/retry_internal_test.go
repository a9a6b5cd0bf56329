package mysql

import (
	"context"
	"errors"
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"
)

// TestTxRetryPause: each pause is in the upper half of a doubling step,
// capped, so that colliding transactions spread out and none waits long.
func TestTxRetryPause(t *testing.T) {
	for n, step := range map[int]time.Duration{1: 5 * time.Millisecond, 2: 10 * time.Millisecond, 3: 20 * time.Millisecond, 6: 160 * time.Millisecond, 7: txRetryMax, 30: txRetryMax} {
		for _, r := range []float64{0, 0.5, 0.999999} {
			got := txRetryPause(n, func() float64 { return r })
			if got < step/2 || got > step {
				t.Errorf("pause before retry %d (random %v) = %s, want within [%s, %s]", n, r, got, step/2, step)
			}
		}
	}
}

// TestRetryTx: a lost race for locks is retried up to the bound and
// reported to onRetry; any other error is not; an ended context stops the
// retries.
func TestRetryTx(t *testing.T) {
	deadlock := &driver.MySQLError{Number: errDeadlock, Message: "Deadlock found when trying to get lock"}
	lockWait := &driver.MySQLError{Number: errLockWaitTimeout, Message: "Lock wait timeout exceeded"}
	other := errors.New("syntax")
	for _, c := range []struct {
		name       string
		errs       []error // what each attempt returns; past the end, nil
		attempts   int
		wantTries  int
		wantErr    error
		wantRetrys int
	}{
		{"success", nil, 6, 1, nil, 0},
		{"deadlock then success", []error{deadlock, lockWait}, 6, 3, nil, 2},
		{"other error", []error{other}, 6, 1, other, 0},
		{"deadlocks past the bound", []error{deadlock, deadlock, deadlock, deadlock}, 3, 3, deadlock, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			tries, retries := 0, 0
			err := retryTx(context.Background(), c.attempts, func(error) { retries++ }, func() error {
				tries++
				if tries <= len(c.errs) {
					return c.errs[tries-1]
				}
				return nil
			})
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) || tries != c.wantTries || retries != c.wantRetrys {
				t.Errorf("err %v after %d tries and %d retries; want %v, %d, %d", err, tries, retries, c.wantErr, c.wantTries, c.wantRetrys)
			}
		})
	}
	t.Run("context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		tries := 0
		err := retryTx(ctx, 1000, func(error) { cancel() }, func() error { tries++; return deadlock })
		if tries != 1 || !errors.Is(err, deadlock) || !errors.Is(err, context.Canceled) {
			t.Errorf("err %v after %d tries; want the deadlock and the cancellation after one", err, tries)
		}
	})
}
