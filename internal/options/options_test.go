package options

import (
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, 7}, {-1, 7}, {1, 1}, {9, 9}} {
		v := c.in
		Default(&v, 7)
		if v != c.want {
			t.Errorf("Default(%d, 7) = %d, want %d", c.in, v, c.want)
		}
	}
	d := time.Duration(0)
	Default(&d, time.Minute)
	if d != time.Minute {
		t.Errorf("Default(0, 1m) = %s", d)
	}
}
