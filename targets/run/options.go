package run

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/internal/defaults"
	"github.com/scratchkit/scratchkit/internal/envvar"
	"github.com/scratchkit/scratchkit/targets/image"
	"github.com/scratchkit/scratchkit/targets/lint"
)

// Runtimes Options.Runtime can name.
const (
	RuntimeAuto   = "auto"   // docker when a daemon answers, else runc when running as root
	RuntimeDocker = "docker" // the docker CLI and its daemon
	RuntimeRunc   = "runc"   // runc on an unpacked bundle (needs root)
	RuntimeNone   = "none"   // static checks only
)

// Networks Options.Network can name.
const (
	// NetworkNone gives every container its own network namespace with only a loopback
	// interface; an http probe reaches the service there (the default).
	NetworkNone = "none"
	// NetworkHost runs the http probe's container in the host's network namespace and probes
	// 127.0.0.1:<port> of the host, where the port must be free. Only when asked for.
	NetworkHost = "host"
)

// Defaults of the zero Options.
const (
	DefaultMemory      = 256 << 20 // bytes, as the smoke.memory default "256MiB" (docker --memory 256m)
	DefaultPids        = 256       // processes and threads, as the smoke.pids default
	MinPids            = 16        // the Go runtime alone starts several threads
	DefaultTimeout     = 30 * time.Second
	DefaultStopTimeout = 10 * time.Second // as `docker stop`
	DefaultStartWait   = 3 * time.Second
	DefaultTmpfsSize   = 64 << 20 // bytes, as the smoke.tmpfs size default "64MiB"
	DefaultTmpfsMode   = 0o1777   // as /tmp
)

// Options says how to check and run one image. It is plain data; zero values mean the documented
// defaults.
type Options struct {
	// Policy is what the image may be (lint.Policy: root, capabilities, a debug variant, the
	// verified binaries, the base, the limits of reading it). AllowRoot does not widen the
	// container: every container runs with all capabilities dropped but CapAdd, whatever its user.
	lint.Policy

	// Runtime is auto (the default), docker, runc or none.
	Runtime string
	// NoEmulation leaves a foreign platform that no binfmt_misc handler runs statically checked
	// only, instead of running it under this machine's qemu-user-static (smoke.emulation: off).
	NoEmulation bool
	// Memory is the container's memory limit in bytes; 0 means DefaultMemory.
	Memory int64
	// Timeout is the deadline of each probe (an exit probe's whole run, an http probe's default
	// time to answer); 0 means DefaultTimeout.
	Timeout time.Duration
	// StopTimeout is how long a service has to exit after SIGTERM before it is killed and the
	// probe fails; 0 means DefaultStopTimeout.
	StopTimeout time.Duration
	// StopExit is what a non-zero exit on SIGTERM does to a probe that otherwise passed: StopReport
	// (the default) passes it with a warning, StopEnforce fails it. Kubernetes stops a pod with
	// SIGTERM and counts a non-zero exit as a failed container.
	StopExit string

	// Probes say what to run, each in a container of its own, in order. With none, the image is
	// started with its own arguments and must not exit with a failure within DefaultStartWait (a
	// "start" probe).
	Probes []Probe
	// Tmpfs are writable directories mounted in every container, as production mounts an
	// emptyDir or a tmpfs; the root filesystem stays read-only. Every volume the image config
	// declares gets one too (DefaultTmpfsSize, DefaultTmpfsMode) unless listed here.
	Tmpfs []Tmpfs
	// Env are NAME=VALUE entries added to every container's environment, over the image's.
	Env []string

	// Network is none (the default) or host: see NetworkNone and NetworkHost. Only http probes
	// ever get the host's network; exit and start probes always run with none.
	Network string
	// Pids bounds the processes and threads of a container; 0 means DefaultPids.
	Pids int
	// Docker and Runc are the CLIs to use; empty means "docker" and "runc" on PATH.
	Docker, Runc string
	// TempDir holds runc bundles while they run; empty means os.TempDir().
	TempDir string
	// CacheDir holds what smoke builds once and keeps (the http prober); empty means
	// os.UserCacheDir()/scratchkit.
	CacheDir string

	// Log receives progress lines; nil discards them.
	Log func(format string, args ...any)
}

// Probe is one run check of an image: exactly one of Exit and HTTP.
type Probe struct {
	// Name labels the probe in the report (e.g. the configuration key that set it); empty
	// means its kind, exit or http.
	Name string
	Exit *ExitProbe
	HTTP *HTTPProbe
}

// Kind is "exit" or "http".
func (p Probe) Kind() string {
	if p.HTTP != nil {
		return "http"
	}
	return "exit"
}

// Tmpfs is one writable directory of the containers: an empty tmpfs (nosuid, nodev, noexec, as
// docker --tmpfs mounts it) owned by the image's user.
type Tmpfs struct {
	// Path is the absolute directory in the container, e.g. /tmp or /home/nonroot.
	Path string
	// Size bounds what it holds, in bytes; 0 means DefaultTmpfsSize. It counts against Memory.
	Size int64
	// Mode is its permission bits, e.g. 0o1777 or 0o700; 0 means DefaultTmpfsMode.
	Mode uint32
}

// ExitProbe runs the image with Args after the entrypoint (replacing the image's own arguments,
// as `docker run IMAGE ARGS...` does) and expects exit code 0 within the deadline.
type ExitProbe struct {
	Args []string
	// Output is a regular expression the combined stdout and stderr must match; empty: any.
	Output string
}

// HTTPProbe starts the image, GETs Path on Port until the answer is the expected one (a 2xx,
// unless Status says otherwise, with a body matching Body), then stops it with SIGTERM and
// expects it to exit.
type HTTPProbe struct {
	// Args replace the image's own arguments; nil keeps them (e.g. -addr :8080 from the image).
	Args []string
	// Port is the TCP port the service listens on inside the container.
	Port int
	// Path is the path to GET; empty means "/".
	Path string
	// Timeout is how long the service has to answer as expected; 0 means Options.Timeout.
	Timeout time.Duration
	// Status is the status the answer must have; 0 means any 2xx. A 3xx is checked, not followed.
	Status int
	// Body is a regular expression the answer's body (its first httpprobe.MaxBody bytes) must
	// match; empty: any.
	Body string
	// Host is the Host header to send; empty means the URL's, 127.0.0.1:<Port>.
	Host string
}

// What a non-zero exit on SIGTERM does (Options.StopExit).
const (
	StopReport  = "report"
	StopEnforce = "enforce"
)

// StopExits are the values of Options.StopExit, the default first.
func StopExits() []string { return []string{StopReport, StopEnforce} }

// Runtimes are the values of Options.Runtime (smoke.runtime), the default first.
func Runtimes() []string { return []string{RuntimeAuto, RuntimeDocker, RuntimeRunc, RuntimeNone} }

// Networks are the values of Options.Network (smoke.network), the default first.
func Networks() []string { return []string{NetworkNone, NetworkHost} }

// withDefaults fills in the defaults and validates what can be wrong in o.
func (o Options) withDefaults() (Options, error) {
	if o.Runtime == "" {
		o.Runtime = RuntimeAuto
	}
	if !slices.Contains(Runtimes(), o.Runtime) {
		return o, fmt.Errorf("smoke runtime %q: want one of %s", o.Runtime, strings.Join(Runtimes(), ", "))
	}
	if o.Memory == 0 {
		o.Memory = DefaultMemory
	}
	if o.Memory < 6<<20 {
		return o, fmt.Errorf("smoke memory %d bytes: want at least 6MiB (docker's minimum)", o.Memory)
	}
	if o.Network == "" {
		o.Network = NetworkNone
	}
	if !slices.Contains(Networks(), o.Network) {
		return o, fmt.Errorf("smoke network %q: want none (the container's own loopback) or host", o.Network)
	}
	if o.Pids == 0 {
		o.Pids = DefaultPids
	}
	if o.Pids < MinPids {
		return o, fmt.Errorf("smoke pids %d: want at least %d (the Go runtime alone starts several threads)", o.Pids, MinPids)
	}
	o.Timeout, o.StopTimeout = defaults.Positive(o.Timeout, DefaultTimeout), defaults.Positive(o.StopTimeout, DefaultStopTimeout)
	o.Docker = defaults.String(o.Docker, "docker")
	o.StopExit = defaults.String(o.StopExit, StopReport)
	if !slices.Contains(StopExits(), o.StopExit) {
		return o, fmt.Errorf("smoke stop exit %q: want one of %s", o.StopExit, strings.Join(StopExits(), ", "))
	}
	if o.Runc == "" {
		o.Runc = "runc"
	}
	for i, p := range o.Probes {
		if err := p.check(); err != nil {
			return o, fmt.Errorf("smoke probe %d (%s): %w", i, orKind(p), err)
		}
	}
	seen := map[string]bool{}
	for _, t := range o.Tmpfs {
		if err := CheckTmpfs(t.Path); err != nil {
			return o, fmt.Errorf("smoke tmpfs: %w", err)
		}
		if seen[t.Path] {
			return o, fmt.Errorf("smoke tmpfs %s is listed twice", t.Path)
		}
		seen[t.Path] = true
		if t.Size < 0 || t.Mode > 0o7777 {
			return o, fmt.Errorf("smoke tmpfs %s: size %d, mode %o: want a size of 0 (the default) or more and permission bits up to 7777", t.Path, t.Size, t.Mode)
		}
	}
	for _, e := range o.Env {
		if _, _, err := envvar.Split(e); err != nil {
			return o, fmt.Errorf("smoke env: %w", err)
		}
	}
	if err := o.Policy.Validate(); err != nil {
		return o, fmt.Errorf("smoke: %w", err)
	}
	return o, nil
}

// policy is the lint policy of o's images: o.Policy, with the ports the http probes listen on.
func (o Options) policy() lint.Policy {
	pol := o.Policy
	pol.ProbedPorts = slices.Clone(pol.ProbedPorts)
	for _, p := range o.Probes {
		if p.HTTP != nil {
			pol.ProbedPorts = append(pol.ProbedPorts, p.HTTP.Port)
		}
	}
	return pol
}

// Problem is one thing wrong in a probe: the field at fault (its configuration key, e.g. port)
// and what is wrong with it.
type Problem struct {
	Field, Msg string
}

// Problems says what is wrong in an exit probe.
func (e ExitProbe) Problems() []Problem {
	if e.Output != "" {
		if _, err := regexp.Compile(e.Output); err != nil {
			return []Problem{{"output", fmt.Sprintf("%q is not a regular expression: %v", e.Output, err)}}
		}
	}
	return nil
}

// Problems says what is wrong in an http probe, every field.
func (h HTTPProbe) Problems() []Problem {
	var out []Problem
	if h.Port < 1 || h.Port > 65535 {
		out = append(out, Problem{"port", fmt.Sprintf("%d: want the port the service listens on inside the container (1-65535)", h.Port)})
	}
	if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		out = append(out, Problem{"path", fmt.Sprintf("%q must start with /", h.Path)})
	}
	if h.Status != 0 && (h.Status < 100 || h.Status > 599) {
		out = append(out, Problem{"status", fmt.Sprintf("%d is not an HTTP status; write e.g. 200, or leave it out to accept any 2xx", h.Status)})
	}
	if h.Body != "" {
		if _, err := regexp.Compile(h.Body); err != nil {
			out = append(out, Problem{"body", fmt.Sprintf("%q is not a regular expression: %v", h.Body, err)})
		}
	}
	if h.Host != "" {
		if u, err := url.Parse("http://" + h.Host + "/"); err != nil || u.Host != h.Host || strings.ContainsAny(h.Host, " \t\r\n/@") {
			out = append(out, Problem{"host", fmt.Sprintf("%q is not a host name for the Host header; write e.g. example.com or example.com:8080", h.Host)})
		}
	}
	return out
}

// check validates one probe.
func (p Probe) check() error {
	if (p.Exit == nil) == (p.HTTP == nil) {
		return errors.New("want exactly one of Exit and HTTP")
	}
	var probs []Problem
	if p.Exit != nil {
		probs = p.Exit.Problems()
	} else {
		probs = p.HTTP.Problems()
	}
	if len(probs) > 0 {
		return fmt.Errorf("%s %s", probs[0].Field, probs[0].Msg)
	}
	return nil
}

// orKind is the probe's name, else its kind.
func orKind(p Probe) string {
	if p.Name != "" {
		return p.Name
	}
	return p.Kind()
}

// CheckTmpfs checks a directory a tmpfs is mounted at in every container: image.CheckVolume's rule,
// and a name docker --tmpfs can take. The error starts with dir quoted.
func CheckTmpfs(dir string) error {
	if err := image.CheckVolume(dir); err != nil {
		return err
	}
	if strings.ContainsAny(dir, ":,") {
		return fmt.Errorf("%q: a directory with ':' or ',' in its name cannot be given to docker --tmpfs", dir)
	}
	return nil
}

func (o Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}
