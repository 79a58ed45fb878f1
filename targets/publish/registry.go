package publish

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/scratchkit/scratchkit/internal/regtransport"
)

// Keys name, in error messages, the caller's settings behind RegistryOptions: what a person
// changes to mend a failure, in the caller's words (a configuration file's keys, a command's
// flags). An empty name is the option's own, e.g. "RegistryOptions.Insecure".
type Keys struct {
	Repo            string // where Repo came from
	Insecure        string
	ResponseTimeout string
	RequestTimeout  string
}

func (k Keys) orDefaults() Keys {
	return Keys{
		Repo:            cmp.Or(k.Repo, "RegistryOptions.Repo"),
		Insecure:        cmp.Or(k.Insecure, "RegistryOptions.Insecure"),
		ResponseTimeout: cmp.Or(k.ResponseTimeout, "RegistryOptions.ResponseTimeout"),
		RequestTimeout:  cmp.Or(k.RequestTimeout, "RegistryOptions.RequestTimeout"),
	}
}

// RegistryOptions configures NewRegistry.
type RegistryOptions struct {
	// Repo is the repository images are pushed under, as <Repo>/<name> (ko's KO_DOCKER_REPO),
	// e.g. "ghcr.io/acme" or "127.0.0.1:5000/team". Required.
	Repo string
	// Keys name the settings behind these options in error messages.
	Keys Keys
	// Tags are applied after the whole push succeeded. Default ["latest"], as ko does.
	Tags []string
	// Insecure allows plain HTTP and unverified TLS to this registry. Registries on this
	// machine (localhost, 127.0.0.1, [::1]) are reached over HTTP without it; others never are.
	Insecure bool
	// Keychain finds credentials. Default authn.DefaultKeychain: the docker config
	// ($DOCKER_CONFIG or ~/.docker/config.json) and its credential helpers.
	Keychain authn.Keychain
	// Progress, when set, receives the push's events (see Event). Calls are serialised.
	Progress func(Event)
	// Attempts is how often a request failing transiently (5xx, 429, reset or refused
	// connections) is tried. Default 3.
	Attempts int
	// RetryWait is the wait before the first retry; each further wait is three times longer.
	// Default 1s.
	RetryWait time.Duration
	// Jobs is the number of concurrent uploads. Default 4.
	Jobs int
	// ResponseTimeout is how long the registry has to answer a request once it is sent (for
	// an upload, once its last byte is sent). Default regtransport.DefaultResponseTimeout, 60s.
	// A request that times out is not tried again.
	ResponseTimeout time.Duration
	// RequestTimeout bounds each request from its start to the end of its answer, uploads and
	// downloads included, progressing or not. Default regtransport.DefaultRequestTimeout, 30m:
	// a 1 GB layer still fits at 5 Mbit/s.
	RequestTimeout time.Duration
	// Transport is the HTTP transport. Default remote.DefaultTransport.
	Transport http.RoundTripper
	// UserAgent is sent to the registry. Default "scratchkit".
	UserAgent string
}

// RegistryPublisher pushes images to a registry: blobs first, then the manifest by digest, then
// the tags, so a failed push never moves a tag. The tags move together: when one cannot be
// pushed, those already moved are put back, and the *TagError says where each points (see
// tagAll for what a registry does not allow).
type RegistryPublisher struct {
	o         RegistryOptions
	nameOpts  []name.Option
	transport http.RoundTripper
	mu        sync.Mutex // serialises Progress calls
}

// NewRegistry checks o and returns a registry publisher.
func NewRegistry(o RegistryOptions) (*RegistryPublisher, error) {
	o.Keys = o.Keys.orDefaults()
	o.Repo = strings.TrimSuffix(strings.TrimSpace(o.Repo), "/")
	if o.Repo == "" {
		return nil, fmt.Errorf("publish to a registry: no repository is configured: set %s (e.g. ghcr.io/acme or 127.0.0.1:5000/dev)", o.Keys.Repo)
	}
	nameOpts := regtransport.NameOptions(o.Insecure)
	// Checked with an image name under it: like ko, a bare registry ("localhost:5000") is a
	// valid repository prefix.
	probe, err := name.NewRepository(o.Repo+"/x", nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("publish to a registry: %s %q is not a repository name (want registry[:port][/path], lower case): %w", o.Keys.Repo, o.Repo, err)
	}
	notRegistry := func(dest string) error {
		return fmt.Errorf("publish to a registry: %s %q names ko's %s, which is not a registry: publish to the %s destination (package kopub) instead", o.Keys.Repo, o.Repo, probe.RegistryStr(), dest)
	}
	switch probe.RegistryStr() {
	case LocalDomain:
		return nil, notRegistry(Daemon)
	case KindDomain:
		return nil, notRegistry(Kind)
	}
	if o.Keychain == nil {
		o.Keychain = authn.DefaultKeychain
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.RetryWait <= 0 {
		o.RetryWait = time.Second
	}
	if o.Jobs <= 0 {
		o.Jobs = 4
	}
	if o.UserAgent == "" {
		o.UserAgent = "scratchkit"
	}
	return &RegistryPublisher{
		o:         o,
		nameOpts:  nameOpts,
		transport: regtransport.New(o.Transport, o.Insecure, regtransport.WithTimeouts(regtransport.Timeouts{Response: o.ResponseTimeout, Request: o.RequestTimeout})),
	}, nil
}

// Name implements Publisher.
func (r *RegistryPublisher) Name() string { return Registry }

// Repo returns the repository an image name is pushed to: <Repo>/<name>, as ko names it.
func (r *RegistryPublisher) Repo(imageName string) (name.Repository, error) {
	n, err := ImageName(imageName)
	if err != nil {
		return name.Repository{}, err
	}
	repo, err := name.NewRepository(r.o.Repo+"/"+n, r.nameOpts...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("image %s under %s %q: %w", n, r.o.Keys.Repo, r.o.Repo, err)
	}
	return repo, nil
}

// Publish pushes a by digest, then applies its tags (Artifact.Tags, else RegistryOptions.Tags,
// else "latest"). Blobs the registry already has are not sent again.
func (r *RegistryPublisher) Publish(ctx context.Context, a Artifact) (*Result, error) {
	return r.push(ctx, a, a.tags(r.o.Tags))
}

// Upload sends layers to the repository of imageName ahead of a push of an image that holds
// them (which then finds them there and sends none): blobs only, no manifest and no tag, so
// nothing names them until that push. Blobs the registry has are not sent again.
func (r *RegistryPublisher) Upload(ctx context.Context, imageName string, layers ...v1.Layer) error {
	repo, err := r.Repo(imageName)
	if err != nil {
		return err
	}
	x, err := r.explainerFor(ctx, repo)
	if err != nil {
		return err
	}
	pusher, err := remote.NewPusher(r.remoteOptions(ctx, r.transport)...)
	if err != nil {
		return err
	}
	for _, l := range layers {
		if err := pusher.Upload(ctx, repo, l); err != nil {
			return x.explain("upload a layer to", err)
		}
	}
	return nil
}

// PushByDigest pushes a by digest and applies no tag: the per-platform half of a multi-runner
// build, whose images ReadPlatforms later reads back for one index.
func (r *RegistryPublisher) PushByDigest(ctx context.Context, a Artifact) (*Result, error) {
	return r.push(ctx, a, nil)
}

// PushPlatforms pushes every platform image of an index separately by digest, without tags,
// and returns one result per platform.
func (r *RegistryPublisher) PushPlatforms(ctx context.Context, a Artifact) ([]*Result, error) {
	if a.Index == nil {
		res, err := r.PushByDigest(ctx, a)
		if err != nil {
			return nil, err
		}
		return []*Result{res}, nil
	}
	im, err := a.Index.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("image %s: read index manifest: %w", a.Name, err)
	}
	var out []*Result
	for _, d := range im.Manifests {
		if !isImage(d.MediaType) {
			continue
		}
		img, err := a.Index.Image(d.Digest)
		if err != nil {
			return out, fmt.Errorf("image %s: read %s: %w", a.Name, d.Digest, err)
		}
		res, err := r.PushByDigest(ctx, Artifact{Name: a.Name, Image: img})
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

// ReadPlatforms reads images already pushed by digest (refs such as <repo>/<name>@sha256:…, one
// per platform, e.g. from PushByDigest on several runners) for an index of imageName: image.Join
// or image.MergeIndex assembles it, and Publish pushes and tags it. Only each image's manifest and
// config are read; pushing the index then finds every blob in the registry and sends none.
// Tags are refused as inputs, and so are two images for one platform.
func (r *RegistryPublisher) ReadPlatforms(ctx context.Context, imageName string, refs []string) ([]v1.Image, error) {
	if len(refs) == 0 {
		return nil, fmt.Errorf("merge index %s: no image digests given", imageName)
	}
	if _, err := r.Repo(imageName); err != nil {
		return nil, err
	}
	var imgs []v1.Image
	seen := map[string]string{}
	for _, ref := range refs {
		d, err := name.NewDigest(ref, r.nameOpts...)
		if err != nil {
			return nil, fmt.Errorf("merge index %s: %q is not a digest reference (<repo>/<name>@sha256:…; tags are not trusted): %w", imageName, ref, err)
		}
		x, err := r.explainerFor(ctx, d.Context())
		if err != nil {
			return nil, err
		}
		x.repo = ref
		desc, err := remote.Get(d, r.remoteOptions(ctx, r.transport)...)
		if err != nil {
			return nil, x.explain("read", err)
		}
		if !isImage(desc.MediaType) {
			return nil, fmt.Errorf("merge index %s: %s is a %s, not a single-platform image", imageName, ref, desc.MediaType)
		}
		img, err := desc.Image()
		if err != nil {
			return nil, x.explain("read", err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, x.explain("read config of", err)
		}
		p := cf.Platform()
		if p == nil {
			return nil, fmt.Errorf("merge index %s: %s has no platform in its config", imageName, ref)
		}
		if prev, dup := seen[p.String()]; dup {
			return nil, fmt.Errorf("merge index %s: %s and %s are both %s", imageName, prev, ref, p)
		}
		seen[p.String()] = ref
		imgs = append(imgs, img)
	}
	return imgs, nil
}

func (r *RegistryPublisher) push(ctx context.Context, a Artifact, tags []string) (*Result, error) {
	f, err := inspect(a)
	if err != nil {
		return nil, err
	}
	repo, err := r.Repo(a.Name)
	if err != nil {
		return nil, err
	}
	imageName, _ := ImageName(a.Name) // checked by r.Repo
	var tagRefs []name.Tag
	for _, t := range tags {
		tr, err := name.NewTag(repo.Name()+":"+t, r.nameOpts...)
		if err != nil {
			return nil, fmt.Errorf("image %s: tag %q: %w", imageName, t, err)
		}
		tagRefs = append(tagRefs, tr)
	}
	x, err := r.explainerFor(ctx, repo)
	if err != nil {
		return nil, err
	}
	x.blobs = f.blobs
	emit := r.emitter()
	digest := repo.Digest(f.digest.String())
	counter := newBlobCounter(r.transport, imageName, f.blobs, emit)
	opts := r.remoteOptions(ctx, counter)

	updates := make(chan v1.Update, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for u := range updates {
			if u.Error == nil {
				emit(Event{Image: imageName, Kind: Bytes, Complete: u.Complete, Total: u.Total})
			}
		}
	}()
	err = remote.Push(digest, a.taggable(), append(opts, remote.WithProgress(updates))...)
	<-done
	if err != nil {
		return nil, x.explain("push", err)
	}
	uploaded, skipped, sent := counter.totals()
	ref := r.o.Repo + "/" + imageName + "@" + f.digest.String()
	emit(Event{Image: imageName, Kind: Pushed, Digest: f.digest, Ref: ref, Uploaded: uploaded, Skipped: skipped, Sent: sent})

	res := &Result{
		Name: imageName, Destination: Registry, Ref: ref, Digest: f.digest,
		Platforms: f.platforms, Uploaded: uploaded, Skipped: skipped, Bytes: sent, Size: f.size,
		PlatformSizes: f.platformSizes,
	}
	if len(tagRefs) == 0 {
		return res, nil
	}
	tagged, err := r.tagAll(ctx, x, opts, repo, a.taggable(), f.digest, tagRefs)
	if err != nil {
		return res, fmt.Errorf("image %s: %w", imageName, err)
	}
	for _, t := range tagged {
		res.Tags = append(res.Tags, r.o.Repo+"/"+imageName+":"+t.TagStr())
		emit(Event{Image: imageName, Kind: Tagged, Digest: f.digest, Ref: res.Tags[len(res.Tags)-1]})
	}
	return res, nil
}

func (r *RegistryPublisher) emitter() func(Event) {
	if r.o.Progress == nil {
		return func(Event) {}
	}
	return func(e Event) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.o.Progress(e)
	}
}

func (r *RegistryPublisher) explainerFor(ctx context.Context, repo name.Repository) (explainer, error) {
	x := explainer{registry: repo.RegistryStr(), repo: repo.Name(), keys: r.o.Keys, configured: r.o.Repo, attempts: r.o.Attempts}
	auth, err := authn.Resolve(ctx, r.o.Keychain, repo)
	if err != nil {
		return x, fmt.Errorf("read credentials for %s from the docker config (%s): %w", repo.RegistryStr(), dockerConfigPath(), err)
	}
	x.anonymous = auth == authn.Anonymous
	return x, nil
}

func (r *RegistryPublisher) remoteOptions(ctx context.Context, t http.RoundTripper) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(r.o.Keychain),
		remote.WithTransport(t),
		remote.WithUserAgent(r.o.UserAgent),
		remote.WithJobs(r.o.Jobs),
		remote.WithRetryBackoff(remote.Backoff{Duration: r.o.RetryWait, Factor: 3, Jitter: 0.1, Steps: r.o.Attempts}),
		remote.WithRetryStatusCodes(http.StatusRequestTimeout, http.StatusTooManyRequests,
			http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout),
		remote.WithRetryPredicate(transient),
	}
}

// transient reports whether err is worth another attempt: what go-containerregistry retries by
// default, plus refused and dropped connections (a registry that is restarting), but not a
// request that timed out.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	// A request that reached a timeout is not tried again: each attempt would wait as long.
	var re *regtransport.Error
	if errors.As(err, &re) && re.Timeout() {
		return false
	}
	var tmp interface{ Temporary() bool }
	if errors.As(err, &tmp) && tmp.Temporary() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, net.ErrClosed)
}
