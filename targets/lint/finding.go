package lint

import "github.com/scratchkit/scratchkit/targets/binary"

// Names of the static checks, as in Finding.Check. They are stable.
const (
	CheckConfig     = "config"     // the image config can be read and names a program
	CheckEntrypoint = "entrypoint" // exists, regular file, executable by the image's user
	CheckLinkage    = "linkage"    // static (binary.Check)
	CheckPlatform   = "platform"   // the binary is built for the image's platform (binary.Check)
	CheckBinary     = "binary"     // sha256 equals the verified dist binary
	CheckUser       = "user"       // not root unless allowed; names resolve in /etc/passwd, /etc/group
	CheckCARoots    = "ca-roots"   // a TLS client finds CA roots
	CheckZoneInfo   = "zoneinfo"   // a time.LoadLocation caller finds zone data
	CheckPasswd     = "passwd"     // an os/user caller finds /etc/passwd
	CheckPorts      = "ports"      // a non-root service does not need a port below 1024
	CheckBase       = "base"       // the base is pinned by digest
	CheckShell      = "shell"      // no shell or package manager unless a debug variant
)

// Finding is the outcome of one static check. Its status is pass, fail, warn (worth knowing;
// does not fail the image) or skip (nothing to check: no digest given, feature not used, ...).
type Finding struct {
	Check  string        `json:"check"`
	Status binary.Status `json:"status"`
	// Detail says what was found; for a failure also the symptom it would cause and the fix.
	Detail string `json:"detail"`
}
