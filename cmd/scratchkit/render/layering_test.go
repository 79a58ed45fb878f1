package render_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The engine packages under targets/ return data; printing for a person happens here and in
// cmd/scratchkit/ui. None of them may come to depend on a renderer or on terminal colour again.
func TestEnginesDoNotRender(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "github.com/scratchkit/scratchkit/targets/...")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	renderers := []string{"github.com/fatih/color", "github.com/scratchkit/scratchkit/cmd/scratchkit/ui", "github.com/scratchkit/scratchkit/cmd/scratchkit/render"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(pkg, "github.com/scratchkit/scratchkit/targets") {
			continue
		}
		for _, dep := range strings.Fields(deps) {
			for _, r := range renderers {
				if dep == r {
					t.Errorf("%s depends on %s: engines return data, cmd/scratchkit/engine renders it", pkg, r)
				}
			}
		}
	}
}
