package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/scratchkit/scratchkit/internal/envvar"
	"github.com/scratchkit/scratchkit/internal/redact"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// Where things go in the image, as ko lays them out.
const (
	AppDir      = "/ko-app"     // holds the binary; on PATH
	DataPath    = "/var/run/ko" // the data directory (kodata); KO_DATA_PATH
	DefaultUser = "65532:65532" // nonroot in the static base
)

// AppPath is where the binary of the image named name goes, and its entrypoint: AppDir/name.
func AppPath(name string) string { return path.Join(AppDir, name) }

// IsRoot is the non-root rule's test of a user as written (Spec.User, image.user): user[:group]
// whose user is uid 0 or the name root. Images run as DefaultUser, nonroot, unless told
// otherwise, and as root only when that is asked for explicitly: Build warns about it,
// configuration validation wants image.allow_root beside it, and the smoke check of targets/run
// fails an image whose user resolves to uid 0 unless Options.AllowRoot.
func IsRoot(user string) bool {
	u, _, _ := strings.Cut(user, ":")
	return u == "0" || u == "root"
}

// Standard OCI annotations scratchkit fills in.
const (
	AnnotationSource     = "org.opencontainers.image.source"
	AnnotationRevision   = "org.opencontainers.image.revision"
	AnnotationVersion    = "org.opencontainers.image.version"
	AnnotationCreated    = "org.opencontainers.image.created"
	AnnotationBaseName   = "org.opencontainers.image.base.name"
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
)

// author is written into configs and history.
const author = "github.com/scratchkit/scratchkit"

// LayerTime is the modification time of every file in the application layers (the binary, the
// data directory), as ko fixes it: a layer's digest then depends on its files alone, so a commit
// that leaves a binary unchanged pushes no new layer for it.
var LayerTime = time.Unix(0, 0).UTC()

// RunConfig is what an image's config says about running it, the same whether scratchkit
// builds the image (Spec) or writes a Dockerfile that builds it (dockerfile.Options).
type RunConfig struct {
	// User is user[:group] to run as. Empty means 65532:65532 (nonroot); root ("0", "root") runs
	// only when asked for here, and is reported through Warn.
	User string
	// Env holds KEY=VALUE entries, set after the base's and PATH/KO_DATA_PATH.
	Env []string
	// Args are the arguments after the entrypoint (the config's Cmd).
	Args []string
	// Workdir is the absolute working directory; empty keeps the base's (/ for built-in bases).
	Workdir string
	// Ports are exposed ports: "8080", "8080/tcp", "53/udp".
	Ports []string
	// Volumes are absolute directories declared as volumes (the config's Volumes, a
	// Dockerfile's VOLUME).
	Volumes []string
	// Labels go into the image config.
	Labels map[string]string
}

// Spec says what image to assemble. It is plain data; the zero value of each optional field
// means the documented default.
type Spec struct {
	// Name is the image's short name; the binary goes to /ko-app/<Name>.
	Name string
	// Base is "static" (the default when empty), "scratch", or a registry reference, which must be
	// pinned by digest unless AllowUnpinned is set.
	Base string
	// AllowUnpinned accepts a registry base given by tag, with a warning.
	AllowUnpinned bool
	// Insecure lets base pulls fall back to plain HTTP (name.Insecure). Loopback and private
	// registries (127.0.0.1, localhost, 10.x, ...) may use HTTP without it, as in go-containerregistry.
	Insecure bool
	// ResponseTimeout and RequestTimeout bound each request of a base pull (see
	// regtransport.Timeouts); zero takes the defaults, 60s and 30m.
	ResponseTimeout, RequestTimeout time.Duration
	// Bases keeps the registry bases pinned by digest this process resolved, for the Builds
	// that follow (the dev loop's cycles); nil resolves the base on every Build.
	Bases *BaseCache
	// Keychain authenticates base pulls; nil means the user's docker keychain (authn.DefaultKeychain).
	Keychain authn.Keychain
	// GoRoot is the Go installation whose lib/time/zoneinfo.zip fills the static base's zone data;
	// empty means `go env GOROOT`.
	GoRoot string

	// Binaries holds one binary per platform.
	Binaries []Binary
	// DataDir, when set, is copied to /var/run/ko and KO_DATA_PATH points at it (ko's kodata).
	DataDir string
	// DataLinks is what a symbolic link in DataDir that resolves outside it becomes; the zero
	// value refuses it (DataLinksRefuse).
	DataLinks DataLinks
	// Warmed holds binaries Warm read and their layers, in this process; Build takes from it
	// those whose digest is their Binary's SHA256, and says the warnings Warm met. Nil: Build
	// reads and makes every one itself.
	Warmed *Warmed
	// CacheDir keeps the compressed layers scratchkit writes (binary, data, static base) by
	// content, so that a build whose layer has not changed does not compress it again; entries
	// are checked before use and pruned after 30 days unused or beyond 2 GiB. Empty means no
	// cache: every Build compresses every layer it does not take from Warmed.
	CacheDir string
	// Compression is how the binary and data layers are compressed: CompressGzip (the default
	// when empty) or CompressNone.
	Compression Compression

	// RunConfig is how the image runs: user, environment, arguments, working directory, ports,
	// volumes, labels.
	RunConfig
	// Annotations go into every manifest and the index. They override the source, revision and
	// version annotations below; created and base.* are facts and cannot be overridden.
	Annotations map[string]string

	// Created is the creation time of the config, its history and the created annotation:
	// SOURCE_DATE_EPOCH or the commit time, decided by the caller. Zero means the Unix epoch. It
	// is truncated to whole seconds. The files of the application layers carry LayerTime
	// instead, so that an unchanged binary is the same layer in every commit's image.
	Created time.Time
	// Source, Revision and Version fill org.opencontainers.image.source, .revision and .version.
	Source, Revision, Version string

	// Warn receives warnings (unpinned base, running as root, a layer cache entry refused or not
	// written); nil discards them. Build may call it from several goroutines, one at a time.
	Warn func(string)
}

// Binary is one platform's binary, as Build and Verify left it.
type Binary struct {
	// Platform is the binary's platform, e.g. linux/amd64, linux/arm/v7.
	Platform platform.Platform
	// Path is the binary file.
	Path string
	// SHA256 is the hex digest Verify passed. Build refuses a file with a different digest; empty
	// skips the check and records what the file holds.
	SHA256 string
	// BuildInfo is the binary's Go build info as text, as Verify read it (binary.GoInfo.BuildInfo):
	// the platform check and the SBOM use it instead of reading the binary again; empty: read.
	BuildInfo string
}

// Result is what Build assembled.
type Result struct {
	Name string
	// Index is the image index when there are several platforms; nil for one.
	Index v1.ImageIndex
	// Image is the image when there is one platform; nil for several.
	Image v1.Image
	// Platforms holds each platform's image, sorted by platform (the index order).
	Platforms []PlatformImage
	// BaseName is "static", "scratch" or the registry reference as given.
	BaseName string
	// BaseDigest is the digest of the base: of the base index for a multi-platform registry base,
	// else of the single platform's base image (for built-in bases with several platforms, of an
	// index of the built-in base images).
	BaseDigest string
}

// PlatformImage is one platform's image of a Result.
type PlatformImage struct {
	Platform     platform.Platform
	Image        v1.Image
	Digest       v1.Hash // manifest digest
	BinarySHA256 string  // hex digest of the binary at /ko-app/<name>
	BaseDigest   string  // digest of this platform's base image manifest
	SBOM         []byte  // SPDX 2.3 JSON of the binary
}

// Artifact is what publishers take: a v1.Image or a v1.ImageIndex. It has the method set of
// ko's build.Result, so ko's publishers accept it as is.
type Artifact interface {
	MediaType() (types.MediaType, error)
	Size() (int64, error)
	Digest() (v1.Hash, error)
	RawManifest() ([]byte, error)
}

// Artifact returns the index for several platforms, else the image.
func (r *Result) Artifact() Artifact {
	if r.Index != nil {
		return r.Index
	}
	return r.Image
}

// Digest is the digest of the index, or of the single image.
func (r *Result) Digest() (v1.Hash, error) {
	a := r.Artifact()
	if a == nil {
		return v1.Hash{}, fmt.Errorf("image %s: empty result", r.Name)
	}
	return a.Digest()
}

// plan is a validated Spec with its derived values.
type plan struct {
	spec      Spec
	layers    *layers // makes the layers, through the cache in spec.CacheDir
	created   time.Time
	user      string
	env       [][2]string
	ports     []string
	platforms []*v1.Platform // parsed Binaries[i].Platform

	warnMu sync.Mutex
	said   map[string]bool // warnings said
}

// warn says msg through Spec.Warn, once: Warm's warnings and Build's own may repeat one another.
func (p *plan) warn(msg string) {
	p.warnMu.Lock()
	defer p.warnMu.Unlock()
	if p.spec.Warn == nil || p.said[msg] {
		return
	}
	if p.said == nil {
		p.said = map[string]bool{}
	}
	p.said[msg] = true
	p.spec.Warn(msg)
}

var (
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	userRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
)

// builtinUsers and builtinGroups are the names the static base's passwd and group resolve.
var (
	builtinUsers  = map[string]bool{"root": true, "nobody": true, "nonroot": true}
	builtinGroups = map[string]bool{"root": true, "nobody": true, "nonroot": true}
)

// newPlan validates spec and derives what Build needs.
func newPlan(spec Spec) (*plan, error) {
	p := &plan{spec: spec}
	p.layers = newLayers(spec.CacheDir, p.warn, spec.Compression)
	if !nameRE.MatchString(spec.Name) {
		return nil, fmt.Errorf("image name %q: want a file name (letters, digits, '.', '_', '-'); the binary goes to %s/<name>", spec.Name, AppDir)
	}
	if len(spec.Binaries) == 0 {
		return nil, fmt.Errorf("image %s: no binary to put in the image; build first", spec.Name)
	}
	seen := map[string]string{}
	for _, b := range spec.Binaries {
		parsed := b.Platform
		if parsed.IsZero() {
			return nil, fmt.Errorf("image %s: binary %s: no platform", spec.Name, b.Path)
		}
		if !parsed.Linux() {
			return nil, fmt.Errorf("image %s: platform %s: only linux images are assembled", spec.Name, b.Platform)
		}
		pl := parsed.OCI()
		key := pl.String()
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("image %s: two binaries for %s (%s and %s)", spec.Name, key, prev, b.Path)
		}
		seen[key] = b.Path
		if b.SHA256 != "" {
			if _, err := hex.DecodeString(b.SHA256); err != nil || len(b.SHA256) != 64 {
				return nil, fmt.Errorf("image %s: binary %s: sha256 %q is not 64 hex digits", spec.Name, b.Path, b.SHA256)
			}
		}
		p.platforms = append(p.platforms, &pl)
	}
	p.created = spec.Created.UTC().Truncate(time.Second)
	if spec.Created.IsZero() {
		p.created = time.Unix(0, 0).UTC()
	}
	var err error
	if p.user, err = CheckUser(spec.User, spec.Base); err != nil {
		return nil, fmt.Errorf("image.user %w", err)
	}
	for i, kv := range spec.Env {
		k, v, err := envvar.Split(kv)
		if err != nil {
			return nil, fmt.Errorf("image.env[%d]: %w", i, err)
		}
		p.env = append(p.env, [2]string{k, v})
	}
	for i, port := range spec.Ports {
		norm, err := ParsePort(port)
		if err != nil {
			return nil, fmt.Errorf("image.ports[%d]: %w", i, err)
		}
		p.ports = append(p.ports, norm.String())
	}
	if spec.Workdir != "" && !path.IsAbs(spec.Workdir) {
		return nil, fmt.Errorf("image.workdir %q: want an absolute path", spec.Workdir)
	}
	for i, v := range spec.Volumes {
		if err := CheckVolume(v); err != nil {
			return nil, fmt.Errorf("image.volumes[%d]: %w", i, err)
		}
	}
	for k := range spec.Labels {
		if k == "" {
			return nil, fmt.Errorf("image.labels: empty key")
		}
	}
	for k := range spec.Annotations {
		switch k {
		case "":
			return nil, fmt.Errorf("image.annotations: empty key")
		case AnnotationCreated, AnnotationBaseName, AnnotationBaseDigest:
			return nil, fmt.Errorf("image.annotations: %s is set by scratchkit from the build and the base; remove it", k)
		}
	}
	if IsRoot(p.user) {
		p.warn(fmt.Sprintf("image %s runs as root, as image.user %q asks", spec.Name, p.user))
	}
	return p, nil
}

// CheckUser checks an image user (uid[:gid] or name[:group]) against the base it runs on, and
// returns the user the image gets: DefaultUser when u is empty. Names need a passwd that has
// them: the scratch base has none, the static base knows root, nobody and nonroot. The error
// starts with u quoted.
func CheckUser(u, base string) (string, error) {
	if u == "" {
		return DefaultUser, nil
	}
	user, group, hasGroup := strings.Cut(u, ":")
	parts := []string{user}
	if hasGroup {
		parts = append(parts, group)
	}
	for i, part := range parts {
		if _, err := strconv.ParseUint(part, 10, 32); err == nil {
			continue
		}
		if !userRE.MatchString(part) {
			return "", fmt.Errorf("%q: want uid[:gid] or name[:group]", u)
		}
		switch base {
		case BaseScratch:
			return "", fmt.Errorf("%q: the scratch base has no /etc/passwd to resolve %q; use numbers, e.g. %s", u, part, DefaultUser)
		case "", BaseStatic:
			known := builtinUsers
			if i == 1 {
				known = builtinGroups
			}
			if !known[part] {
				return "", fmt.Errorf("%q: the static base knows root, nobody and nonroot, not %q; use one of them or numbers", u, part)
			}
		}
	}
	return u, nil
}

// Port is an exposed port: its number and protocol (tcp, udp or sctp).
type Port struct {
	Number uint16
	Proto  string
}

// String is the port as an image config's ExposedPorts key: 8080/tcp.
func (p Port) String() string { return fmt.Sprintf("%d/%s", p.Number, p.Proto) }

// ParsePort reads an exposed port, "8080" (tcp) or "53/udp", as the configuration and an image
// config's ExposedPorts write it, and checks the number and the protocol. The error starts
// with s quoted and says what to write.
func ParsePort(s string) (Port, error) {
	num, proto, ok := strings.Cut(s, "/")
	if !ok {
		proto = "tcp"
	}
	n, err := strconv.ParseUint(num, 10, 16)
	if err != nil || n == 0 {
		return Port{}, fmt.Errorf("%q is not a port: want a number 1-65535 with an optional /tcp, /udp or /sctp, e.g. 8080 or 8080/tcp", s)
	}
	switch proto = strings.ToLower(proto); proto {
	case "tcp", "udp", "sctp":
	default:
		return Port{}, fmt.Errorf("%q: protocol %q: want tcp, udp or sctp", s, proto)
	}
	return Port{Number: uint16(n), Proto: proto}, nil
}

// CheckVolume checks a volume the image declares (and any directory mounted into its
// containers): a clean absolute directory of the container,
// not the root (which stays read-only) and not one the runtime owns (/proc, /sys, /dev). The
// error starts with v quoted and says what to write.
func CheckVolume(v string) error {
	switch {
	case !path.IsAbs(v):
		return fmt.Errorf("%q: want an absolute directory of the container, e.g. /var/cache/app", v)
	case path.Clean(v) != v:
		return fmt.Errorf("%q: write it as %s", v, path.Clean(v))
	case v == "/":
		return fmt.Errorf("%q: the root filesystem stays read-only as in production; name the directory the service writes to instead, e.g. /tmp", v)
	}
	for _, r := range []string{"/proc", "/sys", "/dev"} {
		if v == r || strings.HasPrefix(v, r+"/") {
			return fmt.Errorf("%q: %s belongs to the container runtime; nothing can be mounted there", v, r)
		}
	}
	return nil
}

// Build assembles the image (one platform) or the image index (several) described by spec.
//
// Base pulls are lazy: layers of a registry base are read when the result is published, with
// ctx. Pass a context that lives as long as the result is used, not one cancelled when Build
// returns.
func Build(ctx context.Context, spec Spec) (*Result, error) {
	p, err := newPlan(spec)
	if err != nil {
		return nil, err
	}
	warnings, unusable := spec.Warmed.takeWarnings()
	for _, msg := range warnings {
		p.warn(msg)
	}
	if unusable {
		p.layers.mu.Lock()
		p.layers.unusable = true // said: the cache is the same one
		p.layers.mu.Unlock()
	}
	base, err := resolveBase(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var data v1.Layer
	if spec.DataDir != "" {
		if data, err = dataLayer(spec.DataDir, spec.DataLinks, LayerTime, p.layers); err != nil {
			return nil, fmt.Errorf("image %s: %w", spec.Name, err)
		}
	}

	images := make([]PlatformImage, len(p.platforms))
	errs := make([]error, len(p.platforms))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i := range p.platforms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := ctx.Err(); err != nil {
				errs[i] = err
				return
			}
			images[i], errs[i] = buildPlatform(p, i, base, data)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	p.layers.prune()
	slices.SortFunc(images, func(a, b PlatformImage) int { return platform.Compare(a.Platform, b.Platform) })

	r := &Result{Name: spec.Name, Platforms: images, BaseName: base.name}
	if len(images) == 1 {
		r.Image = images[0].Image
		r.BaseDigest = images[0].BaseDigest
		return r, nil
	}
	baseDigest, err := base.indexDigest(p.platforms)
	if err != nil {
		return nil, err
	}
	r.BaseDigest = baseDigest.String()
	entries := make([]IndexEntry, len(images))
	for i, pi := range images {
		entries[i] = IndexEntry{Platform: pi.Platform, Image: pi.Image}
	}
	if r.Index, err = index(baseDigest, entries); err != nil {
		return nil, fmt.Errorf("image %s: %w", spec.Name, err)
	}
	if _, err := r.Index.Digest(); err != nil {
		return nil, fmt.Errorf("image %s: %w", spec.Name, err)
	}
	return r, nil
}

// annotations are a platform manifest's annotations, for its base's digest. The index has the
// same, for the digest of the base of all platforms (see index).
func (p *plan) annotations(base *resolvedBase, baseDigest v1.Hash) map[string]string {
	a := map[string]string{}
	for k, v := range map[string]string{AnnotationSource: redact.URL(p.spec.Source), AnnotationRevision: p.spec.Revision, AnnotationVersion: p.spec.Version} {
		if v != "" {
			a[k] = v
		}
	}
	for k, v := range p.spec.Annotations {
		a[k] = v
	}
	a[AnnotationCreated] = p.created.Format(time.RFC3339)
	if base.annotation != "" {
		a[AnnotationBaseName] = base.annotation
	}
	a[AnnotationBaseDigest] = baseDigest.String()
	return a
}

// buildPlatform assembles platform i's image.
func buildPlatform(p *plan, i int, base *resolvedBase, data v1.Layer) (PlatformImage, error) {
	bin := p.spec.Binaries[i]
	pl := *p.platforms[i]
	fail := func(err error) (PlatformImage, error) {
		return PlatformImage{}, fmt.Errorf("image %s for %s: %w", p.spec.Name, pl, err)
	}
	// A binary Warm read has the digest Verify passed: its bytes are the verified ones, read once.
	content, sum, binLayer := p.spec.Warmed.binary(p.spec.Name, bin.SHA256)
	if content == nil {
		var err error
		if content, sum, err = readBinary(bin); err != nil {
			return fail(err)
		}
	}
	bi, err := binary.BuildInfoOf(bin.BuildInfo, bytes.NewReader(content))
	if err != nil {
		return fail(fmt.Errorf("binary %s: no Go build information (%w); scratchkit images hold Go binaries", bin.Path, err))
	}
	g, want := binary.GoInfoOf(bi), platform.FromOCI(&pl)
	if bad := g.Mismatch(want); len(bad) > 0 {
		return fail(fmt.Errorf("binary %s is built for %s/%s, not %s: %s", bin.Path, g.GOOS, g.GOARCH, want, strings.Join(bad, "; ")))
	}
	appPath := AppPath(p.spec.Name)
	if binLayer == nil {
		var err error
		if binLayer, err = binaryLayer(p.spec.Name, content, LayerTime, p.layers); err != nil {
			return fail(err)
		}
	}
	hist := v1.History{Author: author, Created: v1.Time{Time: p.created}, CreatedBy: "scratchkit image " + p.spec.Name}
	var adds []mutate.Addendum
	if data != nil {
		h := hist
		h.Comment = "kodata contents, at $KO_DATA_PATH"
		adds = append(adds, mutate.Addendum{Layer: data, History: h})
	}
	hist.Comment = "go build output, at " + appPath
	adds = append(adds, mutate.Addendum{Layer: binLayer, History: hist})
	img, err := mutate.Append(base.images[i], adds...)
	if err != nil {
		return fail(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fail(err)
	}
	cfg := cf.DeepCopy()
	p.configure(cfg, pl, appPath, data != nil)
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return fail(err)
	}
	img = mutate.Annotations(img, p.annotations(base, base.digests[i])).(v1.Image)
	digest, err := img.Digest()
	if err != nil {
		return fail(err)
	}
	sbom, err := sbomFor(bi, sum, p.spec.Name, p.created)
	if err != nil {
		return fail(fmt.Errorf("SBOM of %s: %w", bin.Path, err))
	}
	return PlatformImage{
		Platform:     platform.FromOCI(&pl),
		Image:        img,
		Digest:       digest,
		BinarySHA256: sum,
		BaseDigest:   base.digests[i].String(),
		SBOM:         sbom,
	}, nil
}

// configure sets the image config as ko does (entrypoint, PATH, KO_DATA_PATH) plus the spec.
func (p *plan) configure(cfg *v1.ConfigFile, pl v1.Platform, appPath string, hasData bool) {
	cfg.OS, cfg.Architecture, cfg.Variant = pl.OS, pl.Architecture, pl.Variant
	cfg.Created = v1.Time{Time: p.created}
	cfg.Author = author
	c := &cfg.Config
	c.Entrypoint = []string{appPath}
	c.Cmd = nil
	if len(p.spec.Args) > 0 {
		c.Cmd = append([]string(nil), p.spec.Args...)
	}
	c.Env = appendPath(c.Env, AppDir)
	if hasData {
		c.Env = setEnv(c.Env, "KO_DATA_PATH", DataPath)
	}
	for _, kv := range p.env {
		c.Env = setEnv(c.Env, kv[0], kv[1])
	}
	c.User = p.user
	if p.spec.Workdir != "" {
		c.WorkingDir = p.spec.Workdir
	}
	if len(p.ports) > 0 {
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		for _, port := range p.ports {
			c.ExposedPorts[port] = struct{}{}
		}
	}
	if len(p.spec.Volumes) > 0 {
		if c.Volumes == nil {
			c.Volumes = map[string]struct{}{}
		}
		for _, v := range p.spec.Volumes {
			c.Volumes[v] = struct{}{}
		}
	}
	if len(p.spec.Labels) > 0 {
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for k, v := range p.spec.Labels {
			c.Labels[k] = v
		}
	}
}

// setEnv replaces key's entry in env, or appends one.
func setEnv(env []string, key, value string) []string {
	for i, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			env[i] = key + "=" + value
			return env
		}
	}
	return append(env, key+"="+value)
}

// appendPath adds dir at the end of PATH (creating PATH=dir), as ko does.
func appendPath(env []string, dir string) []string {
	for i, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if k != "PATH" {
			continue
		}
		for _, d := range strings.Split(v, ":") {
			if d == dir {
				return env
			}
		}
		if v == "" {
			env[i] = "PATH=" + dir
		} else {
			env[i] = "PATH=" + v + ":" + dir
		}
		return env
	}
	return append(env, "PATH="+dir)
}

// readBinary reads a binary once and checks it is byte for byte the one Verify passed: the bytes
// hashed here are the bytes that go into the layer.
func readBinary(b Binary) ([]byte, string, error) {
	content, err := os.ReadFile(b.Path)
	if err != nil {
		return nil, "", fmt.Errorf("read binary: %w", err)
	}
	if len(content) == 0 {
		return nil, "", fmt.Errorf("binary %s is empty", b.Path)
	}
	s := sha256.Sum256(content)
	sum := hex.EncodeToString(s[:])
	if b.SHA256 != "" && !strings.EqualFold(b.SHA256, sum) {
		return nil, "", fmt.Errorf("binary %s has sha256 %s, not %s that Verify passed: it changed after verification; build and verify again", b.Path, sum, strings.ToLower(b.SHA256))
	}
	return content, sum, nil
}
