package engine

import (
	"testing"

	"github.com/scratchkit/scratchkit/targets/image"
)

// dev.compression: auto stores what stays on this machine and compresses what leaves it.
func TestDevCompression(t *testing.T) {
	for _, c := range []struct {
		setting, mode, repo string
		want                image.Compression
	}{
		{"auto", DevDocker, "", image.CompressNone},
		{"auto", DevPush, "127.0.0.1:5000/dev", image.CompressNone},
		{"auto", DevResolve, "localhost:5000", image.CompressNone},
		{"auto", DevPush, "[::1]:5000/team", image.CompressNone},
		{"auto", DevPush, "ghcr.io/acme", image.CompressGzip},
		{"auto", DevPush, "registry.example.com:5000/dev", image.CompressGzip},
		{"gzip", DevDocker, "", image.CompressGzip},
		{"none", DevPush, "ghcr.io/acme", image.CompressNone},
	} {
		if got := devCompression(c.setting, c.mode, c.repo); got != c.want {
			t.Errorf("devCompression(%q, %q, %q) = %q, want %q", c.setting, c.mode, c.repo, got, c.want)
		}
	}
}
