package pgo

import (
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/internal/defaults"
)

// Defaults applied by Collect to zero fields of Options and Workload.
const (
	DefaultSeconds      = 30               // CPU profile length
	DefaultTimeout      = 30 * time.Second // per request, on top of the profile length
	DefaultRetries      = 2                // retries after a connection error or a 5xx
	DefaultRetryBackoff = time.Second      // first wait between attempts; doubles each time
	DefaultReadyTimeout = 30 * time.Second // how long a workload may take to become ready
	DefaultWarmup       = time.Second      // load before the workload's profile starts
	DefaultStopGrace    = 5 * time.Second  // SIGTERM to SIGKILL for workload processes
)

// Endpoint is one live service serving net/http/pprof.
type Endpoint struct {
	// URL is a base URL (http://10.0.0.7:6060), the pprof index (.../debug/pprof/) or a full
	// profile URL (.../debug/pprof/profile, optionally with ?seconds=N, which then wins over
	// Options.Seconds).
	URL string
	// Headers are sent with every request.
	Headers map[string]string
	// BearerTokenEnv names an environment variable holding a bearer token for the
	// Authorization header. It is read when Collect runs; an empty variable is an error.
	BearerTokenEnv string
	// CAFile is a PEM file of CA certificates trusted in addition to the system roots.
	CAFile string
	// Insecure skips TLS certificate verification. Only when asked.
	Insecure bool
}

// Workload is a local run of the service for teams without production access: Collect starts
// Command, waits for Ready, drives it with the load (a command, or the built-in HTTP load
// generator over URLs), profiles it over PprofURL, and stops everything.
type Workload struct {
	Command []string // the service, e.g. the built binary and its flags
	Dir     string   // working directory; empty: the current one
	Env     []string // KEY=VALUE added to the environment of the service and the load command

	PprofURL     string        // where it serves pprof; same forms as Endpoint.URL
	Ready        string        // URL polled until it answers 2xx; empty: PprofURL's /debug/pprof/
	ReadyTimeout time.Duration // default DefaultReadyTimeout
	Warmup       time.Duration // load before profiling starts; default DefaultWarmup, <0: none
	Duration     time.Duration // profile length; 0: Options.Seconds

	// Load is a load command, started once the service is ready and stopped after the profile.
	Load []string
	// URLs, Rate and Concurrency drive the built-in load generator instead (see GenerateLoad).
	URLs        []string
	Rate        int // requests per second over all workers; 0: as fast as Concurrency allows
	Concurrency int // concurrent requests; 0: 4

	StopGrace time.Duration // SIGTERM to SIGKILL; default DefaultStopGrace
}

// Options says where Collect finds profiles and how strict it is.
type Options struct {
	Endpoints []Endpoint // live services, fetched concurrently
	Seconds   int        // CPU profile length for endpoints and the workload; default DefaultSeconds
	Files     []string   // profiles already collected (pprof format, gzipped or not)
	Workload  *Workload  // a local run; nil: none

	// MinSources is how many inputs must be valid for Collect to succeed. 0 means all of them:
	// a replica that is down or misconfigured fails the run (and the previous default.pgo stays)
	// unless the caller explicitly accepts fewer. Bad inputs are always reported.
	MinSources int

	Timeout      time.Duration // per request on top of the profile length; default DefaultTimeout
	Retries      int           // for connection errors and 5xx; 0: DefaultRetries, <0: none
	RetryBackoff time.Duration // default DefaultRetryBackoff, doubled after each attempt

	// MainModule is the module path of the code being optimised (go.mod's module line). When
	// set, every input must have samples in it (or in package main built from it), which catches
	// an endpoint that serves a different program.
	MainModule string

	// Log receives progress messages; nil: silent.
	Log func(format string, args ...any)
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

func (o Options) seconds() int { return defaults.Positive(o.Seconds, DefaultSeconds) }

func (o Options) timeout() time.Duration { return defaults.Positive(o.Timeout, DefaultTimeout) }

func (o Options) retries() int {
	switch {
	case o.Retries < 0:
		return 0
	case o.Retries == 0:
		return DefaultRetries
	}
	return o.Retries
}

func (o Options) backoff() time.Duration {
	return defaults.Positive(o.RetryBackoff, DefaultRetryBackoff)
}

// ParseEndpoints splits a comma- or space-separated list of endpoint URLs (the form of
// SCRATCHKIT_PGO_ENDPOINTS) into Endpoints without headers or TLS options.
func ParseEndpoints(list string) []Endpoint {
	var eps []Endpoint
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		eps = append(eps, Endpoint{URL: f})
	}
	return eps
}

// Input describes one source of Collect: an endpoint, a file or the workload.
type Input struct {
	Source string // the URL (without credentials), file path, or "workload: COMMAND"
	Kind   string // "endpoint", "file" or "workload"
	Err    error  // why the input was not used; nil when it was

	Samples  int64         // samples/count in the input as collected
	CPU      time.Duration // cpu/nanoseconds in the input as collected
	Duration time.Duration // the profile's wall-clock window
	Scale    float64       // factor applied before merging (see the package doc)
	Weight   int64         // cpu/nanoseconds it contributes to the merged profile

	Load *LoadResult // the workload's load generator results, when it used the built-in one
}

// Used reports whether the input went into the merged profile.
func (in Input) Used() bool { return in.Err == nil }
