package load

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/targets/config"
	"go.yaml.in/yaml/v3"
)

// aliasBomb is a configuration of n builds, each an alias of the first, whose flags alias a list
// of n flags: n*n values from about 9n bytes.
func aliasBomb(n int) string {
	var b strings.Builder
	b.WriteString("builds:\n  - &b\n    main: ./x\n    flags: &f [")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("a")
	}
	b.WriteString("]\n")
	for range n {
		b.WriteString("  - *b\n")
	}
	return b.String()
}

// A small file whose aliases expand to millions of values fails at once, naming the file, the
// line of the alias and the limit, whether it is scratchkit.yaml or .ko.yaml.
func TestAliasBomb(t *testing.T) {
	bomb := aliasBomb(1500) // 2.25 million values from 12KB
	if len(bomb) > 16<<10 {
		t.Fatalf("the bomb is %d bytes", len(bomb))
	}
	for _, file := range []string{"scratchkit.yaml", ".ko.yaml"} {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, file, bomb)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := load(t, dir, nil, nil)
			runtime.ReadMemStats(&after)
			// The first alias whose expansion passes the limit is builds[N], N*1500 > MaxAliasNodes.
			n := MaxAliasNodes / 1501
			wantErr(t, err, fmt.Sprintf("%s:%d: builds[%d]: the alias *b expands", file, 5+n, 1+n), fmt.Sprintf("more than %d values", MaxAliasNodes), "write the values out")
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
				t.Errorf("loading a 12KB alias bomb allocated %dMiB", grew>>20)
			}
		})
	}
}

// The walk stops at the budget: it visits the document once, and at most MaxAliasNodes values
// again through aliases.
func TestAliasBudget(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(aliasBomb(1500)), &doc); err != nil {
		t.Fatal(err)
	}
	c := &keyChecker{file: "scratchkit.yaml", origins: map[string]string{}}
	c.check(doc.Content[0], reflect.TypeOf(config.Config{}), "")
	if c.bomb == nil || c.expanded != MaxAliasNodes+1 {
		t.Errorf("expanded %d values through aliases (limit %d), error %v", c.expanded, MaxAliasNodes, c.bomb)
	}
	if len(c.origins) > MaxAliasNodes+1600 {
		t.Errorf("recorded %d key paths", len(c.origins))
	}
}

// Aliases within the limit work as YAML says: each use is the anchored value, and its lines are
// the anchor's.
func TestAliasesWithinLimit(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "scratchkit.yaml", `builds:
  - name: a
    main: ./a
    flags: &flags [-race, -v]
  - name: b
    main: ./b
    flags: *flags
`)
	r := mustLoad(t, dir, nil, nil)
	if got := strings.Join(r.Builds[1].Flags, " "); got != "-race -v" {
		t.Errorf("builds[1].flags = %q", got)
	}
	if w := r.Where("builds[1].flags[1]"); w != "scratchkit.yaml:4" {
		t.Errorf("Where(builds[1].flags[1]) = %q, want the anchor's line", w)
	}
}
