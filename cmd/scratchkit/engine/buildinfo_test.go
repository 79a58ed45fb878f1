package engine

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/binary"
)

// A run reads each binary's Go build info once: Verify reads it and records it, and Image (its
// platform check and the SBOM) and the vulnerability scan take it from the record.
func TestBuildInfoReadOncePerBinary(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hello")
	testenv.CopyFiles(t, filepath.Join(testenv.ModuleRoot(t), "examples", "hello"), dir, "go.mod", "main.go")
	testenv.WriteFile(t, filepath.Join(dir, "scratchkit.yaml"), "platforms: [linux/amd64, linux/arm64]\n")
	db := testenv.WriteVulnDB(t, t.TempDir(), time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC),
		testenv.Vuln{ID: "GO-2099-0101", Summary: "ListenAndServe", Module: "stdlib", Package: "net/http", Symbols: []string{"Server.ListenAndServe"}, Fixed: "1.99.0"})
	t.Setenv("SCRATCHKIT_VERIFY_VULNDB", db)
	t.Setenv("SCRATCHKIT_CACHE", t.TempDir())
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	var out bytes.Buffer
	e, err := New(Options{Dir: dir, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Build(ctx); err != nil {
		t.Fatalf("build: %v\n%s", err, out.String())
	}
	before := binary.BuildInfoReads()
	if err := e.Image(ctx); err != nil { // Verify, then Image with its SBOMs
		t.Fatalf("image: %v\n%s", err, out.String())
	}
	rec, err := e.Record()
	if err != nil {
		t.Fatal(err)
	}
	if n := binary.BuildInfoReads() - before; n != int64(len(rec.Binaries)) {
		t.Errorf("Verify and Image read build info %d times for %d binaries, want once each", n, len(rec.Binaries))
	}
	for _, b := range rec.Binaries {
		if !strings.Contains(b.BuildInfo, "path\texample.com/hello") || b.Vuln == nil || len(b.Vuln.Findings) == 0 {
			t.Errorf("%s: build info %q recorded, vuln %+v: want both", b.Platform, b.BuildInfo, b.Vuln)
		}
	}
	if len(rec.Images) == 0 || rec.Images[0].Manifests[0].SBOM == "" {
		t.Errorf("no SBOM was written: %+v\n%s", rec.Images, out.String())
	}
}
