package main

import (
	"testing"

	"memberbind/internal/landing"
	"memberbind/internal/signin"
)

// TestLandingLinksToSignIn: the activation pages link to the sign-in page
// that serve mounts; the two packages name the path each on its own.
func TestLandingLinksToSignIn(t *testing.T) {
	if landing.SignInPath != signin.Path {
		t.Errorf("the activation pages link to %q, the sign-in page is at %q", landing.SignInPath, signin.Path)
	}
}
