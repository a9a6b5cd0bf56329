package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is the release this binary was built as; a release build sets
// it with -ldflags "-X main.version=v1.2.3". Empty: the module's version
// from the build information ("(devel)" for a build from a checkout).
var version string

// buildVersion is the version this binary reports (memberbind version,
// traces' service.version).
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(unknown)"
}

// printVersion is `memberbind version`: the version, then what the build
// information knows: the commit, its time and whether the tree had
// changes (absent from builds with -buildvcs=false, as .ci/run makes
// them), the Go version, the platform and the build tags.
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "memberbind %s\n", buildVersion())
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintf(w, "  go:       %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	for _, f := range []struct{ label, key string }{
		{"revision", "vcs.revision"},
		{"time", "vcs.time"},
		{"modified", "vcs.modified"},
		{"tags", "-tags"},
	} {
		if v := settings[f.key]; v != "" {
			fmt.Fprintf(w, "  %-9s %s\n", f.label+":", v)
		}
	}
	fmt.Fprintf(w, "  %-9s %s %s/%s\n", "go:", bi.GoVersion, settings["GOOS"], settings["GOARCH"])
}
