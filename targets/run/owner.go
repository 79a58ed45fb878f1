package run

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"sync"
)

// ownerLabel is the docker label that names the process owning a smoke container.
const ownerLabel = "org.scratchkit.smoke.owner"

// An owner token names the process that made a container, image tag, runc container or bundle,
// so that concurrent smoke runs tell theirs apart and a later run can remove what a killed one
// left behind. It is "<pid>-<start>-<ns>": the pid; the process's start time in clock ticks since
// boot, which tells a live owner from another process that got the pid later; and a digest of the
// boot id and the pid namespace, so that a token written in another pid namespace (a CI job
// sharing the docker socket), another boot or on another machine is never judged from here.
type ownerToken struct {
	pid   int
	start uint64
	ns    string
}

// ownerPattern matches a token inside a name; tokenOf parses the submatch.
const ownerPattern = `([0-9]+-[0-9]+-[0-9a-f]{8})`

var ownerRE = regexp.MustCompile(`^([0-9]+)-([0-9]+)-([0-9a-f]{8})$`)

func (o ownerToken) String() string { return fmt.Sprintf("%d-%d-%s", o.pid, o.start, o.ns) }

// parseOwner reads a token; ok is false for anything else (including the bare pids of older
// scratchkit versions, which cannot be judged safely).
func parseOwner(s string) (o ownerToken, ok bool) {
	m := ownerRE.FindStringSubmatch(s)
	if m == nil {
		return o, false
	}
	pid, err1 := strconv.Atoi(m[1])
	start, err2 := strconv.ParseUint(m[2], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return o, false
	}
	return ownerToken{pid: pid, start: start, ns: m[3]}, true
}

// namespaceID is the digest of this boot and pid namespace that tokens carry; "" when this system
// cannot say (then tokens are plain pids and nothing is ever swept).
var namespaceID = sync.OnceValue(func() string {
	boot, pidns, err := bootAndPidNamespace()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(boot + "\x00" + pidns))
	return hex.EncodeToString(sum[:4])
})

// tokenOf returns the owner token of a process of this pid namespace.
func tokenOf(pid int) (ownerToken, error) {
	ns := namespaceID()
	if ns == "" {
		return ownerToken{}, fmt.Errorf("this system does not identify its pid namespace")
	}
	start, err := processStart(pid)
	if err != nil {
		return ownerToken{}, err
	}
	return ownerToken{pid: pid, start: start, ns: ns}, nil
}

// owner is this process's token, as it appears in container names, image tags, labels and bundle
// directories; the bare pid where the system cannot name the process more exactly.
var owner = sync.OnceValue(func() string {
	t, err := tokenOf(os.Getpid())
	if err != nil {
		return strconv.Itoa(os.Getpid())
	}
	return t.String()
})

// ownerDead reports whether token names a process of this boot and pid namespace that no longer
// runs (gone, or its pid now belongs to a process that started at another time). Tokens it cannot
// judge (malformed, older formats, other namespaces) are never dead.
func ownerDead(token string) bool {
	o, ok := parseOwner(token)
	if !ok || o.ns != namespaceID() {
		return false
	}
	if !processExists(o.pid) {
		return true
	}
	// The pid is taken: by the owner, or by a process that got the pid later. A start time this
	// process may not read (another user's, with /proc mounted hidepid) is no verdict.
	start, err := processStart(o.pid)
	return err == nil && start != o.start
}
