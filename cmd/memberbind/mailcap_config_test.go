package main

import (
	"strings"
	"testing"
)

// TestMailCapsConfig: MEMBERBIND_MAILS_PER_RECIPIENT_HOUR (10) and
// MEMBERBIND_MAILS_PER_ORG_HOUR (1000) set the activation mail caps; a bad
// value is named in the error with its variable.
func TestMailCapsConfig(t *testing.T) {
	cfg, err := loadConfig(env(map[string]string{}))
	if err != nil || cfg.Policy.MailsPerRecipientHour != 10 || cfg.Policy.MailsPerOrgHour != 1000 {
		t.Errorf("default mail caps %+v, %v", cfg.Policy, err)
	}
	cfg, err = loadConfig(env(map[string]string{envMailsPerRcpt: "3", envMailsPerOrg: " 50 "}))
	if err != nil || cfg.Policy.MailsPerRecipientHour != 3 || cfg.Policy.MailsPerOrgHour != 50 {
		t.Errorf("set mail caps %+v, %v", cfg.Policy, err)
	}
	if _, err := loadConfig(env(map[string]string{envMailsPerRcpt: "1001"})); err == nil || !strings.Contains(err.Error(), envMailsPerRcpt) {
		t.Errorf("%s=1001: %v, want an error naming the variable", envMailsPerRcpt, err)
	}
	for _, name := range []string{envMailsPerRcpt, envMailsPerOrg} {
		for _, bad := range []string{"0", "-1", "many", "1.5"} {
			_, err := loadConfig(env(map[string]string{name: bad}))
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), `"`+bad+`"`) {
				t.Errorf("%s=%s: %v, want an error naming the variable and the value", name, bad, err)
			}
		}
	}
}
