// Package launch runs the scratchkit engine (cmd/scratchkit) for the mage targets. It finds the
// scratchkit the magefile was built with (a module version, or a checkout it replaces), builds
// the engine from it once and caches it, then runs it as a child on the same terminal, with the
// same environment, forwarding Ctrl-C. It imports only the standard library (and
// internal/redact, which does too), so that a magefile importing the targets compiles little.
//
// The engine comes in two variants: core (every stage but signing, without cosign and without
// ko's docker and kind publishers) and full. A first `mage image` builds only the core.
package launch

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/scratchkit/scratchkit/internal/cachedir"
)

// ModulePath is scratchkit's module.
const ModulePath = "github.com/scratchkit/scratchkit"

// Environment variables between the targets and the engine, and for users.
const (
	// EnvStatus names the file the engine writes its Status to, instead of printing its error.
	EnvStatus = "SCRATCHKIT_STATUS"
	// EnvConfigure holds the JSON of what the magefile passed to targets.Configure. The engine
	// removes it from its environment once read.
	EnvConfigure = "SCRATCHKIT_CONFIGURE"
	// EnvWarned is set by the targets on every engine run of a mage invocation after the first:
	// that run printed the configuration's warnings, so this one does not again. The engine
	// removes it once read.
	EnvWarned = "SCRATCHKIT_CONFIG_WARNED"
	// EnvEngine names an engine binary to run instead of building one (e.g. one installed with
	// go install github.com/scratchkit/scratchkit/cmd/scratchkit@<version>).
	EnvEngine = "SCRATCHKIT_ENGINE"
	// EnvCache overrides where engines (and every other cache) are kept (cachedir.Dir).
	EnvCache = cachedir.Env
)

// Exit statuses of the engine.
const (
	ExitFailure     = 1   // a stage failed; Status.Error says why
	ExitUsage       = 2   // bad command line
	ExitNeedsFull   = 3   // this core engine lacks what the run needs; nothing ran
	ExitInterrupted = 130 // interrupted (Ctrl-C, SIGTERM) after cleaning up
)

// Status is what the engine reports to the targets when it exits.
type Status struct {
	// Ran are the stages that ran and passed, in order: a later target of the same mage
	// invocation skips them.
	Ran []string `json:"ran,omitempty"`
	// Error is the failure, said once; empty on success.
	Error string `json:"error,omitempty"`
	// NeedsFull is set when the core engine stopped before running anything because the run
	// needs the full engine.
	NeedsFull bool `json:"needs_full,omitempty"`
	// Code is the exit status.
	Code int `json:"code"`
}

// Write writes s to path.
func (s Status) Write(path string) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// readStatus reads the status the engine wrote to path.
func readStatus(path string) (Status, error) {
	var s Status
	data, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("the engine's status %s: %w", path, err)
	}
	return s, nil
}

// ExitError is a failed engine run: mage prints Error() once and exits with ExitStatus().
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// ExitStatus is the status mage exits with.
func (e *ExitError) ExitStatus() int { return e.Code }
