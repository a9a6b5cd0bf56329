package main

import (
	"strings"
	"testing"
	"time"
)

// TestSignInTTLConfig: MEMBERBIND_SIGNIN_TTL sets a sign-in link's life,
// 15 minutes unless set; a bad value is named in the error.
func TestSignInTTLConfig(t *testing.T) {
	cfg, err := loadConfig(env(map[string]string{}))
	if err != nil || cfg.SignIn.LinkTTL != 15*time.Minute || cfg.SignIn.IdleTimeout != 30*time.Minute || cfg.SignIn.AbsoluteTimeout != 12*time.Hour {
		t.Errorf("default sign-in policy %+v, %v", cfg.SignIn, err)
	}
	if cfg, err = loadConfig(env(map[string]string{envSignInTTL: "5m"})); err != nil || cfg.SignIn.LinkTTL != 5*time.Minute {
		t.Errorf("%s=5m: %+v, %v", envSignInTTL, cfg.SignIn, err)
	}
	for _, bad := range []string{"soon", "-1m", "0"} {
		if _, err := loadConfig(env(map[string]string{envSignInTTL: bad})); err == nil || !strings.Contains(err.Error(), envSignInTTL) {
			t.Errorf("%s=%s: %v, want an error naming it", envSignInTTL, bad, err)
		}
	}
}
