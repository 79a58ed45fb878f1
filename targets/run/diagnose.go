package run

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/scratchkit/scratchkit/internal/bytesize"
	"github.com/scratchkit/scratchkit/targets/image"
)

// pitfall is a known failure of Go programs in minimal images: how it shows in the output, and
// what it means.
type pitfall struct {
	re      *regexp.Regexp
	explain func(m []string) string
}

var pitfalls = []pitfall{
	{
		// runc: the entrypoint exists (else "stat ...: no such file or directory" below) but
		// execve(2) says ENOENT: the ELF interpreter it names is missing.
		re: regexp.MustCompile(`exec (/\S+): no such file or directory`),
		explain: func(m []string) string {
			return fmt.Sprintf("%s is there, but the kernel could not start it: \"no such file or directory\" for a file that exists means the dynamic loader it asks for "+
				"(e.g. /lib64/ld-linux-x86-64.so.2) is not in the image. The binary is dynamically linked (cgo, or -buildmode=pie without -static-pie), and scratch and the static base "+
				"have no C library. Fix: build with CGO_ENABLED=0 (linkage: static), or link the C code statically (linkage: cgo-static or static-pie); Verify's linkage check "+
				"catches this before the image is built.", m[1])
		},
	},
	{
		re: regexp.MustCompile(`exec: "?([^":\s]+)"?: stat \S+: no such file or directory|exec: "?([^":\s]+)"?: executable file not found in \$PATH`),
		explain: func(m []string) string {
			p := m[1] + m[2]
			return fmt.Sprintf("the entrypoint %s is not in the image. Fix: point the entrypoint at the binary (scratchkit puts it at %s) or put the binary where the entrypoint says.", p, image.AppPath("<name>"))
		},
	},
	{
		re: regexp.MustCompile(`exec format error`),
		explain: func([]string) string {
			return "the binary is for another CPU architecture than the image's platform (or not an executable at all): the kernel refuses it with \"exec format error\". " +
				"Fix: build it with the image platform's GOARCH (Verify's platform check compares them), or run a foreign image only where qemu binfmt_misc is set up."
		},
	},
	{
		re: regexp.MustCompile(`x509: (certificate signed by unknown authority|the system root pool is empty|failed to load system roots[^\n]*)`),
		explain: func([]string) string {
			return "TLS verification found no CA roots: the image has no CA bundle where Go looks (/etc/ssl/certs/ca-certificates.crt and the others) and the binary embeds none. " +
				"Fix: build on the static base, which has Mozilla's roots and sets SSL_CERT_FILE; or import _ \"golang.org/x/crypto/x509roots/fallback\"; " +
				"or add a CA bundle and set SSL_CERT_FILE to it."
		},
	},
	{
		re: regexp.MustCompile(`unknown time zone (\S+)`),
		explain: func(m []string) string {
			return fmt.Sprintf("time.LoadLocation(%q) found no zone data: the image has no /usr/share/zoneinfo (and no ZONEINFO) and the binary does not embed time/tzdata. "+
				"Fix: build on the static base, which has Go's zone data; or import _ \"time/tzdata\" (or -tags timetzdata, about 450KB); "+
				"or add a zoneinfo.zip and set ZONEINFO to it.", strings.TrimRight(m[1], ".,:;"))
		},
	},
	{
		re: regexp.MustCompile(`listen \w+ \S*?:(\d+): bind: permission denied|bind: permission denied`),
		explain: func(m []string) string {
			port := "below 1024"
			if m[1] != "" {
				port = m[1]
			}
			return fmt.Sprintf("a non-root process may not bind port %s (it needs root or CAP_NET_BIND_SERVICE; Kubernetes and host networking enforce it, Docker's own "+
				"network namespaces hide it). Fix: listen on a port of 1024 or above (e.g. -addr :8080) and map the outside port to it (Service targetPort, docker -p 80:8080).", port)
		},
	},
	{
		re: regexp.MustCompile(`(?:open|mkdir|create|write|rename|remove|chmod|symlink|link)\w* (\S+): read-only file system|read-only file system`),
		explain: func(m []string) string {
			what, dir := "a file in the image", "<its directory>"
			if m[1] != "" {
				what = strings.TrimRight(m[1], ".,:;")
				if d := path.Dir(what); path.IsAbs(what) && d != "/" {
					dir = d
				}
			}
			return fmt.Sprintf("the program writes %s, but the root filesystem is read-only, in smoke as in production (Kubernetes readOnlyRootFilesystem, docker --read-only). "+
				"Fix: mount a writable directory there in production (an emptyDir or tmpfs, or a data volume) and say so to smoke: smoke.tmpfs: [%s] "+
				"(or image.volumes for a data directory); or make the path configurable by flag or environment and point it at one. Never write to the image's own files.", what, dir)
		},
	},
	{
		re: regexp.MustCompile(`(?:open|write|mkdir|create)\w* (\S+): no space left on device`),
		explain: func(m []string) string {
			return fmt.Sprintf("the writable directory holding %s is full: smoke's tmpfs directories are bounded (smoke.tmpfs size, %s by default, also for image volumes), as production's should be. "+
				"Fix: raise the size in smoke.tmpfs (and in production's emptyDir sizeLimit) if the service really needs that much, or make it keep less.", strings.TrimRight(m[1], ".,:;"), bytesize.Format(DefaultTmpfsSize))
		},
	},
	{
		re: regexp.MustCompile(`user: Current requires cgo|user: unknown user(?:id)? \S+`),
		explain: func([]string) string {
			return "os/user could not find the running user: the image has no /etc/passwd, or the uid is not in it. " +
				"Fix: build on the static base (its /etc/passwd has root, nobody and nonroot 65532) or add an /etc/passwd listing the user."
		},
	},
	{
		re: regexp.MustCompile(`unable to find (?:user|group) (\S+): no matching entries in (?:passwd|group) file`),
		explain: func(m []string) string {
			return fmt.Sprintf("the image's user names %s, which its /etc/passwd (or /etc/group) does not list, so the runtime cannot start the container. "+
				"Fix: use numbers (image.user: 65532:65532) or a name the base defines.", strings.TrimRight(m[1], ".,:;"))
		},
	},
	{
		re: regexp.MustCompile(`(?:open|mkdir|exec|stat|create|chdir)\w* (\S+): permission denied`),
		explain: func(m []string) string {
			return fmt.Sprintf("the process, running as the image's non-root user, may not access %s: files written into layers are often owned by root with no access for others. "+
				"Fix: give the file or directory the right owner or mode in its layer (e.g. owned by 65532), or write somewhere the user owns (a volume); "+
				"do not switch the image to root.", strings.TrimRight(m[1], ".,:;"))
		},
	},
	{
		re: regexp.MustCompile(`failed to create new OS thread|pthread_create failed: Resource temporarily unavailable|fork/exec \S+: resource temporarily unavailable`),
		explain: func([]string) string {
			return "the process hit the container's limit of processes and threads (smoke.pids, 256 by default): the kernel refused a new thread with EAGAIN, and the Go runtime cannot go on without one. " +
				"Fix: find what parks threads (goroutines blocked in system calls or cgo calls, runtime.LockOSThread), or raise smoke.pids if the service really needs that many; " +
				"production's limit (Kubernetes podPidsLimit, docker --pids-limit) has the same effect."
		},
	},
	{
		re: regexp.MustCompile(`OOM killer|OOMKilled|fatal error: runtime: out of memory|fatal error: runtime: cannot allocate memory`),
		explain: func([]string) string {
			return "the process ran out of memory under the container's limit (smoke.memory) and was killed. Fix: find what allocates at start-up, or raise the limit; " +
				"set GOMEMLIMIT a little below the limit so the Go runtime collects before the kernel kills."
		},
	},
}

// Diagnose returns the explanation and fix of every known pitfall that output shows (the
// dynamic loader's "no such file or directory", x509 unknown authority, unknown time zone,
// bind permission denied, read-only file system, missing users, ...), one per line; "" when none
// matches.
func Diagnose(output string) string {
	var out []string
	seen := map[string]bool{}
	for _, p := range pitfalls {
		m := p.re.FindStringSubmatch(output)
		if m == nil {
			continue
		}
		if e := p.explain(m); !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return strings.Join(out, "\n")
}
