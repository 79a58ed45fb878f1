package run

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/scratchkit/scratchkit/internal/bytesize"
	"github.com/scratchkit/scratchkit/targets/lint"
)

// mount is one tmpfs of a container, as both runtimes mount it.
type mount struct {
	path     string
	size     int64
	mode     uint32
	uid, gid int
	volume   bool // declared by the image config's Volumes, not asked for in Options.Tmpfs
}

// mounts lists the tmpfs mounts of the image's containers: opts.Tmpfs, then one at every volume
// the image config declares that opts.Tmpfs does not name, each owned by the image's user. A
// declared volume no tmpfs can be mounted at (the root, /proc) is left out and returned in skipped.
func mounts(i *lint.Image, opts Options) (out []mount, skipped []string) {
	owner := func(m mount) mount {
		if u, err := i.User(); err == nil {
			m.uid, m.gid = u.UID(), u.GID()
		}
		if m.size == 0 {
			m.size = DefaultTmpfsSize
		}
		if m.mode == 0 {
			m.mode = DefaultTmpfsMode
		}
		return m
	}
	named := map[string]bool{}
	for _, t := range opts.Tmpfs {
		out = append(out, owner(mount{path: t.Path, size: t.Size, mode: t.Mode}))
		named[t.Path] = true
	}
	var volumes []string
	for v := range i.Config().Config.Volumes {
		volumes = append(volumes, v)
	}
	slices.Sort(volumes)
	for _, v := range volumes {
		switch {
		case named[v]:
		case CheckTmpfs(v) != nil:
			skipped = append(skipped, v)
		default:
			out = append(out, owner(mount{path: v, volume: true}))
			named[v] = true
		}
	}
	return out, skipped
}

// options are the tmpfs mount options after nosuid, nodev and noexec: its size, mode and owner.
func (m mount) options() []string {
	return []string{"size=" + strconv.FormatInt(m.size, 10), "mode=" + strconv.FormatUint(uint64(m.mode), 8),
		"uid=" + strconv.Itoa(m.uid), "gid=" + strconv.Itoa(m.gid)}
}

// String describes the mount for the report: "/tmp (64.0 MiB)", "/data (volume, 64.0 MiB)".
func (m mount) String() string {
	what := bytesize.Format(m.size)
	if m.volume {
		what = "volume, " + what
	}
	return fmt.Sprintf("%s (%s)", m.path, what)
}

// mountList is the report's description of all mounts.
func mountList(ms []mount) []string {
	out := make([]string, len(ms))
	for k, m := range ms {
		out[k] = m.String()
	}
	return out
}

// withEnv sets NAME=VALUE entries over env, replacing a name env already has.
func withEnv(env []string, set []string) []string {
	out := append([]string{}, env...)
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		i := slices.IndexFunc(out, func(e string) bool { n, _, _ := strings.Cut(e, "="); return n == k })
		if i >= 0 {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out
}
