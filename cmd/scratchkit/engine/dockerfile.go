package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/scratchkit/scratchkit/internal/atomicfile"
	"github.com/scratchkit/scratchkit/internal/regtransport"
	"github.com/scratchkit/scratchkit/internal/secrets"
	"github.com/scratchkit/scratchkit/targets/dockerfile"
	"github.com/scratchkit/scratchkit/targets/image"
	"github.com/scratchkit/scratchkit/targets/sign/keyfile"
)

// Dockerfile writes the multi-stage Dockerfile equivalent of the configured build.
func (e *Run) Dockerfile(ctx context.Context) error {
	return e.Stage(ctx, StageDockerfile, e.dockerfile)
}

func (e *Run) dockerfile(ctx context.Context) error {
	builds, _, err := e.ResolveBuilds(ctx)
	if err != nil {
		return err
	}
	o := dockerfile.Options{Builder: e.Config.Dockerfile.Builder, RunConfig: e.runConfig()}
	switch e.Config.Image.Base {
	case image.BaseStatic:
		o.Base, o.Static = "scratch", true
	default:
		o.Base = e.Config.Image.Base
	}
	if o.Builder == "" {
		o.Builder, err = defaultBuilder(ctx)
		if err != nil {
			return err
		}
	}
	for _, b := range builds {
		main := b.Main
		if b.Dir != e.Dir {
			rel, _ := filepath.Rel(e.Dir, filepath.Join(b.Dir, b.Main))
			main = "./" + filepath.ToSlash(rel)
		}
		o.Builds = append(o.Builds, dockerfile.Build{Name: b.Name, Main: main, Ldflags: b.Ldflags, Tags: b.Tags, Flags: b.Flags, Env: b.Env, Linkage: b.Linkage})
	}
	text, err := dockerfile.Generate(o)
	if err != nil {
		return err
	}
	path := e.Abs(e.Config.Dockerfile.Path)
	ignores, err := e.dockerignores(path)
	if err != nil {
		return err
	}
	if err := dockerfile.Write(path, text); err != nil {
		return err
	}
	for _, ig := range ignores {
		if err := atomicfile.WriteFile(ig.path, ig.data, 0o644); err != nil {
			return fmt.Errorf("dockerignore: %w", err)
		}
		e.UI.OK("wrote %s: .git, %s, secret files by kind (env files, keys, certificates, netrc, docker, cloud and kube credentials) and signing keys stay out of the build context", e.Rel(ig.path), e.Rel(e.DistDir()))
	}
	var platforms []string
	for _, p := range builds[0].Platforms {
		platforms = append(platforms, p.String())
	}
	e.UI.OK("wrote %s (builder %s); build it with: docker buildx build --platform %s --target %s .", e.Rel(path), o.Builder, strings.Join(platforms, ","), o.Builds[0].Name)
	e.UI.Info("ldflags templates are rendered when the file is written: run mage dockerfile again for a new version")
	return nil
}

// ignoreFile is a .dockerignore to write.
type ignoreFile struct {
	path string
	data []byte
}

// dockerignores are the .dockerignore files that keep the dist folder, .git, secret files and the
// signing key out of the Dockerfile's build context (the working directory): scratchkit's entries
// go into .dockerignore, and into <Dockerfile>.dockerignore too when there is one, which BuildKit
// reads instead; only those that change are returned. A signing key (sign.key, COSIGN_KEY, or
// cosign.key) inside the context that a file would still let in is an error, and nothing is
// written.
func (e *Run) dockerignores(dockerfilePath string) ([]ignoreFile, error) {
	var keys []string
	k := e.Config.Sign.Key
	if k == "" {
		k = keyfile.Private
	}
	if !strings.Contains(k, "://") {
		keys = append(keys, e.Rel(e.Abs(k)))
	}
	entries := dockerfile.IgnoreEntries(e.Rel(e.DistDir()), keys...)
	files := []string{filepath.Join(e.Dir, ".dockerignore")}
	if _, err := os.Stat(dockerfilePath + ".dockerignore"); err == nil {
		files = append(files, dockerfilePath+".dockerignore")
	}
	var out []ignoreFile
	for _, f := range files {
		old, updated, err := dockerfile.IgnoreFile(f, entries)
		if err != nil {
			return nil, err
		}
		for _, key := range keys {
			if _, err := os.Stat(e.Abs(key)); err != nil || strings.HasPrefix(key, "../") {
				continue // not a file in the context
			}
			excluded, err := dockerfile.Excluded(updated, filepath.ToSlash(key))
			if err != nil {
				return nil, fmt.Errorf("dockerfile: %s: %w", e.Rel(f), err)
			}
			if !excluded {
				return nil, fmt.Errorf("dockerfile: the signing key %s (%s) is in the build context and %s would not keep it out (a file name docker reads as a comment or a pattern?): move the key out of %s, or rename it; nothing was written", key, e.Config.Where("sign.key"), e.Rel(f), e.Dir)
			}
		}
		if !bytes.Equal(old, updated) {
			out = append(out, ignoreFile{f, updated})
		}
	}
	return out, nil
}

// defaultBuilder is golang:<version>-bookworm of the Go running scratchkit, pinned by digest
// when Docker Hub answers within a few seconds, else by its exact version.
func defaultBuilder(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOVERSION")
	cmd.Env = secrets.Environ()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("dockerfile: go env GOVERSION: %w", err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "go")
	v, _, _ = strings.Cut(v, " ")
	tag := "golang:" + v + "-bookworm"
	ref, err := name.ParseReference(tag)
	if err != nil {
		return tag, nil
	}
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if desc, err := remote.Head(ref, remote.WithContext(hctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithTransport(regtransport.New(nil, false))); err == nil {
		return tag + "@" + desc.Digest.String(), nil
	}
	return tag, nil
}

// Keygen writes cosign.key (0600, encrypted with COSIGN_PASSWORD) and cosign.pub in the working
// directory, refusing to overwrite either. It needs no signing stack: the core engine runs it.
func (e *Run) Keygen(ctx context.Context) error {
	priv, pub, err := keyfile.Generate(e.Dir, keyfile.PasswordFromEnv)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	e.UI.OK("wrote %s (private, 0600: keep it out of git) and %s in %s, the working directory", e.Rel(priv), e.Rel(pub), e.Dir)
	return nil
}
