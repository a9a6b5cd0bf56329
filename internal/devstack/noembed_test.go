//go:build noembed

package devstack

import (
	"context"
	"errors"
	"testing"
)

func TestNotBuilt(t *testing.T) {
	if Embedded {
		t.Error("Embedded is true")
	}
	if _, err := StartDatabase(context.Background(), "memberbind"); !errors.Is(err, ErrNotBuilt) {
		t.Errorf("StartDatabase: %v, want ErrNotBuilt", err)
	}
	if _, err := StartMailServer(context.Background()); !errors.Is(err, ErrNotBuilt) {
		t.Errorf("StartMailServer: %v, want ErrNotBuilt", err)
	}
}
