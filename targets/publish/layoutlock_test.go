package publish_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/publish"
)

// layoutWriterEnv makes TestLayoutWriterProcess a writer: "<dir> <name> <rounds>".
const layoutWriterEnv = "SCRATCHKIT_TEST_LAYOUT_WRITER"

// TestLayoutWriterProcess is not a test: run by TestLayoutTwoProcesses as a separate process, it
// publishes a new image under one name into a layout, round after round, and prints the last
// digest.
func TestLayoutWriterProcess(t *testing.T) {
	args := strings.Fields(os.Getenv(layoutWriterEnv))
	if len(args) != 3 {
		return
	}
	rounds, _ := strconv.Atoi(args[2])
	p := publish.NewLayout(publish.LayoutOptions{Dir: args[0]})
	var last v1.Hash
	for i := range rounds {
		img, err := random.Image(4096, 2)
		if err != nil {
			t.Fatal(err)
		}
		// OCI media types: skopeo finds only those in a layout.
		img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
		res, err := p.Publish(context.Background(), publish.Artifact{Name: args[1], Image: img})
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		last = res.Digest
		// Right after the write, the layout names it and has its manifest, whatever the
		// other process is doing.
		b, err := os.ReadFile(filepath.Join(args[0], "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		im, err := v1.ParseIndexManifest(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var named bool
		for _, d := range im.Manifests {
			named = named || d.Annotations[publish.RefNameAnnotation] == args[1]+":latest" && d.Digest == res.Digest
		}
		if _, err := os.Stat(filepath.Join(args[0], "blobs", "sha256", res.Digest.Hex)); !named || err != nil {
			t.Errorf("round %d: just written, %s:latest at %s is named in index.json: %v; its manifest blob: %v", i, args[1], res.Digest, named, err)
		}
	}
	fmt.Printf("LAST %s\n", last)
}

// Two processes writing one layout at once: each keeps its entry, and every blob index.json
// names is there.
func TestLayoutTwoProcesses(t *testing.T) {
	skopeo := testenv.Tool(t, "skopeo")
	dir := filepath.Join(t.TempDir(), "layout")
	const rounds = 30
	type writer struct {
		name string
		cmd  *exec.Cmd
		out  bytes.Buffer
	}
	var ws []*writer
	for _, n := range []string{"alpha", "beta"} {
		w := &writer{name: n, cmd: exec.Command(os.Args[0], "-test.run=^TestLayoutWriterProcess$", "-test.count=1")}
		w.cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d", layoutWriterEnv, dir, n, rounds))
		w.cmd.Stdout, w.cmd.Stderr = &w.out, &w.out
		ws = append(ws, w)
	}
	for _, w := range ws {
		if err := w.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{}
	for _, w := range ws {
		if err := w.cmd.Wait(); err != nil {
			t.Fatalf("writer %s: %v\n%s", w.name, err, w.out.String())
		}
		_, d, ok := strings.Cut(w.out.String(), "LAST ")
		if !ok {
			t.Fatalf("writer %s printed no digest:\n%s", w.name, w.out.String())
		}
		want[w.name+":latest"] = strings.Fields(d)[0]
	}

	im := layoutIndex(t, dir)
	got := map[string]string{}
	for ref, d := range refs(im) {
		got[ref] = d.String()
	}
	for ref, d := range want {
		if got[ref] != d {
			t.Errorf("index.json names %s as %q; the last write of its process was %s (index: %v)", ref, got[ref], d, got)
		}
	}
	for _, d := range im.Manifests {
		m := filepath.Join(dir, "blobs", d.Digest.Algorithm, d.Digest.Hex)
		b, err := os.ReadFile(m)
		if err != nil {
			t.Errorf("index.json names %s, whose manifest blob is missing: %v", d.Digest, err)
			continue
		}
		man, err := v1.ParseManifest(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range append(man.Layers, man.Config) {
			if _, err := os.Stat(filepath.Join(dir, "blobs", l.Digest.Algorithm, l.Digest.Hex)); err != nil {
				t.Errorf("%s needs blob %s, which is missing", d.Annotations[publish.RefNameAnnotation], l.Digest)
			}
		}
	}
	if t.Failed() {
		return
	}
	for ref := range want {
		testenv.Run(t, skopeo, "inspect", "oci:"+dir+":"+ref)
	}
	// Nothing is left that no entry reaches: two images of 2 layers, their configs and manifests.
	if blobs, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256")); len(blobs) != 8 {
		t.Errorf("%d blobs in the layout, want 8", len(blobs))
	}
}
