// Package kopub publishes images into a local docker daemon (ko.local) and into kind clusters
// (kind.local) through ko's own publishers (github.com/google/ko/pkg/publish).
//
// It is a separate package because ko's pkg/publish brings in about 750 packages (kind,
// cosign's OCI types, Kubernetes clients), which every build of a magefile importing it pays
// for; only magefiles that publish to a daemon or kind import kopub.
//
// Both destinations take one platform: for a multi-platform index they load the image for the
// host (platform.Host), or the configured Platform, rather than ko's GOOS/GOARCH default
// of linux/amd64.
package kopub

import (
	"context"
	"fmt"
	"os"
	"path"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	kopublish "github.com/google/ko/pkg/publish"
	kokind "github.com/google/ko/pkg/publish/kind"

	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/publish"
)

// KindDomain is the registry part of image names loaded into kind nodes (ko's kind.local).
const KindDomain = kopublish.KindDomain

// DaemonOptions configures NewDaemon.
type DaemonOptions struct {
	// Domain is the registry part of the names: <Domain>/<name>:<tag>. Default "ko.local".
	Domain string
	// Tags applied besides the digest tag. Default ["latest"].
	Tags []string
	// Platform is the platform loaded from a multi-platform index. Default the host's.
	Platform *v1.Platform
	// Client talks to the daemon. Default: the docker client go-containerregistry builds
	// from the environment (DOCKER_HOST, DOCKER_API_VERSION, …), negotiating the API version.
	Client daemon.Client
}

// DaemonPublisher loads images into a docker daemon the way `ko build --local` does.
type DaemonPublisher struct{ o DaemonOptions }

// NewDaemon returns a daemon publisher.
func NewDaemon(o DaemonOptions) *DaemonPublisher {
	if o.Domain == "" {
		o.Domain = publish.LocalDomain
	}
	return &DaemonPublisher{o: o}
}

// Name implements publish.Publisher.
func (d *DaemonPublisher) Name() string { return publish.Daemon }

// Publish loads a's image into the daemon as <Domain>/<name>:<digest hex> and tags it with each
// tag. Result.Ref is the digest tag, which names exactly this image.
func (d *DaemonPublisher) Publish(ctx context.Context, a publish.Artifact) (*publish.Result, error) {
	tags := tagsOf(a, d.o.Tags)
	p, err := kopublish.NewDaemon(namer(), tags,
		kopublish.WithLocalDomain(d.o.Domain), kopublish.WithDockerClient(d.o.Client))
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	res, err := publishOne(ctx, p, a, d.o.Domain, tags, d.o.Platform, publish.Daemon)
	if err != nil {
		return nil, fmt.Errorf("load %s into the docker daemon (is dockerd running, and DOCKER_HOST right?): %w", a.Name, err)
	}
	return res, nil
}

// KindOptions configures NewKind.
type KindOptions struct {
	// Tags applied besides the digest tag. Default ["latest"].
	Tags []string
	// Platform is the platform loaded from a multi-platform index. Default the host's.
	Platform *v1.Platform
}

// KindPublisher loads images into every node of a kind cluster the way `ko build` with
// KO_DOCKER_REPO=kind.local does.
type KindPublisher struct{ o KindOptions }

// NewKind returns a kind publisher.
func NewKind(o KindOptions) *KindPublisher {
	return &KindPublisher{o: o}
}

// Name implements publish.Publisher.
func (k *KindPublisher) Name() string { return publish.Kind }

// Cluster is the kind cluster images go to: $KIND_CLUSTER_NAME, else "kind", as ko and kind
// choose it.
func (k *KindPublisher) Cluster() string {
	if c := os.Getenv("KIND_CLUSTER_NAME"); c != "" {
		return c
	}
	return "kind"
}

// Check reports whether the kind cluster exists, as one sentence saying what to do when not.
func (k *KindPublisher) Check() error {
	c := k.Cluster()
	nodes, err := kokind.GetProvider().ListInternalNodes(c)
	if err != nil {
		return fmt.Errorf("cannot list the nodes of kind cluster %q (%v): is kind's container runtime (docker or podman) running?", c, err)
	}
	if len(nodes) == 0 {
		return fmt.Errorf("no kind cluster %q is running: create it with `kind create cluster --name %s`, set KIND_CLUSTER_NAME to an existing one, or publish to another destination", c, c)
	}
	return nil
}

// Publish loads a's image into every node of the cluster as kind.local/<name>:<digest hex> and
// tags it. It fails with a clear error when the cluster does not exist.
func (k *KindPublisher) Publish(ctx context.Context, a publish.Artifact) (*publish.Result, error) {
	if err := k.Check(); err != nil {
		return nil, fmt.Errorf("publish %s to kind: %w", a.Name, err)
	}
	tags := tagsOf(a, k.o.Tags)
	p := kopublish.NewKindPublisher(KindDomain, namer(), tags)
	res, err := publishOne(ctx, p, a, KindDomain, tags, k.o.Platform, publish.Kind)
	if err != nil {
		return nil, fmt.Errorf("load %s into kind cluster %q: %w", a.Name, k.Cluster(), err)
	}
	return res, nil
}

// namer gives ko.local/<name> (kind.local/<name>): ko's default naming, path.Join(base, name).
func namer() kopublish.Namer {
	return func(base, n string) string { return path.Join(base, n) }
}

func tagsOf(a publish.Artifact, def []string) []string {
	switch {
	case len(a.Tags) > 0:
		return a.Tags
	case len(def) > 0:
		return def
	}
	return []string{publish.DefaultTag}
}

func publishOne(ctx context.Context, p kopublish.Interface, a publish.Artifact, domain string, tags []string, only *v1.Platform, dest string) (*publish.Result, error) {
	n, err := publish.ImageName(a.Name)
	if err != nil {
		return nil, err
	}
	want := platform.Host().OCI()
	if only != nil {
		want = *only
	}
	img, plat, note, err := publish.Single(a, want)
	if err != nil {
		return nil, err
	}
	// ko's publishers pick linux/amd64 (or $GOOS/$GOARCH) from an index themselves; hand them
	// the one image chosen here instead.
	ref, err := p.Publish(ctx, img, n)
	if err != nil {
		return nil, err
	}
	if err := p.Close(); err != nil {
		return nil, err
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	size, err := compressedSize(img)
	if err != nil {
		return nil, err
	}
	res := &publish.Result{
		Name: n, Destination: dest, Ref: ref.String(), Digest: digest, Note: note, Size: size,
	}
	if !plat.IsZero() {
		res.Platforms = []platform.Platform{plat}
	}
	for _, t := range tags {
		tag, err := name.NewTag(path.Join(domain, n) + ":" + t)
		if err != nil {
			return nil, err
		}
		res.Tags = append(res.Tags, tag.String())
	}
	return res, nil
}

func compressedSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	size := m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return size, nil
}
