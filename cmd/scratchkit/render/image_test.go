package render_test

import (
	"bytes"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/render"
	"github.com/scratchkit/scratchkit/targets/publish"
)

func TestPushProgress(t *testing.T) {
	var buf bytes.Buffer
	w := render.PushProgress(&buf)
	h := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	w(publish.Event{Image: "hello", Kind: publish.BlobUploaded, Digest: h, Size: 3 << 20})
	w(publish.Event{Image: "hello", Kind: publish.BlobSkipped, Digest: h, Size: 10})
	for i := int64(0); i <= 100; i++ {
		w(publish.Event{Image: "hello", Kind: publish.Bytes, Complete: i, Total: 100})
	}
	w(publish.Event{Image: "hello", Kind: publish.Pushed, Ref: "r/hello@sha256:x", Uploaded: 1, Skipped: 1, Sent: 3 << 20})
	out := buf.String()
	for _, s := range []string{"hello: uploaded sha256:abababababab (3.0 MiB)", "hello: exists   sha256:abababababab (10 B)",
		"hello: 100 B / 100 B", "pushed r/hello@sha256:x (1 blobs uploaded, 1 already there, 3.0 MiB sent)"} {
		if !strings.Contains(out, s) {
			t.Errorf("progress lacks %q:\n%s", s, out)
		}
	}
	if n := strings.Count(out, " / 100 B"); n != 11 {
		t.Errorf("%d byte-progress lines for 101 updates, want 11 (one per tenth)", n)
	}
}
