package image

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/internal/atomicfile"
)

var updateDocs = flag.Bool("update", false, "rewrite the generated section of docs/bases.md")

const (
	basesDoc   = "../../docs/bases.md"
	beginMark  = "<!-- BEGIN GENERATED: static base; `go test ./targets/image -run TestBasesDoc -update` rewrites it -->"
	endMark    = "<!-- END GENERATED: static base -->"
	zoneHeader = "| path | type | mode | owner | size |\n|---|---|---|---|---:|\n"
)

// staticBaseSection renders the measured part of docs/bases.md from the static base itself.
func staticBaseSection(t *testing.T) string {
	t.Helper()
	c, err := loadStatic(context.Background(), "")
	must(t, err)
	layer, err := c.baseLayer(nil)
	must(t, err)
	gz, err := layer.Size()
	must(t, err)
	d, err := layer.Digest()
	must(t, err)

	var dirs, files, links int
	var fileBytes, zoneBytes int64
	var zoneDirs int
	for _, f := range c.files {
		switch f.Type {
		case TypeDir:
			dirs++
			if strings.HasPrefix(f.Path, ZoneInfoPath+"/") {
				zoneDirs++
			}
		case TypeFile:
			files++
			fileBytes += f.Size
			if strings.HasPrefix(f.Path, ZoneInfoPath+"/") {
				zoneBytes += f.Size
			}
		case TypeSymlink:
			links++
		}
	}
	row := func(b *strings.Builder, f FileInfo) {
		size := ""
		switch f.Type {
		case TypeFile:
			size = fmt.Sprint(f.Size)
		case TypeSymlink:
			size = "→ " + f.Target
		}
		fmt.Fprintf(b, "| `%s` | %s | %04o | %d:%d | %s |\n", f.Path, f.Type, f.Mode, f.UID, f.GID, size)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Measured here by `TestBasesDoc` from the base itself, built with %s (zone data) and\n", c.goVersion)
	fmt.Fprintf(&b, "`%s` %s (CA roots):\n\n", caModule, c.caVersion)
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| entries | %d: %d directories, %d files, %d symbolic link |\n", len(c.files), dirs, files, links)
	fmt.Fprintf(&b, "| bytes in files | %d |\n", fileBytes)
	tb, err := writeTar(c.entries, baseEpoch)
	must(t, err)
	fmt.Fprintf(&b, "| layer, uncompressed tar | %d bytes |\n", len(tb))
	fmt.Fprintf(&b, "| layer, gzip (level %d), what a pull transfers | %d bytes |\n", baseGzip.level, gz)
	fmt.Fprintf(&b, "| layer digest | `%s` |\n", d)
	fmt.Fprintf(&b, "| CA roots in `%s` | %d |\n", CACertsPath, c.roots)
	excluded := "none"
	if len(c.excluded) > 0 {
		excluded = strings.Join(c.excluded, ", ")
	}
	fmt.Fprintf(&b, "| CA roots left out (constrained) | %d: %s |\n", len(c.excluded), excluded)
	fmt.Fprintf(&b, "| zone files under `%s` | %d (%d bytes) in %d directories |\n\n", ZoneInfoPath, c.zones, zoneBytes, zoneDirs)

	b.WriteString(zoneHeader)
	for _, f := range c.files {
		if strings.HasPrefix(f.Path, ZoneInfoPath+"/") {
			continue
		}
		if f.Path == ZoneInfoPath {
			fmt.Fprintf(&b, "| `%s` | %s | %04o | %d:%d | %d zone files, %d bytes (listed below) |\n", f.Path, f.Type, f.Mode, f.UID, f.GID, c.zones, zoneBytes)
			continue
		}
		row(&b, f)
	}
	fmt.Fprintf(&b, "\n<details><summary>Every entry under <code>%s</code> (%d)</summary>\n\n", ZoneInfoPath, c.zones+zoneDirs)
	b.WriteString(zoneHeader)
	for _, f := range c.files {
		if strings.HasPrefix(f.Path, ZoneInfoPath+"/") {
			row(&b, f)
		}
	}
	b.WriteString("\n</details>\n")
	return b.String()
}

// TestBasesDoc fails when docs/bases.md no longer describes the static base this code builds.
func TestBasesDoc(t *testing.T) {
	doc, err := os.ReadFile(basesDoc)
	must(t, err)
	start := bytes.Index(doc, []byte(beginMark))
	end := bytes.Index(doc, []byte(endMark))
	if start < 0 || end < start {
		t.Fatalf("%s lacks the markers %q and %q", basesDoc, beginMark, endMark)
	}
	want := "\n" + staticBaseSection(t) + "\n"
	got := string(doc[start+len(beginMark) : end])
	if got == want {
		return
	}
	if !*updateDocs {
		t.Fatalf("%s describes another static base than this code builds (Go or CA bundle upgraded?); run\n\tgo test ./targets/image -run TestBasesDoc -update\nand review the diff", basesDoc)
	}
	out := append([]byte(nil), doc[:start+len(beginMark)]...)
	out = append(out, want...)
	out = append(out, doc[end:]...)
	must(t, atomicfile.WriteFile(basesDoc, out, 0o644))
	t.Logf("rewrote the generated section of %s", basesDoc)
}
