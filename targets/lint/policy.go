package lint

import (
	"fmt"
	"strings"

	"github.com/scratchkit/scratchkit/targets/imagefs"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// Policy says what one image may be and what it must match. It is plain data; the zero value
// checks an image as production would run it: non-root, no shell, a pinned base, no port below
// 1024, read within the default imagefs.Limits.
type Policy struct {
	// AllowRoot accepts an image whose user is root.
	AllowRoot bool
	// CapAdd are the capabilities (kernel names, CAP_NET_BIND_SERVICE) the service's containers
	// get back: with CAP_NET_BIND_SERVICE a root service may listen below 1024.
	CapAdd []string
	// Debug accepts a shell or package manager in the image (a debug variant).
	Debug bool
	// BinarySHA256 maps a platform to the hex sha256 of the binary Verify
	// passed for it; the entrypoint must be that file. A platform without an entry skips the
	// comparison.
	BinarySHA256 map[platform.Platform]string
	// BaseRef is the base the image was built on as configured: "static", "scratch" or a registry
	// reference, which must be pinned by digest (image.BasePinned). Empty: read from the image's
	// org.opencontainers.image.base.name annotation.
	BaseRef string
	// BasePinned accepts the base as pinned whatever BaseRef says (the caller checked it).
	BasePinned bool
	// AllowUnpinned accepts a base that is not pinned by digest with a warning rather than a
	// failure, as image.Spec.AllowUnpinned accepts it when the image is built.
	AllowUnpinned bool
	// ProbedPorts are the ports the service is expected to listen on besides those the image
	// exposes (its http probes'): below 1024 they need root or CAP_NET_BIND_SERVICE.
	ProbedPorts []int
	// Limits bound reading the image's filesystem; zero fields mean imagefs.MaxBytes and
	// imagefs.MaxEntries.
	Limits imagefs.Limits
}

// Validate says what is wrong in pol, naming the value at fault.
func (pol Policy) Validate() error {
	for p, sum := range pol.BinarySHA256 {
		if s := strings.TrimPrefix(sum, "sha256:"); len(s) != 64 || strings.Trim(s, "0123456789abcdef") != "" {
			return fmt.Errorf("binary sha256 for %s %q: want 64 lower-case hex digits", p, sum)
		}
	}
	return nil
}
