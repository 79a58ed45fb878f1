// Package config is scratchkit's configuration model: the keys of scratchkit.yaml, the keys of
// .ko.yaml scratchkit reads, the environment overrides, their precedence and their validation.
//
// Precedence, lowest to highest: built-in defaults → .ko.yaml → scratchkit.yaml →
// targets.Configure(Config) → environment → target arguments. Every value remembers where it came
// from, so a bad one is reported with its file and line (or the variable that set it).
package config

import "time"

// Config is the whole configuration. Its yaml names are the keys of scratchkit.yaml; the same
// struct is what a magefile passes to targets.Configure, where non-zero fields override the files.
type Config struct {
	// Dist is the output folder, relative to the working directory.
	Dist string `yaml:"dist" default:"dist"`
	// Platforms are the os/arch[/variant] to build for, e.g. linux/arm/v7.
	// Default: linux on the host's architecture.
	Platforms []string `yaml:"platforms"`
	// Version is the .Version seen by ldflags templates and the image version annotation.
	// Default: `git describe --tags --always --dirty`, or "devel" outside git.
	Version string `yaml:"version"`
	// Builds lists the binaries. Default: every main package of the module.
	Builds []Build `yaml:"builds"`
	// Build configures what every build shares.
	Build BuildSettings `yaml:"build"`

	// Verify configures the static checks of each binary.
	Verify Verify `yaml:"verify"`
	// Image configures the images and where they are published.
	Image Image `yaml:"image"`
	// Smoke configures the image checks and the container run.
	Smoke Smoke `yaml:"smoke"`
	// PGO configures profile collection and placement.
	PGO PGO `yaml:"pgo"`
	// Sign configures signing.
	Sign Sign `yaml:"sign"`
	// Dockerfile configures the dockerfile target.
	Dockerfile Dockerfile `yaml:"dockerfile"`
	// Resolve configures the resolve target: Kubernetes YAML whose ko:// references become the
	// images just pushed.
	Resolve Resolve `yaml:"resolve"`
	// Dev configures the dev target: the inner loop that rebuilds, verifies and runs the image
	// on every saved change.
	Dev Dev `yaml:"dev"`
}

// Dev configures the dev target, which watches the module's Go files, go.mod, go.sum, embedded
// files and data directories and, on each change, builds the host platform only, verifies,
// assembles the image and sends it where Run says.
type Dev struct {
	// Run is where each new image goes: docker (the default) loads it into the docker daemon and
	// replaces the service's container (dev.ports published, smoke.env and smoke.tmpfs as smoke
	// runs it); push pushes it to image.repo and prints its digest; resolve pushes it and writes
	// resolve.output (dist/resolved.yaml) for a `kubectl apply` loop.
	Run string `yaml:"run" default:"docker" enum:"docker,push,resolve"`
	// Debounce is how long a burst of changes must be quiet before a cycle that one of them
	// interrupted starts again. The go build starts on a burst's first change, as soon as that
	// file's save is written whole (10ms without another event).
	Debounce Duration `yaml:"debounce" default:"100ms"`
	// Ports are published on 127.0.0.1 by the docker container: HOST:CONTAINER or PORT (the same
	// on both sides). Default: every port of image.ports, on the same host port.
	Ports []string `yaml:"ports"`
	// Network is the docker container's network: auto (bridge with the ports published when the
	// daemon has a bridge network, else host), bridge, or host (the service binds the host's
	// ports itself; nothing is published).
	Network string `yaml:"network" default:"auto" enum:"auto,bridge,host"`
	// Compression is how each dev image's binary and data layers are compressed: auto (none
	// when the image stays on this machine: dev.run docker, or a registry on 127.0.0.1, ::1 or
	// localhost; gzip otherwise), gzip (as image compresses them), or none (gzip's stored
	// blocks: a standard gzip layer as large as its content, made at the speed of a copy).
	Compression string `yaml:"compression" default:"auto" enum:"auto,gzip,none"`
}

// Resolve configures the resolve target, scratchkit's `ko resolve`.
type Resolve struct {
	// Files are the YAML to resolve: files, directories (walked recursively for *.yaml and *.yml,
	// in name order, skipping dot-directories and the dist folder) and globs, relative to the
	// working directory, in order (SCRATCHKIT_RESOLVE_FILES: comma-separated).
	Files []string `yaml:"files"`
	// Output is where the resolved multi-document stream is written, relative to the working
	// directory, or "-" (quoted in YAML) for standard output, the run's report then going to
	// standard error. Default: resolved.yaml in the dist folder.
	Output string `yaml:"output"`
}

// Dockerfile configures the Dockerfile the dockerfile target writes.
type Dockerfile struct {
	// Path is the file to write, relative to the working directory.
	Path string `yaml:"path" default:"Dockerfile"`
	// Builder is the Go image of the build stage, pinned by digest or by an exact version.
	// Default: golang:<the version of the Go that runs scratchkit>-bookworm.
	Builder string `yaml:"builder"`
}

// BuildSettings are what every build shares.
type BuildSettings struct {
	// Toolchain is the Go that builds, through the go command's own GOTOOLCHAIN: empty for the
	// go command on PATH as it is; a release such as go1.26.11, which the go command fetches
	// from the module proxy (golang.org/toolchain) as it does for a go.mod toolchain line; or
	// patch, the newest patch release of the Go minor in use, so that a standard-library fix is
	// one setting away. Each binary's record in artifacts.json names it (toolchain), and its
	// SBOM and provenance carry its Go version.
	Toolchain string `yaml:"toolchain"`
}

// Build is one binary (and one image).
type Build struct {
	// Name is the binary and image name. Default: the last element of main.
	Name string `yaml:"name"`
	// Main is a directory (./cmd/hello) or an import path of a main package in the module graph.
	Main string `yaml:"main"`
	// Dir is the directory go build runs in (a nested module), relative to the working directory.
	Dir string `yaml:"dir"`
	// Ldflags are appended to "-s -w"; templates see .Version .Commit .Date .Env.NAME and .Git.*.
	Ldflags []string `yaml:"ldflags"`
	// Flags are extra go build flags (not -o, -ldflags, -buildmode, -tags: use their keys).
	Flags []string `yaml:"flags"`
	// Tags are build tags.
	Tags []string `yaml:"tags"`
	// Env are extra NAME=VALUE entries for go build, e.g. GOAMD64=v2.
	Env []string `yaml:"env"`
	// Linkage is static (CGO_ENABLED=0), static-pie (cgo, PIE, fully static) or cgo-static
	// (cgo against musl or a static libc).
	Linkage string `yaml:"linkage" default:"static"`
	// CC is the C compiler for cgo linkages. Default: found per platform (musl-gcc, <triple>-gcc, zig cc).
	CC string `yaml:"cc"`
	// Platforms overrides the top-level platforms for this build.
	Platforms []string `yaml:"platforms"`
	// PGO is auto (use default.pgo next to the main package), off, or a profile file.
	PGO string `yaml:"pgo" default:"auto"`
	// Install builds a main package of another module (main: example.com/x/cmd/server) the way
	// `go install example.com/x/cmd/server@<version>` does: with that module's own go.mod, so
	// its build info, and the version it reports, say the module's version. Without it, the
	// package builds inside this project's module: your go.mod decides every dependency's
	// version (so a replace or an upgrade applies), and the binary's module version is (devel).
	Install bool `yaml:"install"`
	// Data is this build's image data directory (see image.data), relative to the project.
	Data string `yaml:"data"`
	// Verify overrides the top-level verify settings for this build.
	Verify *Verify `yaml:"verify"`
}

// Verify configures the static checks of each binary.
type Verify struct {
	// MaxSize is the size budget of each binary, e.g. 20MiB; 0 means none.
	MaxSize Size `yaml:"max_size"`
	// Report lists checks that are reported but do not fail the run (e.g. stripped for a debug build).
	Report []string `yaml:"report"`
	// Enforce lists hardening checks that fail the run instead of being informational.
	Enforce []string `yaml:"enforce"`
	// Breakdown always prints where the bytes go, not only when the size budget fails.
	Breakdown bool `yaml:"breakdown"`
	// VulnCheck checks the binary against a Go vulnerability database. report (the default):
	// findings, and a database that cannot be read, are warnings; enforce: a vulnerability whose
	// vulnerable functions are in the binary fails it unless vuln_ignore lists it (one whose
	// module is there but whose functions are not is reported, never enforced), and a database
	// that cannot be read fails the run; off: no check.
	VulnCheck string `yaml:"vulncheck"`
	// VulnDB is the vulnerability database: https://vuln.go.dev by default (GOVULNDB sets it
	// too), another https:// server in the same layout, file:///path for a mirror or an
	// offline copy, or goproxy: the same data as vuln.go.dev taken as the newest
	// golang.org/x/vulndb module through the go command's module proxy (GOPROXY, GONOSUMDB,
	// GOFLAGS and netrc as the go command uses them), indexed once per version under
	// SCRATCHKIT_CACHE. One per run: top level only.
	VulnDB string `yaml:"vulndb"`
	// VulnIgnore lists vulnerabilities accepted for a while, each with its reason and the last
	// day it applies; past that day Verify fails until the entry is renewed or removed. A
	// build's list adds to the top level's.
	VulnIgnore []VulnIgnore `yaml:"vuln_ignore"`
}

// VulnIgnore is one vulnerability accepted until a date.
type VulnIgnore struct {
	// ID is the vulnerability's ID (GO-2024-2687) or one of its aliases (CVE-2023-45288, GHSA-…).
	ID string `yaml:"id"`
	// Reason says why it is accepted, e.g. "the vulnerable handler is not exposed".
	Reason string `yaml:"reason"`
	// Until is the last day the entry applies, YYYY-MM-DD.
	Until string `yaml:"until"`
}

// Image configures the images.
type Image struct {
	// Base is static (built in, offline), scratch, or a registry reference pinned by digest.
	Base string `yaml:"base" default:"static"`
	// AllowUnpinned accepts a base reference without a digest, with a warning.
	AllowUnpinned bool `yaml:"allow_unpinned"`
	// Repo is the registry repository images are pushed under as <repo>/<name> (KO_DOCKER_REPO).
	Repo string `yaml:"repo"`
	// Tags are applied after a successful push. Default: latest.
	Tags []string `yaml:"tags"`
	// User is the user the image runs as. Default: 65532:65532 (nonroot).
	User string `yaml:"user" default:"65532:65532"`
	// AllowRoot permits user 0/root.
	AllowRoot bool `yaml:"allow_root"`
	// Env are NAME=VALUE entries added to the image config.
	Env []string `yaml:"env"`
	// Args are the default arguments (cmd) after the entrypoint.
	Args []string `yaml:"args"`
	// Workdir is the working directory of the image.
	Workdir string `yaml:"workdir"`
	// Ports are exposed ports, e.g. 8080 or 8080/tcp.
	Ports []string `yaml:"ports"`
	// Volumes are absolute paths the image declares as volumes (a Dockerfile's VOLUME), where the
	// service writes data that production mounts a volume for. Smoke mounts an empty tmpfs at each.
	Volumes []string `yaml:"volumes"`
	// Labels are image config labels.
	Labels map[string]string `yaml:"labels"`
	// Annotations are manifest and index annotations.
	Annotations map[string]string `yaml:"annotations"`
	// Publish lists the destinations. Default: registry when a repo is set, else layout and tarball.
	Publish []string `yaml:"publish"`
	// Insecure allows plain HTTP to a registry that is not on localhost.
	Insecure bool `yaml:"insecure"`
	// ResponseTimeout is how long a registry has to answer each request once it is sent (for an
	// upload, once its last byte is sent); pushes, base pulls, smoke read-backs and signing alike.
	// A request that times out is not retried.
	ResponseTimeout Duration `yaml:"response_timeout" default:"60s"`
	// RequestTimeout bounds each registry request as a whole, its upload or download included,
	// even one still making progress: 30m fits a 1 GB layer at 5 Mbit/s; raise it for larger
	// layers over slower links.
	RequestTimeout Duration `yaml:"request_timeout" default:"30m"`
	// Data is a directory copied into every image at /var/run/ko (KO_DATA_PATH), relative to the
	// project (an absolute path is taken as it is); it must exist. Default: as ko does, the
	// kodata directory next to each main package, when there is one.
	Data string `yaml:"data"`
	// DataLinks is what a symbolic link in a data directory (kodata, image.data, builds[].data)
	// that resolves outside it becomes: refuse (the default) fails naming the link and its
	// target, since following it would publish whatever file the build user can read; keep
	// stores it as a link, not followed; follow publishes what it points at, as ko does. A link
	// that resolves inside the directory is always stored as a link.
	DataLinks string `yaml:"data_links"`
	// Source is the org.opencontainers.image.source annotation. Default: from the git remote.
	Source string `yaml:"source"`
	// PerPlatform publishes each platform as its own image (multi-runner builds); see `mage index`.
	PerPlatform bool `yaml:"per_platform"`
	// SBOM writes an SPDX 2.3 SBOM per image: spdx (default) or none.
	SBOM string `yaml:"sbom" default:"spdx"`
}

// Smoke configures the image checks and the container run.
type Smoke struct {
	// Runtime is auto (docker when a daemon answers, else runc as root), docker, runc, or none
	// (static checks only).
	Runtime string `yaml:"runtime" default:"auto"`
	// Memory is the container memory limit.
	Memory Size `yaml:"memory" default:"256MiB"`
	// Timeout is the deadline of each probe.
	Timeout Duration `yaml:"timeout" default:"30s"`
	// Network is none (each container has only its own loopback; the http probe reaches the
	// service there, under docker from a small prober container that joins the service's network
	// namespace) or host (the http probe's container shares the host's network and is probed on
	// 127.0.0.1 at the probe's port, which must be free on the host; the report says so).
	Network string `yaml:"network" default:"none" enum:"none,host"`
	// StopTimeout is how long a service has after SIGTERM to exit, at the end of its probes,
	// before it is killed and the probe fails (Kubernetes' terminationGracePeriodSeconds).
	StopTimeout Duration `yaml:"stop_timeout" default:"10s"`
	// StopExit is what a non-zero exit on that SIGTERM does: report (the default) warns, enforce
	// fails the probe.
	StopExit string `yaml:"stop_exit" default:"report"`
	// Pids is how many processes and threads a container may have, as docker --pids-limit.
	Pids int `yaml:"pids" default:"256"`
	// AllowRoot permits running an image whose user is root; without it such an image is not run
	// at all. It is its own decision: image.allow_root (the image may be root) does not imply it.
	// Even allowed, the container runs as every smoke container does: all capabilities dropped,
	// no new privileges, read-only root, no network, a pids limit.
	AllowRoot bool `yaml:"allow_root"`
	// Emulation is how a platform this machine's CPU cannot run is smoke-run when no qemu
	// binfmt_misc handler is registered (which a shared CI runner seldom lets one register):
	// auto runs the image's program under this machine's qemu-<arch>-static (Debian's
	// qemu-user-static), mounted read-only into the container and never into the image; off
	// checks such a platform statically only.
	Emulation string `yaml:"emulation" default:"auto"`
	// CapAdd are the Linux capabilities given back to the service's containers (NET_BIND_SERVICE,
	// as docker --cap-add and a pod's securityContext.capabilities.add name them); none by
	// default. The smoke report names them.
	CapAdd []string `yaml:"cap_add"`
	// Debug allows a shell or package manager in the image (a debug variant).
	Debug bool `yaml:"debug"`
	// Tmpfs are writable directories mounted in every container, as production mounts an
	// emptyDir or a tmpfs there; the root filesystem stays read-only. Each is an empty tmpfs owned
	// by the image's user; list a path (/tmp, the user's home) or a mapping with path, size, mode.
	Tmpfs []Tmpfs `yaml:"tmpfs"`
	// Env are NAME=VALUE entries added to every container's environment, over the image's.
	Env []string `yaml:"env"`
	// Images holds the probes of each image, by image name.
	Images map[string]Probes `yaml:"images"`
}

// Tmpfs is one writable directory of the smoke containers; in YAML a path or a mapping.
type Tmpfs struct {
	// Path is the absolute directory in the container, e.g. /tmp or /home/nonroot.
	Path string `yaml:"path"`
	// Size bounds what the directory holds; it counts against smoke.memory.
	Size Size `yaml:"size" default:"64MiB"`
	// Mode is the directory's permission bits in octal, e.g. 1777 (as /tmp) or 0700.
	Mode string `yaml:"mode" default:"1777"`
}

// Probes are the run checks of one image. Each probe runs in a container of its own.
type Probes struct {
	// Exit runs the image once and expects exit code 0.
	Exit *ExitProbe `yaml:"exit"`
	// HTTP starts the image and expects an answer (by default a 2xx) from a path.
	HTTP *HTTPProbe `yaml:"http"`
	// Probes are further probes, each a mapping with one of exit or http: several endpoints,
	// several runs with other arguments.
	Probes []Probe `yaml:"probes"`
}

// Probe is one item of a probes list: exactly one of exit and http.
type Probe struct {
	// Exit runs the image once and expects exit code 0.
	Exit *ExitProbe `yaml:"exit"`
	// HTTP starts the image and expects an answer (by default a 2xx) from a path.
	HTTP *HTTPProbe `yaml:"http"`
}

// ExitProbe runs the image with Args and expects exit code 0 (and Output to match).
type ExitProbe struct {
	// Args are given to the entrypoint, e.g. --version.
	Args []string `yaml:"args"`
	// Output is a regular expression the combined output must match.
	Output string `yaml:"output"`
}

// HTTPProbe starts the image, GETs Path on Port until the answer is the expected one (a 2xx
// unless Status says otherwise), then stops it with SIGTERM.
type HTTPProbe struct {
	// Args are given to the entrypoint, e.g. a listen address.
	Args []string `yaml:"args"`
	// Port is the port the service listens on.
	Port int `yaml:"port"`
	// Path is the path to GET.
	Path string `yaml:"path" default:"/"`
	// Timeout is how long the service has to answer.
	Timeout Duration `yaml:"timeout" default:"20s"`
	// Status is the status the answer must have, e.g. 200 or 404; a 3xx is checked, not followed.
	// Default: any 2xx.
	Status int `yaml:"status"`
	// Body is a regular expression the answer's body (its first MiB) must match.
	Body string `yaml:"body"`
	// Host is the Host header to send, for a server that routes by name. Default: 127.0.0.1:<port>.
	Host string `yaml:"host"`
}

// PGO configures profile collection and placement.
type PGO struct {
	// Endpoints are pprof base URLs or full .../debug/pprof/profile URLs (SCRATCHKIT_PGO_ENDPOINTS).
	Endpoints []Endpoint `yaml:"endpoints"`
	// Seconds is the sample length of each profile.
	Seconds int `yaml:"seconds" default:"30"`
	// Files are profiles already collected.
	Files []string `yaml:"files"`
	// Workload profiles a local run of the built binary under load.
	Workload *Workload `yaml:"workload"`
	// MinSources is how many valid inputs are needed; bad ones beyond that are reported and skipped.
	// Default: every input must be valid.
	MinSources int `yaml:"min_sources"`
	// Builds are the builds that get the profile. Default: every build whose main is in the module.
	Builds []string `yaml:"builds"`
	// Timeout bounds each fetch beyond its sample length.
	Timeout Duration `yaml:"timeout" default:"30s"`
	// Retries bounds retries of connection errors and 5xx.
	Retries int `yaml:"retries" default:"2"`
	// Headers are sent to every endpoint.
	Headers map[string]string `yaml:"headers"`
	// BearerTokenEnv names an environment variable holding a bearer token.
	BearerTokenEnv string `yaml:"bearer_token_env"`
	// CAFile is a PEM bundle trusted for https endpoints.
	CAFile string `yaml:"ca_file"`
	// Insecure skips TLS verification (only when asked).
	Insecure bool `yaml:"insecure"`
	// Check measures a new profile on pgo.workload before pgo places it, as the pgoCheck target
	// does: off; report (measure, place, report); or enforce (refuse, keeping the current file, a
	// profile measurably worse than the current one, or than none when none is placed).
	Check string `yaml:"check" default:"off"`
	// CheckRounds is how many rounds each comparison of the check runs (at least 2).
	CheckRounds int `yaml:"check_rounds" default:"6"`
	// CheckWindow is each round's measured window, after CheckWarmup of load.
	CheckWindow Duration `yaml:"check_window" default:"3s"`
	// CheckWarmup is the load before each round's window.
	CheckWarmup Duration `yaml:"check_warmup" default:"1s"`
}

// Endpoint is one pprof endpoint; in YAML either a URL or a mapping.
type Endpoint struct {
	// URL is a pprof base URL or a full .../debug/pprof/profile URL.
	URL string `yaml:"url"`
	// Headers are sent to this endpoint, over pgo.headers.
	Headers map[string]string `yaml:"headers"`
	// BearerTokenEnv names an environment variable holding this endpoint's bearer token.
	BearerTokenEnv string `yaml:"bearer_token_env"`
	// CAFile is a PEM bundle trusted for this endpoint.
	CAFile string `yaml:"ca_file"`
	// Insecure skips TLS verification for this endpoint (only when asked).
	Insecure bool `yaml:"insecure"`
}

// Workload is a local run of a service under load, profiled over its pprof endpoint.
type Workload struct {
	// Build names the build whose binary (host platform) is started; or use Command.
	Build string `yaml:"build"`
	// Command is the command line to start instead of a built binary.
	Command []string `yaml:"command"`
	// Args are the arguments of the built binary.
	Args []string `yaml:"args"`
	// Env are extra NAME=VALUE entries for the service.
	Env []string `yaml:"env"`
	// Pprof is the base URL of its pprof endpoint, e.g. http://127.0.0.1:6060.
	Pprof string `yaml:"pprof"`
	// Ready is polled until it answers 2xx before the load starts.
	Ready string `yaml:"ready"`
	// Load is a load command; or use URLs with Rate and Duration.
	Load []string `yaml:"load"`
	// URLs are driven by the built-in load generator.
	URLs []string `yaml:"urls"`
	// Rate is requests per second of the built-in load generator (0: as fast as possible).
	Rate int `yaml:"rate"`
	// Duration is how long the load runs. Default: the sample length.
	Duration Duration `yaml:"duration"`
	// Concurrency is how many requests the built-in load generator keeps in flight.
	Concurrency int `yaml:"concurrency" default:"4"`
	// Warmup is how long the load runs before profiling starts.
	Warmup Duration `yaml:"warmup" default:"1s"`
	// ReadyTimeout is how long the service may take to answer ready.
	ReadyTimeout Duration `yaml:"ready_timeout" default:"30s"`
	// MeasureOnly makes the workload only the load pgo.check and pgoCheck measure on, not an
	// input to profile: the profile then comes from pgo.endpoints and pgo.files alone.
	MeasureOnly bool `yaml:"measure_only"`
	// Bench makes the workload a library's benchmarks instead of a service: pgo.check and
	// pgoCheck build the package's test binary without and with the profile (go test -c -pgo)
	// and run its benchmarks side by side; pgo profiles them (-test.cpuprofile) unless
	// measure_only. Build, command, args, pprof, ready, load and urls are then errors.
	Bench *Bench `yaml:"bench"`
}

// Bench is a library's workload: `go test -bench` on one package.
type Bench struct {
	// Package is the package whose benchmarks run, e.g. ./parser (one package, no ...).
	Package string `yaml:"package"`
	// Pattern selects the benchmarks (-test.bench), e.g. BenchmarkParse or . for all of them.
	Pattern string `yaml:"pattern"`
	// Benchtime is each benchmark's -test.benchtime per measured run: a duration (3s) or a count
	// (1000x). Default: pgo.check_window. Profiling runs each benchmark for pgo.seconds.
	Benchtime string `yaml:"benchtime"`
}

// Sign configures signing.
type Sign struct {
	// Key is a cosign key reference: a file, env://VAR, or a KMS URI (COSIGN_KEY). Default: cosign.key.
	Key string `yaml:"key"`
	// Pub is the public key used to verify. Default: cosign.pub.
	Pub string `yaml:"pub"`
	// Keyless signs with Fulcio and Rekor using an ambient OIDC token (needs the network).
	Keyless bool `yaml:"keyless"`
	// TLog uploads signatures to the Rekor transparency log (needs the network).
	TLog bool `yaml:"tlog"`
	// Recursive also signs each platform manifest of an index.
	Recursive bool `yaml:"recursive"`
	// Attest lists the attestations: the SBOM and the SLSA provenance of each image, and the
	// vulnerability check of each platform's binary (skipped with a warning where Verify
	// recorded none, unless listed here). Default: all three.
	Attest []string `yaml:"attest"`
	// Format is how signatures and attestations are stored: bundle (Sigstore bundles attached as
	// OCI referrers, SHA256SUMS.sigstore.json: cosign v3's default), legacy (cosign's .sig and .att
	// tags, SHA256SUMS.sig: every cosign), or both.
	Format string `yaml:"format" default:"both"`
	// Checksums writes and signs dist/SHA256SUMS. Default: true.
	Checksums *bool `yaml:"checksums"`
	// FulcioURL, RekorURL and IdentityToken configure keyless signing.
	FulcioURL     string `yaml:"fulcio_url" default:"https://fulcio.sigstore.dev"`
	RekorURL      string `yaml:"rekor_url" default:"https://rekor.sigstore.dev"`
	IdentityToken string `yaml:"identity_token"`
	// Timestamp is the URL of an RFC 3161 timestamp authority, e.g. a Sigstore
	// timestamp-authority's https://tsa.example/api/v1/timestamp: every bundle Sign writes then
	// carries a timestamp from it (trusted time for a key-based signature), and verifySignatures
	// requires one, checked against sign.trusted_root.
	Timestamp string `yaml:"timestamp"`
	// TrustedRoot is a Sigstore trusted root (a file, or an http(s) URL) naming the certificate
	// authorities, transparency logs and timestamp authorities of a private Sigstore deployment:
	// verifySignatures checks bundles against it, and Sign copies it to dist/trusted_root.json
	// for the release's verifiers. Default: Sigstore's public trusted root (with a key and no
	// log, one naming no authority).
	TrustedRoot string `yaml:"trusted_root"`
	// SigningConfig is a Sigstore signing config (a file, or an http(s) URL;
	// application/vnd.dev.sigstore.signingconfig.v0.2+json) naming the Fulcio, Rekor (v1 or v2)
	// and timestamp authority of a Sigstore deployment: Sign uses them instead of
	// sign.fulcio_url and sign.rekor_url, and its timestamp authority unless sign.timestamp is
	// set. A Rekor v2 needs sign.format: bundle. Default: none (the public good instance).
	SigningConfig string `yaml:"signing_config"`
	// Identity is the signer verifySignatures requires of keyless signatures: the certificate's
	// identity, e.g. https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main
	// (GitHub Actions) or https://gitlab.com/org/repo//.gitlab-ci.yml@refs/heads/main (GitLab
	// CI). Keyless verification needs it or identity_regexp, and oidc_issuer or oidc_issuer_regexp.
	Identity string `yaml:"identity"`
	// IdentityRegexp is a regular expression the keyless signer's identity must match, instead
	// of sign.identity.
	IdentityRegexp string `yaml:"identity_regexp"`
	// OIDCIssuer is the OIDC issuer that must have vouched for the keyless signer, e.g.
	// https://token.actions.githubusercontent.com or https://gitlab.com.
	OIDCIssuer string `yaml:"oidc_issuer"`
	// OIDCIssuerRegexp is a regular expression the OIDC issuer must match, instead of
	// sign.oidc_issuer.
	OIDCIssuerRegexp string `yaml:"oidc_issuer_regexp"`
}

// SignChecksums reports whether SHA256SUMS is written and signed.
func (s Sign) SignChecksums() bool { return s.Checksums == nil || *s.Checksums }

// Duration is a time.Duration written as "30s" or "2m".
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
