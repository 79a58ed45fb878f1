package run

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// An image that would run as root without allow_root, or as a user that does not resolve, fails
// its user check and is not run: no image is loaded and no container created.
func TestSmokeRefusesRootImage(t *testing.T) {
	bin := helloBinary(t)
	root := imageOf(t, "hello", bin, "static", "0", "-addr", ":8080")
	ghost := handImage(t, v1.Config{Entrypoint: []string{"/ko-app/hello"}, User: "app"}, layer(t, binFile(t, bin, "hello", 0o755)))
	eachRuntime(t, func(t *testing.T, opts Options) {
		since := time.Now().Add(-time.Second)
		var mu sync.Mutex
		var ran []string
		logf := opts.Log
		opts.Log = func(f string, a ...any) {
			mu.Lock()
			defer mu.Unlock()
			if l := fmt.Sprintf(f, a...); strings.Contains(l, " probe: ") || strings.Contains(l, "loaded into docker") || strings.Contains(l, "unpacked into") {
				ran = append(ran, l)
			}
			logf(f, a...)
		}
		opts.Probes = Probes{HTTP: &HTTPProbe{Port: 8080, Path: "/healthz"}}
		for name, img := range map[string]v1.Image{"root": root, "unresolved user": ghost} {
			rep := smoke(t, "hello", img, opts)
			p := rep.Platforms[0]
			if !rep.Failed() || p.Ran || len(p.Probes) > 0 || !strings.Contains(p.Note, "not run: the user check failed") {
				t.Errorf("%s: failed=%v ran=%v probes=%d note=%q: want a failure, not run", name, rep.Failed(), p.Ran, len(p.Probes), p.Note)
			}
			if f, _ := p.Finding(CheckUser); f.Status != StatusFail {
				t.Errorf("%s: user check %s", name, f.Status)
			}
		}
		if len(ran) > 0 {
			t.Errorf("images refused by the user check were loaded or run: %q", ran)
		}
		if opts.Runtime == RuntimeDocker {
			out := testenv.Run(t, opts.Docker, "events", "--since", strconv.FormatInt(since.Unix(), 10), "--until", strconv.FormatInt(time.Now().Unix()+1, 10),
				"--filter", "type=container", "--filter", "event=create", "--filter", "label="+ownerLabel+"="+owner(), "--format", "{{.Actor.ID}}")
			if strings.TrimSpace(out) != "" {
				t.Errorf("docker created containers: %s", out)
			}
		}
	})
}
