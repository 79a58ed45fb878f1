package lint

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/image"
	"github.com/scratchkit/scratchkit/targets/imagefs"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// DefaultPATH is the PATH a container gets when the image config sets none: docker's and runc's.
const DefaultPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Where Go looks for CA roots on Linux (crypto/x509 root_linux.go) and zone data (time
// zoneinfo_unix.go), and the environment variables that override them.
var (
	goCertFiles = []string{
		"/etc/ssl/certs/ca-certificates.crt",
		"/etc/pki/tls/certs/ca-bundle.crt",
		"/etc/ssl/ca-bundle.pem",
		"/etc/pki/tls/cacert.pem",
		"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
		"/etc/ssl/cert.pem",
	}
	goCertDirs       = []string{"/etc/ssl/certs", "/etc/pki/tls/certs"}
	goZoneDirs       = []string{"/usr/share/zoneinfo/", "/usr/share/lib/zoneinfo/", "/usr/lib/locale/TZ/", "/etc/zoneinfo/"}
	shellNames       = []string{"sh", "bash", "ash", "dash", "zsh", "ksh", "busybox", "toybox"}
	pkgManagerNames  = []string{"apt", "apt-get", "dpkg", "apk", "yum", "dnf", "microdnf", "rpm", "zypper", "pacman"}
	standardBinDirs  = []string{"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"}
	annotationBase   = image.AnnotationBaseName
	annotationDigest = image.AnnotationBaseDigest
)

// Image is what the checks and a runtime need to know about one platform image (Analyze).
type Image struct {
	platform platform.Platform
	config   *v1.ConfigFile
	fs       *imagefs.FS
	argv     []string // entrypoint + cmd as configured
	program  string   // argv[0] resolved to an absolute path in the image ("" when it cannot be)
	env      map[string]string
	annots   map[string]string // manifest annotations

	user    User
	userErr error

	bin    *binary.Info // nil when the entrypoint could not be read or inspected
	binErr error
}

// configEnv parses KEY=VALUE entries; later ones win, as in a process environment.
func configEnv(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// Analyze reads what the checks and a runtime need from img: config, manifest annotations, the
// flattened filesystem within lim (headers, plus /etc/passwd, /etc/group, CA files and the
// entrypoint's bytes), the user it runs as, and the entrypoint's ELF and Go build information.
func Analyze(ctx context.Context, img v1.Image, lim imagefs.Limits) (*Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read the image config: %w", err)
	}
	info := &Image{platform: platform.FromOCI(cf.Platform()), config: cf, env: configEnv(cf.Config.Env)}
	if m, err := img.Manifest(); err == nil {
		info.annots = m.Annotations
	}
	info.argv = append(append([]string{}, cf.Config.Entrypoint...), cf.Config.Cmd...)

	plan := imagefs.Plan{Files: map[string]bool{"/etc/passwd": true, "/etc/group": true}}
	for _, f := range goCertFiles {
		plan.Files[f] = true
	}
	plan.Dirs = append(plan.Dirs, goCertDirs...)
	if f := info.env["SSL_CERT_FILE"]; f != "" {
		plan.Files[path.Clean(f)] = true
	}
	if d := info.env["SSL_CERT_DIR"]; d != "" {
		for _, dir := range strings.Split(d, ":") {
			if dir != "" {
				plan.Dirs = append(plan.Dirs, path.Clean(dir))
			}
		}
	}
	var candidates []string
	if len(info.argv) > 0 {
		candidates = programCandidates(info.argv[0], info.env, cf.Config.WorkingDir)
		for _, c := range candidates {
			plan.Files[c] = true
		}
	}
	if info.fs, err = imagefs.Read(ctx, img, plan, lim); err != nil {
		return nil, err
	}
	for _, c := range candidates {
		if _, e := info.fs.Resolve(c); e != nil && e.Header.Typeflag == tar.TypeReg {
			info.program = c
			break
		}
	}
	if info.program == "" && len(candidates) > 0 && strings.Contains(info.argv[0], "/") {
		info.program = candidates[0]
	}

	// nil: the file is absent; empty: there but unreadable or empty.
	optional := func(p string) []byte {
		if !info.fs.Exists(p) {
			return nil
		}
		data, err := info.fs.ReadFile(p)
		if err != nil || data == nil {
			return []byte{}
		}
		return data
	}
	info.user, info.userErr = resolveUser(cf.Config.User, optional("/etc/passwd"), optional("/etc/group"))

	if info.program != "" {
		if data, err := info.fs.ReadFile(info.program); err != nil {
			info.binErr = err
		} else {
			info.bin, info.binErr = binary.InspectReader(ctx, bytes.NewReader(data), int64(len(data)))
		}
	}
	return info, nil
}

// programCandidates are the absolute paths argv0 may name: itself when it has a slash, else its
// name in each PATH directory (the runtime's exec looks it up in the container's PATH).
func programCandidates(argv0 string, env map[string]string, workdir string) []string {
	if strings.Contains(argv0, "/") {
		if !path.IsAbs(argv0) {
			if workdir == "" {
				workdir = "/"
			}
			argv0 = path.Join(workdir, argv0)
		}
		return []string{path.Clean(argv0)}
	}
	p, ok := env["PATH"]
	if !ok {
		p = DefaultPATH
	}
	var out []string
	for _, dir := range strings.Split(p, ":") {
		if dir == "" || !path.IsAbs(dir) {
			continue
		}
		out = append(out, path.Join(dir, argv0))
	}
	return out
}

// Check runs the static checks on one platform's image and returns a Finding per check. The
// platform is the image config's; pol.BinarySHA256 is looked at for it. The error is for a
// policy that is not valid, or an image that cannot be read whole.
func Check(ctx context.Context, img v1.Image, pol Policy) ([]Finding, error) {
	if err := pol.Validate(); err != nil {
		return nil, err
	}
	info, err := Analyze(ctx, img, pol.Limits)
	if err != nil {
		return nil, fmt.Errorf("image check: %w", err)
	}
	return info.Findings(pol), nil
}

// Findings runs every check against pol, in a fixed order.
func (i *Image) Findings(pol Policy) []Finding {
	var out []Finding
	add := func(check string, st binary.Status, format string, args ...any) {
		out = append(out, Finding{Check: check, Status: st, Detail: fmt.Sprintf(format, args...)})
	}
	if len(i.argv) == 0 {
		add(CheckConfig, binary.StatusFail, "the image config has neither Entrypoint nor Cmd: a container has nothing to run (docker: \"no command specified\"). Fix: build the image with scratchkit's Image target, which sets the entrypoint to %s.", image.AppPath("<name>"))
	} else {
		add(CheckConfig, binary.StatusPass, "runs %s", QuoteArgs(i.argv))
	}
	out = append(out, i.checkEntrypoint()...)
	out = append(out, i.checkBinary(pol))
	out = append(out, i.checkUser(pol))
	out = append(out, i.checkCARoots(), i.checkZoneInfo(), i.checkPasswd(), i.checkPorts(pol), i.checkBase(pol), i.checkShell(pol))
	return out
}

// QuoteArgs writes a command line as a list of quoted arguments: ["/ko-app/hello" "-v"].
func QuoteArgs(argv []string) string {
	q := make([]string, len(argv))
	for k, a := range argv {
		q[k] = strconv.Quote(a)
	}
	return "[" + strings.Join(q, " ") + "]"
}

// checkEntrypoint gives the entrypoint, linkage and platform findings.
func (i *Image) checkEntrypoint() []Finding {
	skip := func(why string) []Finding {
		return []Finding{
			{Check: CheckLinkage, Status: binary.StatusSkip, Detail: why},
			{Check: CheckPlatform, Status: binary.StatusSkip, Detail: why},
		}
	}
	if len(i.argv) == 0 {
		return append([]Finding{{Check: CheckEntrypoint, Status: binary.StatusFail, Detail: "no entrypoint configured"}}, skip("no entrypoint")...)
	}
	argv0 := i.argv[0]
	if i.program == "" {
		p, ok := i.env["PATH"]
		if !ok {
			p = DefaultPATH + " (the runtime's default)"
		}
		f := Finding{Check: CheckEntrypoint, Status: binary.StatusFail, Detail: fmt.Sprintf(
			"%q is not in any directory of PATH=%s: the container fails at start with \"exec: %q: executable file not found in $PATH\". "+
				"Fix: set the entrypoint to the binary's absolute path (%s for images scratchkit builds).", argv0, p, argv0, image.AppPath("<name>"))}
		return append([]Finding{f}, skip("entrypoint not found")...)
	}
	rp, e := i.fs.Resolve(i.program)
	if e == nil {
		why := "does not exist in the image"
		if i.fs.HasDir(rp) {
			why = "is a directory"
		}
		f := Finding{Check: CheckEntrypoint, Status: binary.StatusFail, Detail: fmt.Sprintf(
			"%s %s: the container fails at start with \"exec: %q: stat %s: no such file or directory\". Fix: put the binary there (image layer) or point the entrypoint at it.",
			i.program, why, i.program, i.program)}
		return append([]Finding{f}, skip("entrypoint missing")...)
	}
	where := i.program
	if rp != i.program {
		where = fmt.Sprintf("%s (-> %s)", i.program, rp)
	}
	h := e.Header
	if h.Typeflag != tar.TypeReg {
		f := Finding{Check: CheckEntrypoint, Status: binary.StatusFail, Detail: fmt.Sprintf("%s is a %s, not a regular file: the kernel cannot execute it (\"permission denied\").", where, imagefs.TypeName(h.Typeflag))}
		return append([]Finding{f}, skip("entrypoint is not a file")...)
	}
	var out []Finding
	ep := Finding{Check: CheckEntrypoint, Status: binary.StatusPass}
	u := i.user
	if i.userErr == nil {
		var blocked []string
		for d := path.Dir(rp); ; d = path.Dir(d) {
			if de := i.fs.Lookup(d); de != nil && de.Header.Typeflag == tar.TypeDir && !u.Root() && !u.may(1, de.Header.Mode, de.Header.Uid, de.Header.Gid) {
				blocked = append(blocked, fmt.Sprintf("%s (mode %04o, owner %d:%d)", d, de.Header.Mode&0o7777, de.Header.Uid, de.Header.Gid))
			}
			if d == "/" {
				break
			}
		}
		switch {
		case !u.may(1, h.Mode, h.Uid, h.Gid):
			ep.Status = binary.StatusFail
			ep.Detail = fmt.Sprintf("%s (mode %04o, owner %d:%d) is not executable by the image's user %s: the container fails at start with \"exec %s: permission denied\". "+
				"Fix: make the binary mode 0755 in its layer (scratchkit's Image target does).", where, h.Mode&0o7777, h.Uid, h.Gid, u, i.program)
		case len(blocked) > 0:
			ep.Status = binary.StatusFail
			ep.Detail = fmt.Sprintf("the image's user %s may not enter %s, so it cannot reach %s: the container fails at start with \"permission denied\". Fix: make the directories mode 0755.",
				u, strings.Join(blocked, ", "), i.program)
		default:
			ep.Detail = fmt.Sprintf("%s: regular file, %d bytes, mode %04o, executable by %s", where, h.Size, h.Mode&0o7777, u)
		}
	} else {
		ep.Detail = fmt.Sprintf("%s: regular file, %d bytes, mode %04o (user unresolved, see the user check)", where, h.Size, h.Mode&0o7777)
	}
	out = append(out, ep)

	if i.bin == nil {
		why := "cannot read the entrypoint"
		if i.binErr != nil {
			why = i.binErr.Error()
		}
		out = append(out,
			Finding{Check: CheckLinkage, Status: binary.StatusFail, Detail: fmt.Sprintf("%s is not a binary the kernel can start in this image: %s", i.program, why)},
			Finding{Check: CheckPlatform, Status: binary.StatusSkip, Detail: "not an executable"})
		return out
	}
	exp := binary.Expect{Name: path.Base(i.program), ImagePath: i.program, Platform: i.platform}
	if exp.Validate() != nil {
		exp.Platform = platform.Platform{} // a platform binary cannot check: compare only header and build info
	}
	rep := binary.Check(i.bin, exp)
	for _, c := range []struct{ ours, theirs string }{{CheckLinkage, binary.CheckLinkage}, {CheckPlatform, binary.CheckPlatform}} {
		r, ok := rep.Result(c.theirs)
		if !ok {
			out = append(out, Finding{Check: c.ours, Status: binary.StatusSkip, Detail: "not checked"})
			continue
		}
		st := r.Status
		if st == binary.StatusInfo || st == binary.StatusNA {
			st = binary.StatusSkip // a finding passes, fails, warns or is skipped
		}
		out = append(out, Finding{Check: c.ours, Status: st, Detail: r.Detail})
	}
	return out
}

// expectedSHA256 finds the verified digest for the platform: by exact name, else by os/arch when
// one entry matches.
func expectedSHA256(m map[platform.Platform]string, p platform.Platform) (string, bool) {
	if s, ok := m[p]; ok {
		return strings.TrimPrefix(s, "sha256:"), true
	}
	var found []string
	for k, s := range m {
		if k.OS == p.OS && k.Arch == p.Arch {
			found = append(found, s)
		}
	}
	if len(found) == 1 {
		return strings.TrimPrefix(found[0], "sha256:"), true
	}
	return "", false
}

func (i *Image) checkBinary(pol Policy) Finding {
	want, ok := expectedSHA256(pol.BinarySHA256, i.platform)
	if !ok {
		return Finding{Check: CheckBinary, Status: binary.StatusSkip, Detail: "no verified digest given for " + i.platform.String()}
	}
	if i.program == "" {
		return Finding{Check: CheckBinary, Status: binary.StatusFail, Detail: "no entrypoint to compare with the verified binary sha256:" + want}
	}
	data, err := i.fs.ReadFile(i.program)
	if err != nil {
		return Finding{Check: CheckBinary, Status: binary.StatusFail, Detail: fmt.Sprintf("cannot read the entrypoint to compare with the verified binary: %v", err)}
	}
	sum := sha256.Sum256(data)
	got := hex.EncodeToString(sum[:])
	if got != want {
		return Finding{Check: CheckBinary, Status: binary.StatusFail, Detail: fmt.Sprintf(
			"%s in the image has sha256:%s, but the binary Verify passed has sha256:%s: the image does not ship what was verified. "+
				"Fix: rebuild the image from the verified dist binary (run Verify then Image again) and find what rewrote it in between.", i.program, got, want)}
	}
	return Finding{Check: CheckBinary, Status: binary.StatusPass, Detail: fmt.Sprintf("%s is the verified binary (sha256:%s)", i.program, got)}
}

func (i *Image) checkUser(pol Policy) Finding {
	spec := i.config.Config.User
	if i.userErr != nil {
		return Finding{Check: CheckUser, Status: binary.StatusFail, Detail: fmt.Sprintf(
			"%v: the container fails at start with that message. "+
				"Fix: use numbers (e.g. 65532:65532), or a base whose /etc/passwd has the name (the static base has root, nobody and nonroot).", i.userErr)}
	}
	u := i.user
	if u.Root() {
		how := "the config sets no user, so it runs as root"
		if spec != "" {
			how = fmt.Sprintf("user %q is root", spec)
		}
		if pol.AllowRoot {
			return Finding{Check: CheckUser, Status: binary.StatusWarn, Detail: how + " (allowed by smoke.allow_root)"}
		}
		return Finding{Check: CheckUser, Status: binary.StatusFail, Detail: how + ": a compromised process owns the container's files and every capability the runtime grants, and " +
			"Kubernetes' runAsNonRoot rejects the pod (\"container has runAsNonRoot and image will run as root\"). " +
			"Fix: run as nonroot, image.user: " + image.DefaultUser + " (the default), or set smoke.allow_root: true if root is really needed."}
	}
	d := fmt.Sprintf("runs as %s", u)
	if !u.listed {
		if u.hasPasswd {
			d += "; the uid is not in /etc/passwd (fine unless the program looks itself up)"
		} else {
			d += "; the image has no /etc/passwd"
		}
	}
	return Finding{Check: CheckUser, Status: binary.StatusPass, Detail: d}
}

// rootsSource describes where Go would find CA roots in the image, and how many.
type rootsSource struct {
	where []string
	certs int               // distinct certificates
	seen  map[[32]byte]bool // by sha256 of the DER
	bad   []string          // what is configured but missing or empty
}

// add counts the certificates of a PEM bundle that parse and were not seen before; it returns how
// many certificates the bundle holds.
func (rs *rootsSource) add(data []byte) int {
	n := 0
	for len(data) > 0 {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" || len(b.Headers) != 0 {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			continue
		}
		n++
		if sum := sha256.Sum256(b.Bytes); !rs.seen[sum] {
			rs.seen[sum] = true
			rs.certs++
		}
	}
	return n
}

// caRoots follows crypto/x509's loadSystemRoots over the image: the first readable file of
// SSL_CERT_FILE or the default list, then every file in SSL_CERT_DIR's or the default
// directories.
func (i *Image) caRoots() rootsSource {
	rs := rootsSource{seen: map[[32]byte]bool{}}
	u := i.user
	readable := func(p string) ([]byte, bool) {
		_, e := i.fs.Resolve(p)
		if e == nil || e.Header.Typeflag != tar.TypeReg {
			return nil, false
		}
		if i.userErr == nil && !u.may(4, e.Header.Mode, e.Header.Uid, e.Header.Gid) {
			rs.bad = append(rs.bad, fmt.Sprintf("%s is not readable by %s (mode %04o)", p, u, e.Header.Mode&0o7777))
			return nil, false
		}
		data, err := i.fs.ReadFile(p)
		return data, err == nil
	}
	files := goCertFiles
	if f, ok := i.env["SSL_CERT_FILE"]; ok && f != "" {
		files = []string{path.Clean(f)}
		if !i.fs.Exists(f) {
			rs.bad = append(rs.bad, fmt.Sprintf("SSL_CERT_FILE=%s does not exist in the image", f))
		}
	}
	for _, f := range files {
		if data, ok := readable(f); ok {
			n := rs.add(data)
			rs.where = append(rs.where, f)
			if n == 0 {
				rs.bad = append(rs.bad, f+" holds no PEM certificate")
			}
			break
		}
	}
	dirs := goCertDirs
	if d, ok := i.env["SSL_CERT_DIR"]; ok && d != "" {
		dirs = nil
		for _, dir := range strings.Split(d, ":") {
			if dir != "" {
				dirs = append(dirs, path.Clean(dir))
				if !i.fs.IsDir(dir) {
					rs.bad = append(rs.bad, fmt.Sprintf("SSL_CERT_DIR entry %s is not a directory in the image", dir))
				}
			}
		}
	}
	for _, dir := range dirs {
		before, n := rs.certs, 0
		for _, p := range i.fs.List(dir) {
			// Go skips symlinks to files in the same directory (hash links to a bundle there).
			if e := i.fs.Lookup(p); e != nil && e.Header.Typeflag == tar.TypeSymlink {
				if t := e.Header.Linkname; !strings.Contains(t, "/") || path.Dir(path.Join(dir, t)) == dir {
					continue
				}
			}
			if data, ok := readable(p); ok {
				n += rs.add(data)
			}
		}
		if n > 0 && rs.certs > before {
			rs.where = append(rs.where, dir+"/")
		}
	}
	return rs
}

// featuresKnown returns what the binary links, and whether that was read from its function table.
func (i *Image) featuresKnown() (binary.Features, bool) {
	if i.bin == nil {
		return binary.Features{}, false
	}
	return i.bin.Features, i.bin.Features.Known
}

func (i *Image) checkCARoots() Finding {
	rs := i.caRoots()
	f, known := i.featuresKnown()
	have := fmt.Sprintf("%d CA roots in %s", rs.certs, strings.Join(rs.where, " and "))
	if rs.certs > 0 {
		d := have
		if known && !f.UsesTLS {
			d += " (the binary does not link crypto/tls or crypto/x509)"
		}
		if len(rs.bad) > 0 {
			d += "; but " + strings.Join(rs.bad, "; ")
			return Finding{Check: CheckCARoots, Status: binary.StatusWarn, Detail: d}
		}
		return Finding{Check: CheckCARoots, Status: binary.StatusPass, Detail: d}
	}
	missing := "the image has no CA roots where Go looks (" + strings.Join(goCertFiles, ", ") + ", " + strings.Join(goCertDirs, "/, ") + "/; SSL_CERT_FILE and SSL_CERT_DIR are not set)"
	if len(rs.bad) > 0 {
		missing = "the image has no usable CA roots: " + strings.Join(rs.bad, "; ")
	}
	fix := "Fix: build on the static base (image.base: static), which has Mozilla's roots at /etc/ssl/certs/ca-certificates.crt and sets SSL_CERT_FILE; " +
		"or embed roots in the binary with import _ \"golang.org/x/crypto/x509roots/fallback\"; or add a CA bundle to the image and set SSL_CERT_FILE to it."
	return lack{check: CheckCARoots, fix: fix,
		unknown:  "cannot tell from the binary whether it makes TLS connections (no Go function table); " + missing + ". If it does, they fail with \"x509: certificate signed by unknown authority\". ",
		unused:   "the binary does not link crypto/tls or crypto/x509: no CA roots needed",
		embedded: "the image has no CA roots, but the binary embeds golang.org/x/crypto/x509roots/fallback, which Go uses when the system has none",
		failure:  "the binary links crypto/tls and crypto/x509 and does not embed roots, but " + missing + ": every outgoing TLS connection will fail with \"x509: certificate signed by unknown authority\". ",
	}.finding(known, f.UsesTLS, f.EmbedsRoots)
}

// lack is a check of something the image does not have that the binary may need (CA roots,
// zone data): the texts for when the binary cannot tell, does not need it, brings its own, or
// needs it and fails. fix ends the warning and the failure.
type lack struct{ check, fix, unknown, unused, embedded, failure string }

func (l lack) finding(known, uses, embeds bool) Finding {
	switch {
	case !known:
		return Finding{Check: l.check, Status: binary.StatusWarn, Detail: l.unknown + l.fix}
	case !uses:
		return Finding{Check: l.check, Status: binary.StatusPass, Detail: l.unused}
	case embeds:
		return Finding{Check: l.check, Status: binary.StatusPass, Detail: l.embedded}
	}
	return Finding{Check: l.check, Status: binary.StatusFail, Detail: l.failure + l.fix}
}

func (i *Image) checkZoneInfo() Finding {
	f, known := i.featuresKnown()
	var have string
	if z, ok := i.env["ZONEINFO"]; ok && z != "" {
		if i.fs.Exists(z) {
			have = "ZONEINFO=" + z
		}
	}
	if have == "" {
		for _, d := range goZoneDirs {
			if n := i.fs.CountUnder(d); n > 0 && i.fs.IsDir(d) {
				have = fmt.Sprintf("%s (%d files)", strings.TrimSuffix(d, "/"), n)
				break
			}
		}
	}
	if have != "" {
		return Finding{Check: CheckZoneInfo, Status: binary.StatusPass, Detail: "zone data in " + have}
	}
	missing := "the image has no zone data (/usr/share/zoneinfo and Go's other zone directories are absent, ZONEINFO is not set)"
	if z, ok := i.env["ZONEINFO"]; ok && z != "" {
		missing = fmt.Sprintf("ZONEINFO=%s does not exist in the image and there is no /usr/share/zoneinfo", z)
	}
	fix := "Fix: build on the static base (image.base: static), which has Go's zone data in /usr/share/zoneinfo; " +
		"or embed it in the binary with import _ \"time/tzdata\" (or -tags timetzdata, about 450KB); or add a zoneinfo.zip to the image and set ZONEINFO to it."
	return lack{check: CheckZoneInfo, fix: fix,
		unknown:  "cannot tell from the binary whether it loads time zones (no Go function table); " + missing + ". ",
		unused:   "the binary does not call time.LoadLocation: no zone data needed",
		embedded: "the image has no zone data, but the binary embeds time/tzdata",
		failure:  "the binary calls time.LoadLocation and does not embed time/tzdata, but " + missing + ": every zone but UTC and Local fails with \"unknown time zone Europe/Berlin\" (or whichever is asked for). ",
	}.finding(known, f.UsesLoadLocation, f.EmbedsTZData)
}

func (i *Image) checkPasswd() Finding {
	f, known := i.featuresKnown()
	has := i.fs.Exists("/etc/passwd")
	switch {
	case known && !f.UsesOSUser:
		d := "the binary does not link os/user"
		if !has {
			d += "; the image has no /etc/passwd, which it does not need"
		}
		return Finding{Check: CheckPasswd, Status: binary.StatusPass, Detail: d}
	case !has && !known:
		return Finding{Check: CheckPasswd, Status: binary.StatusWarn, Detail: "the image has no /etc/passwd, and the binary's use of os/user cannot be told (no Go function table): " +
			"if it looks users up, user.Current fails with \"user: Current requires cgo or $USER, $HOME set in environment\". Fix: build on the static base, which has /etc/passwd with nonroot."}
	case !has:
		return Finding{Check: CheckPasswd, Status: binary.StatusFail, Detail: "the binary links os/user, but the image has no /etc/passwd: user.Current and user.Lookup fail " +
			"(\"user: Current requires cgo or $USER, $HOME set in environment\", \"user: unknown userid 65532\"). " +
			"Fix: build on the static base (image.base: static), which has /etc/passwd and /etc/group with root, nobody and nonroot, or add them to the image."}
	}
	if i.userErr == nil && !i.user.listed {
		return Finding{Check: CheckPasswd, Status: binary.StatusWarn, Detail: fmt.Sprintf("the binary links os/user and the image has /etc/passwd, but uid %d is not in it: user.Current fails with \"user: unknown userid %d\" unless $USER and $HOME are set. Fix: add the user to /etc/passwd or run as one that is listed (nonroot, 65532).", i.user.uid, i.user.uid)}
	}
	return Finding{Check: CheckPasswd, Status: binary.StatusPass, Detail: "/etc/passwd is there for os/user"}
}

// checkPorts fails a non-root image that exposes a port below 1024 or whose http probe listens on
// one, naming every such port: binding one needs root or CAP_NET_BIND_SERVICE.
func (i *Image) checkPorts(pol Policy) Finding {
	var exposed []string // "80", "53/udp"
	var keys []string
	for p := range i.config.Config.ExposedPorts {
		keys = append(keys, p)
	}
	sort.Slice(keys, func(a, b int) bool {
		return portNumber(keys[a]) < portNumber(keys[b]) || portNumber(keys[a]) == portNumber(keys[b]) && keys[a] < keys[b]
	})
	for _, p := range keys {
		if n := portNumber(p); n >= 0 && n < 1024 {
			exposed = append(exposed, strings.TrimSuffix(p, "/tcp"))
		}
	}
	var probed []string
	for _, port := range pol.ProbedPorts {
		if port < 1024 && !slices.Contains(probed, strconv.Itoa(port)) {
			probed = append(probed, strconv.Itoa(port))
		}
	}
	if len(exposed) == 0 && len(probed) == 0 {
		return Finding{Check: CheckPorts, Status: binary.StatusPass, Detail: "no port below 1024"}
	}
	var what []string
	if len(exposed) > 0 {
		what = append(what, "exposes "+portList(exposed))
	}
	if len(probed) > 0 {
		what = append(what, "listens on "+portList(probed)+" (its http probe)")
	}
	root := i.userErr != nil || i.user.Root()
	if root && slices.Contains(pol.CapAdd, "CAP_NET_BIND_SERVICE") {
		return Finding{Check: CheckPorts, Status: binary.StatusPass, Detail: fmt.Sprintf("the service %s, below 1024, as root with CAP_NET_BIND_SERVICE (smoke.cap_add)", strings.Join(what, " and "))}
	}
	first := ""
	if len(probed) > 0 {
		first = probed[0]
	} else {
		first, _, _ = strings.Cut(exposed[0], "/")
	}
	if root {
		return Finding{Check: CheckPorts, Status: binary.StatusFail, Detail: fmt.Sprintf(
			"the service %s as root, but its containers run with every capability dropped (as a restricted pod does): ports below 1024 need CAP_NET_BIND_SERVICE, so it fails with \"listen tcp :%s: bind: permission denied\". "+
				"Fix: listen on a port of 1024 or above (e.g. 8080) and map it where the service is exposed; or add NET_BIND_SERVICE to smoke.cap_add, as the pod's securityContext.capabilities.add must.",
			strings.Join(what, " and "), first)}
	}
	return Finding{Check: CheckPorts, Status: binary.StatusFail, Detail: fmt.Sprintf(
		"the service %s as the non-root user %s: ports below 1024 need root or CAP_NET_BIND_SERVICE, so it fails with \"listen tcp :%s: bind: permission denied\" "+
			"on Kubernetes and with host networking (Docker 20.10+ hides this by lowering net.ipv4.ip_unprivileged_port_start in its own network namespaces). "+
			"Fix: listen on ports of 1024 or above (e.g. 8080) and map them where the service is exposed (Service targetPort, docker -p 80:8080), and expose those (image.ports).",
		strings.Join(what, " and "), i.user, first)}
}

// portNumber is the number of an exposed port ("8080/tcp", image.ParsePort), -1 when it is not
// one.
func portNumber(p string) int {
	port, err := image.ParsePort(p)
	if err != nil {
		return -1
	}
	return int(port.Number)
}

// portList writes "port 80" or "ports 80, 443 and 53/udp".
func portList(ports []string) string {
	if len(ports) == 1 {
		return "port " + ports[0]
	}
	return "ports " + strings.Join(ports[:len(ports)-1], ", ") + " and " + ports[len(ports)-1]
}

func (i *Image) checkBase(pol Policy) Finding {
	if pol.BasePinned {
		return Finding{Check: CheckBase, Status: binary.StatusPass, Detail: "base pinned (as the caller checked)"}
	}
	ref, how := pol.BaseRef, "configured"
	if ref == "" {
		if name, ok := i.annots[annotationBase]; ok {
			ref, how = name, "recorded in the image's "+annotationBase+" annotation"
		} else if d, ok := i.annots[annotationDigest]; ok {
			return Finding{Check: CheckBase, Status: binary.StatusPass, Detail: "built on a built-in base (static or scratch), which is part of scratchkit and hermetic: base " + d}
		} else {
			return Finding{Check: CheckBase, Status: binary.StatusWarn, Detail: "the image records no base (no " + annotationBase + " or " + annotationDigest + " annotation), so whether it is pinned cannot be told"}
		}
	}
	switch {
	case ref == image.BaseStatic || ref == image.BaseScratch:
		return Finding{Check: CheckBase, Status: binary.StatusPass, Detail: fmt.Sprintf("built-in %s base: part of scratchkit, hermetic and versioned with it", ref)}
	case image.BasePinned(ref):
		return Finding{Check: CheckBase, Status: binary.StatusPass, Detail: "base " + ref + " is pinned by digest"}
	}
	repo := ref
	if r, err := name.ParseReference(ref); err == nil {
		repo = r.Context().Name()
	}
	f := Finding{Check: CheckBase, Status: binary.StatusFail, Detail: fmt.Sprintf(
		"the base %s (%s) is not pinned by digest: the next build may get a different base when the tag moves, and what was tested is not what ships. "+
			"Fix: write it as %s@sha256:<digest> (`crane digest %s` prints it).", ref, how, repo, ref)}
	if pol.AllowUnpinned {
		f.Status, f.Detail = binary.StatusWarn, "(image.allow_unpinned: true) "+f.Detail
	}
	return f
}

func (i *Image) checkShell(pol Policy) Finding {
	dirs := append([]string{}, standardBinDirs...)
	if p, ok := i.env["PATH"]; ok {
		for _, d := range strings.Split(p, ":") {
			if path.IsAbs(d) {
				dirs = append(dirs, path.Clean(d))
			}
		}
	}
	seen := map[string]bool{}
	var shells, pkgs []string
	for _, d := range dirs {
		for _, names := range []struct {
			list []string
			out  *[]string
		}{{shellNames, &shells}, {pkgManagerNames, &pkgs}} {
			for _, n := range names.list {
				p := path.Join(d, n)
				if seen[p] {
					continue
				}
				seen[p] = true
				if _, e := i.fs.Resolve(p); e != nil && e.Header.Typeflag == tar.TypeReg {
					*names.out = append(*names.out, p)
				}
			}
		}
	}
	found := append(append([]string{}, shells...), pkgs...)
	if len(found) == 0 {
		d := "no shell or package manager"
		if pol.Debug {
			d += " (a debug variant was asked for, but this image has none)"
		}
		return Finding{Check: CheckShell, Status: binary.StatusPass, Detail: d}
	}
	if pol.Debug {
		return Finding{Check: CheckShell, Status: binary.StatusPass, Detail: "debug variant: carries " + strings.Join(found, ", ")}
	}
	return Finding{Check: CheckShell, Status: binary.StatusFail, Detail: fmt.Sprintf(
		"the image carries %s: a shell or package manager is what an attacker needs after getting in, and it grows the image and its CVE list. "+
			"Fix: build on the static or scratch base (or a distroless base without :debug), or set smoke.debug: true for a debug variant that is meant to have them.", strings.Join(found, ", "))}
}

// Command is the command line a container of the image runs: the entrypoint and args (or, with
// args nil, the image's Cmd), its program resolved to the absolute path the runtime finds, so
// that an emulator can be handed it.
func (i *Image) Command(args []string) ([]string, error) {
	cfg := i.config.Config
	out := append([]string{}, cfg.Entrypoint...)
	if args != nil {
		out = append(out, args...)
	} else {
		out = append(out, cfg.Cmd...)
	}
	if len(out) == 0 {
		return nil, errors.New("the image config has neither Entrypoint nor Cmd: nothing to run")
	}
	if i.program != "" && (len(cfg.Entrypoint) > 0 || args == nil) {
		out[0] = i.program
	}
	return out, nil
}

// Platform is the platform of the image's config.
func (i *Image) Platform() platform.Platform { return i.platform }

// Config is the image's config file.
func (i *Image) Config() *v1.ConfigFile { return i.config }

// User is who the image's process runs as, resolved against its /etc/passwd and /etc/group; the
// error says why it cannot be resolved (a name neither file lists), as runc and docker refuse it.
func (i *Image) User() (User, error) { return i.user, i.userErr }

// Dir reports whether p, links followed, is a directory of the image.
func (i *Image) Dir(p string) bool { return i.fs.IsDir(p) }

// ConfigEnv parses KEY=VALUE entries; later ones win, as in a process environment.
func ConfigEnv(env []string) map[string]string { return configEnv(env) }
