package run

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/imagefs"
	"github.com/scratchkit/scratchkit/targets/imagefs/imagetest"
	"github.com/scratchkit/scratchkit/targets/lint"
)

// A smoke run removes what runs whose process died left behind — containers, image tags, runc
// containers and bundles — and leaves a live process's, and those of other pid namespaces, alone.
func TestSmokeSweepsLeftovers(t *testing.T) {
	hello := imagetest.Of(t, "hello", helloBinary(t), "static", "", "-addr", ":8080")
	pitfall := imagetest.Of(t, "pitfall", pitfallBinary(t), "static", "")
	tokens := leftoverTokens(t)
	eachRuntime(t, func(t *testing.T, opts Options) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		type leftover struct{ container, image, bundle string }
		made := map[string]leftover{}
		switch opts.Runtime {
		case RuntimeDocker:
			dg, err := hello.Digest()
			if err != nil {
				t.Fatal(err)
			}
			for kind, tok := range tokens {
				tag := fmt.Sprintf("scratchkit-smoke/leftover:%s-%s-%s", dg.Hex[:12], tok, randHex())
				ref, err := name.NewTag(tag)
				if err != nil {
					t.Fatal(err)
				}
				eng := &dockerEngine{cli: opts.Docker, opts: opts}
				if err := eng.loadImage(ctx, ref, hello); err != nil {
					t.Fatal(err)
				}
				id := "scratchkit-smoke-" + tok + "-leftover-" + randHex()
				testenv.Run(t, opts.Docker, "run", "--detach", "--name", id, "--label", ownerLabel+"="+tok, "--network", "none", tag)
				made[kind] = leftover{container: id, image: tag}
				defer func() {
					exec.Command(opts.Docker, "rm", "--force", id).Run()
					exec.Command(opts.Docker, "rmi", tag).Run()
				}()
			}
		case RuntimeRunc:
			o, err := opts.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			info, err := lint.Analyze(ctx, hello, imagefs.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			eng := &runcEngine{cli: o.Runc, opts: o}
			for kind, tok := range tokens {
				dir, err := os.MkdirTemp(o.TempDir, "scratchkit-smoke-"+tok+"-leftover-")
				if err != nil {
					t.Fatal(err)
				}
				rootfs := filepath.Join(dir, "rootfs")
				if err := os.Mkdir(rootfs, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := imagefs.Unpack(ctx, hello, rootfs, imagefs.Limits{}); err != nil {
					t.Fatal(err)
				}
				l := &runcLoaded{engine: eng, dir: dir, rootfs: rootfs, info: info}
				id := "scratchkit-smoke-" + tok + "-leftover-" + randHex()
				c, err := l.start(ctx, runSpec{id: id})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.pid(ctx); err != nil {
					t.Fatal(err)
				}
				// The owner was killed with SIGKILL: `runc run` goes with it, the container stays.
				rc := c.(*runcContainer)
				if err := rc.cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				made[kind] = leftover{container: id, bundle: dir}
				defer func() {
					exec.Command(o.Runc, "delete", "--force", id).Run()
					os.RemoveAll(dir)
				}()
			}
			// A bundle directory alone, its container long gone.
			dir, err := os.MkdirTemp(o.TempDir, "scratchkit-smoke-"+tokens["dead"]+"-orphan-")
			if err != nil {
				t.Fatal(err)
			}
			made["dead orphan bundle"] = leftover{bundle: dir}
		}

		opts.Probes = []Probe{{Exit: &ExitProbe{Args: []string{"-alloc-mb", "1"}}}}
		wantProbe(t, ranPlatform(t, smoke(t, "pitfall", pitfall, opts), opts.Runtime), "exit", true)

		for kind, l := range made {
			gone := strings.HasPrefix(kind, "dead") || strings.HasPrefix(kind, "reused")
			if l.container != "" {
				var there bool
				if opts.Runtime == RuntimeDocker {
					_, err := testenv.Output(opts.Docker, "inspect", l.container)
					there = err == nil
				} else {
					_, err := testenv.Output(opts.Runc, "state", l.container)
					there = err == nil
				}
				if there == gone {
					t.Errorf("%s owner's container %s: there=%v, want %v", kind, l.container, there, !gone)
				}
			}
			if l.image != "" {
				_, err := testenv.Output(opts.Docker, "image", "inspect", l.image)
				if there := err == nil; there == gone {
					t.Errorf("%s owner's image %s: there=%v, want %v", kind, l.image, there, !gone)
				}
			}
			if l.bundle != "" {
				_, err := os.Stat(l.bundle)
				if there := err == nil; there == gone {
					t.Errorf("%s owner's bundle %s: there=%v, want %v", kind, l.bundle, there, !gone)
				}
			}
		}
	})
}

// leftoverTokens are owner tokens of a dead process, of a live one, of a live pid whose process
// started at another time (the owner died and its pid was reused), and of another pid namespace.
func leftoverTokens(t *testing.T) map[string]string {
	t.Helper()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	live := exec.Command("sleep", "600")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Process.Kill(); live.Wait() })
	lt, err := tokenOf(live.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	reused := lt
	reused.start++
	dead := ownerToken{pid: gone.Process.Pid, start: 1, ns: lt.ns}
	other := dead
	if other.ns = "00000000"; lt.ns == other.ns {
		other.ns = "11111111"
	}
	return map[string]string{"dead": dead.String(), "live": lt.String(), "reused pid": reused.String(), "other namespace": other.String()}
}

// Owner tokens tell a live owner from a dead one, across pid reuse, and judge only their own
// pid namespace's.
func TestOwnerToken(t *testing.T) {
	self, ok := parseOwner(owner())
	if !ok || self.pid != os.Getpid() {
		t.Fatalf("owner() = %q: want this process's token", owner())
	}
	tokens := leftoverTokens(t)
	for kind, dead := range map[string]bool{"dead": true, "live": false, "reused pid": true, "other namespace": false} {
		if got := ownerDead(tokens[kind]); got != dead {
			t.Errorf("%s owner %s: dead=%v, want %v", kind, tokens[kind], got, dead)
		}
	}
	if ownerDead(owner()) {
		t.Error("this process is dead")
	}
	for _, s := range []string{"", "123", strconv.Itoa(os.Getpid()), "x-1-deadbeef", "0-1-" + self.ns, "1-2-DEADBEEF"} {
		if ownerDead(s) {
			t.Errorf("%q judged dead: only well-formed tokens of this namespace can be", s)
		}
	}
}
