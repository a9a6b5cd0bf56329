// Package options fills in the zero values of a package's Options struct,
// where zero (or less) means "take the default".
package options

import "time"

// Default sets *v to def when *v is zero or negative.
func Default[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
