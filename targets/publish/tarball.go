package publish

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/scratchkit/scratchkit/targets/platform"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/scratchkit/scratchkit/internal/atomicfile"
)

// TarballOptions configures NewTarball.
type TarballOptions struct {
	// Dir receives one <name>.tar per image (a "/" in the name becomes "_"). Default "dist".
	Dir string
	// Repo names the images inside the tarball, <Repo>/<name>:<tag>, which is what `docker
	// load` creates. Default "ko.local", as ko names images it side-loads.
	Repo string
	// Tags recorded in the tarball. Default ["latest"].
	Tags []string
	// Platform is the platform written for a multi-platform index: docker's tarball format
	// holds single-platform images. Default platform.Host().OCI(); when the index lacks it, its first
	// image is written and Result.Note says so.
	Platform *v1.Platform
}

// TarballPublisher writes docker-loadable tarballs (`docker load -i dist/<name>.tar`).
type TarballPublisher struct{ o TarballOptions }

// NewTarball returns a tarball publisher.
func NewTarball(o TarballOptions) *TarballPublisher {
	if o.Dir == "" {
		o.Dir = "dist"
	}
	if o.Repo == "" {
		o.Repo = LocalDomain
	}
	o.Repo = strings.TrimSuffix(o.Repo, "/")
	return &TarballPublisher{o: o}
}

// Name implements Publisher.
func (t *TarballPublisher) Name() string { return Tarball }

// File is the tarball path for an image name.
func (t *TarballPublisher) File(imageName string) string {
	return filepath.Join(t.o.Dir, strings.ReplaceAll(strings.ToLower(imageName), "/", "_")+".tar")
}

// Publish writes a's image (for an index, the image for TarballOptions.Platform) to
// <Dir>/<name>.tar, atomically: an existing tarball is replaced only by a complete one.
func (t *TarballPublisher) Publish(ctx context.Context, a Artifact) (*Result, error) {
	n, err := ImageName(a.Name)
	if err != nil {
		return nil, err
	}
	want := platform.Host().OCI()
	if t.o.Platform != nil {
		want = *t.o.Platform
	}
	img, plat, note, err := Single(a, want)
	if err != nil {
		return nil, err
	}
	f, err := inspect(Artifact{Name: n, Image: img})
	if err != nil {
		return nil, err
	}
	refs := map[name.Reference]v1.Image{}
	var tags []string
	for _, tag := range a.tags(t.o.Tags) {
		ref, err := name.NewTag(t.o.Repo + "/" + n + ":" + tag)
		if err != nil {
			return nil, fmt.Errorf("tarball for %s: tag %q under %q: %w", n, tag, t.o.Repo, err)
		}
		refs[ref] = img
		tags = append(tags, ref.String())
	}
	file := t.File(n)
	if err := writeAtomically(ctx, file, func(w io.Writer) error { return tarball.MultiRefWrite(refs, w) }); err != nil {
		return nil, fmt.Errorf("tarball for %s: %w", n, err)
	}
	res := &Result{
		Name: n, Destination: Tarball, Ref: file, Path: file, Digest: f.digest,
		Tags: tags, Note: note, Size: f.size,
	}
	if !plat.IsZero() {
		res.Platforms = []platform.Platform{plat}
	}
	return res, nil
}

// writeAtomically writes file through a temporary file in its directory and renames it into
// place only when write and sync succeeded.
func writeAtomically(ctx context.Context, file string, write func(io.Writer) error) error {
	return atomicfile.Write(file, 0o644, func(w io.Writer) error {
		bw := bufio.NewWriterSize(ctxWriter{ctx, w}, 1<<20)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// ctxWriter stops a long write when the context is cancelled.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
