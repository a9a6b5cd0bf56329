package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartServeReportsAnExit: a binary that exits before it says where
// it listens fails at once, with its log, not after the 30 s wait.
func TestStartServeReportsAnExit(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "memberbind")
	script := "#!/bin/sh\necho 'MEMBERBIND_DATABASE_DSN is not set' >&2\nexit 1\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := startServe(context.Background(), bin, nil, filepath.Join(dir, "serve.log"))
	if err == nil {
		in.stop()
		t.Fatal("startServe of a binary that exits succeeded")
	}
	if !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "MEMBERBIND_DATABASE_DSN is not set") {
		t.Errorf("error %q does not say it exited, with its log", err)
	}
}
