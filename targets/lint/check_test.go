package lint

import (
	"archive/tar"
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/image"
	"github.com/scratchkit/scratchkit/targets/imagefs/imagetest"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// The example on the static base passes every static check, its entrypoint is the verified
// binary, and the features that decide the CA and zone checks are read from the binary.
func TestCheckExampleOnStatic(t *testing.T) {
	bin := helloBinary(t)
	img := imagetest.Of(t, "hello", bin, "static", "", "-addr", ":8080")
	m := findings(t, img, Policy{
		BinarySHA256: map[platform.Platform]string{platform.Host(): testenv.FileSHA256(t, bin)},
		ProbedPorts:  []int{8080},
	})
	for _, c := range []string{CheckConfig, CheckEntrypoint, CheckLinkage, CheckPlatform, CheckBinary, CheckUser, CheckCARoots,
		CheckZoneInfo, CheckPasswd, CheckPorts, CheckBase, CheckShell} {
		wantFinding(t, m, c, binary.StatusPass)
	}
	wantFinding(t, m, CheckEntrypoint, binary.StatusPass, "/ko-app/hello", "executable by nonroot (65532:65532)")
	wantFinding(t, m, CheckCARoots, binary.StatusPass, "/etc/ssl/certs/ca-certificates.crt")
	wantFinding(t, m, CheckZoneInfo, binary.StatusPass, "/usr/share/zoneinfo")
}

// On scratch the example lacks what its code needs: CA roots (it links crypto/tls), zone data
// (it calls time.LoadLocation) and /etc/passwd (it links os/user). Each failure names the
// symptom and the fix.
func TestCheckExampleOnScratch(t *testing.T) {
	img := imagetest.Of(t, "hello", helloBinary(t), "scratch", "")
	m := findings(t, img, Policy{})
	wantFinding(t, m, CheckCARoots, binary.StatusFail, "x509: certificate signed by unknown authority", "static base", "x509roots/fallback", "SSL_CERT_FILE")
	wantFinding(t, m, CheckZoneInfo, binary.StatusFail, "unknown time zone", "time/tzdata", "ZONEINFO")
	wantFinding(t, m, CheckPasswd, binary.StatusFail, "/etc/passwd", "os/user")
	wantFinding(t, m, CheckUser, binary.StatusPass, "65532:65532", "no /etc/passwd")
	wantFinding(t, m, CheckLinkage, binary.StatusPass)
	wantFinding(t, m, CheckBinary, binary.StatusSkip)
}

// A binary that embeds roots and zone data needs neither in the image.
func TestCheckEmbeddedRootsAndZones(t *testing.T) {
	bin := goBinary(t, "../../examples/hello", "GOOS=linux", "GOARCH="+hostArch(), "GOFLAGS=-buildvcs=false -tags=timetzdata")
	img := imagetest.Of(t, "hello", bin, "scratch", "")
	m := findings(t, img, Policy{})
	wantFinding(t, m, CheckZoneInfo, binary.StatusPass, "embeds time/tzdata")
	wantFinding(t, m, CheckCARoots, binary.StatusFail) // roots are not embedded by a tag
}

func hostArch() string { return platform.Host().Arch }

// A dynamically linked cgo binary on scratch fails the linkage check with the symptom.
func TestCheckDynamicOnScratch(t *testing.T) {
	img := imagetest.Of(t, "dyn", dynBinary(t), "scratch", "")
	m := findings(t, img, Policy{})
	wantFinding(t, m, CheckLinkage, binary.StatusFail, "dynamically linked", "no such file or directory", "CGO_ENABLED")
}

// Root is refused unless allowed; a name the image cannot resolve is refused.
func TestCheckUser(t *testing.T) {
	bin := helloBinary(t)
	root := imagetest.Of(t, "hello", bin, "static", "0")
	wantFinding(t, findings(t, root, Policy{}), CheckUser, binary.StatusFail, "root", "allow_root")
	wantFinding(t, findings(t, root, Policy{AllowRoot: true}), CheckUser, binary.StatusWarn, "allowed")

	named := imagetest.Of(t, "hello", bin, "static", "nonroot:nonroot")
	wantFinding(t, findings(t, named, Policy{}), CheckUser, binary.StatusPass, "nonroot (65532:65532)")

	ghost := imagetest.Image(t, v1.Config{Entrypoint: []string{"/ko-app/hello"}, User: "app"}, imagetest.Layer(t, imagetest.BinFile(t, bin, "hello", 0o755)))
	m := findings(t, ghost, Policy{})
	wantFinding(t, m, CheckUser, binary.StatusFail, "unable to find user app", "no /etc/passwd")

	noUser := imagetest.Image(t, v1.Config{Entrypoint: []string{"/ko-app/hello"}}, imagetest.Layer(t, imagetest.BinFile(t, bin, "hello", 0o755)))
	wantFinding(t, findings(t, noUser, Policy{}), CheckUser, binary.StatusFail, "sets no user, so it runs as root")
}

// The entrypoint must be the verified binary, exist, be a file, and be executable by the user.
func TestCheckEntrypoint(t *testing.T) {
	bin := helloBinary(t)
	img := imagetest.Of(t, "hello", bin, "static", "")
	other := strings.Repeat("0", 64)
	wantFinding(t, findings(t, img, Policy{BinarySHA256: map[platform.Platform]string{platform.Host(): other}}), CheckBinary, binary.StatusFail,
		"sha256:"+other, "sha256:"+testenv.FileSHA256(t, bin), "does not ship what was verified")

	cfg := v1.Config{Entrypoint: []string{"/ko-app/hello"}, User: "65532:65532"}
	private := imagetest.Image(t, cfg, imagetest.Layer(t, imagetest.File{Name: "ko-app", Type: tar.TypeDir}, imagetest.BinFile(t, bin, "hello", 0o700)))
	wantFinding(t, findings(t, private, Policy{}), CheckEntrypoint, binary.StatusFail, "mode 0700", "permission denied")

	locked := imagetest.Image(t, cfg, imagetest.Layer(t, imagetest.File{Name: "ko-app", Type: tar.TypeDir, Mode: 0o700}, imagetest.BinFile(t, bin, "hello", 0o755)))
	wantFinding(t, findings(t, locked, Policy{}), CheckEntrypoint, binary.StatusFail, "may not enter /ko-app")

	missing := imagetest.Image(t, v1.Config{Entrypoint: []string{"/ko-app/gone"}, User: "65532"}, imagetest.Layer(t, imagetest.BinFile(t, bin, "hello", 0o755)))
	m := findings(t, missing, Policy{})
	wantFinding(t, m, CheckEntrypoint, binary.StatusFail, "does not exist", "no such file or directory")
	wantFinding(t, m, CheckLinkage, binary.StatusSkip)

	// Through a symlink and PATH lookup, as the runtime resolves it.
	viaPath := imagetest.Image(t, v1.Config{Entrypoint: []string{"hello"}, User: "65532", Env: []string{"PATH=/usr/bin:/ko-app"}},
		imagetest.Layer(t, imagetest.BinFile(t, bin, "hello-1.0", 0o755), imagetest.File{Name: "usr/bin/hello", Type: tar.TypeSymlink, Link: "../../ko-app/hello-1.0"}))
	wantFinding(t, findings(t, viaPath, Policy{}), CheckEntrypoint, binary.StatusPass, "/usr/bin/hello (-> /ko-app/hello-1.0)")

	noCmd := imagetest.Image(t, v1.Config{User: "65532"}, imagetest.Layer(t, imagetest.BinFile(t, bin, "hello", 0o755)))
	wantFinding(t, findings(t, noCmd, Policy{}), CheckConfig, binary.StatusFail, "neither Entrypoint nor Cmd")
}

// Whiteouts in upper layers are honoured: a CA bundle deleted above is not there.
func TestCheckHonoursWhiteouts(t *testing.T) {
	bin := helloBinary(t)
	static, err := image.StaticBase(context.Background(), "", v1.Platform{OS: "linux", Architecture: hostArch()})
	if err != nil {
		t.Fatal(err)
	}
	bl, err := static.Layers()
	if err != nil {
		t.Fatal(err)
	}
	cfg := v1.Config{Entrypoint: []string{"/ko-app/hello"}, User: "65532:65532"}
	app := imagetest.Layer(t, imagetest.BinFile(t, bin, "hello", 0o755))
	with := imagetest.Image(t, cfg, append(bl, app)...)
	wantFinding(t, findings(t, with, Policy{}), CheckCARoots, binary.StatusPass, "ca-certificates.crt")

	del := imagetest.Layer(t, imagetest.File{Name: "etc/ssl/certs/.wh.ca-certificates.crt"}, imagetest.File{Name: "usr/share/.wh..wh..opq"})
	without := imagetest.Image(t, cfg, append(bl, app, del)...)
	m := findings(t, without, Policy{})
	wantFinding(t, m, CheckCARoots, binary.StatusFail, "x509: certificate signed by unknown authority")
	wantFinding(t, m, CheckZoneInfo, binary.StatusFail, "unknown time zone")
	wantFinding(t, m, CheckPasswd, binary.StatusPass) // /etc/passwd is still there
}

// SSL_CERT_FILE pointing nowhere is reported as such; pointing at a bundle elsewhere is fine.
func TestCheckSSLCertFile(t *testing.T) {
	bin := helloBinary(t)
	static, err := image.StaticBase(context.Background(), "", v1.Platform{OS: "linux", Architecture: hostArch()})
	if err != nil {
		t.Fatal(err)
	}
	bl, _ := static.Layers()
	app := imagetest.Layer(t, imagetest.BinFile(t, bin, "hello", 0o755))
	moved := imagetest.Layer(t, imagetest.File{Name: "etc/ssl/certs/.wh.ca-certificates.crt"})
	bad := imagetest.Image(t, v1.Config{Entrypoint: []string{"/ko-app/hello"}, User: "65532", Env: []string{"SSL_CERT_FILE=/certs/roots.pem"}}, append(bl, app, moved)...)
	wantFinding(t, findings(t, bad, Policy{}), CheckCARoots, binary.StatusFail, "SSL_CERT_FILE=/certs/roots.pem does not exist")
}

// A shell or package manager fails unless a debug variant was asked for.
func TestCheckShell(t *testing.T) {
	bin := helloBinary(t)
	cfg := v1.Config{Entrypoint: []string{"/ko-app/hello"}, User: "65532"}
	img := imagetest.Image(t, cfg, imagetest.Layer(t, imagetest.BinFile(t, bin, "hello", 0o755),
		imagetest.File{Name: "bin/busybox", Mode: 0o755, Data: []byte("\x7fELF")}, imagetest.File{Name: "bin/sh", Type: tar.TypeSymlink, Link: "busybox"},
		imagetest.File{Name: "sbin/apk", Mode: 0o755, Data: []byte("\x7fELF")}))
	wantFinding(t, findings(t, img, Policy{}), CheckShell, binary.StatusFail, "/bin/sh", "/bin/busybox", "/sbin/apk", "smoke.debug")
	wantFinding(t, findings(t, img, Policy{Debug: true}), CheckShell, binary.StatusPass, "debug variant")
}

// A non-root service on a port below 1024 fails statically.
func TestCheckPrivilegedPort(t *testing.T) {
	img := imagetest.Of(t, "hello", helloBinary(t), "static", "", "-addr", ":80")
	m := findings(t, img, Policy{ProbedPorts: []int{80}})
	wantFinding(t, m, CheckPorts, binary.StatusFail, "port 80", "bind: permission denied", "8080")
	rootImg := imagetest.Of(t, "hello", helloBinary(t), "static", "0", "-addr", ":80")
	wantFinding(t, findings(t, rootImg, Policy{AllowRoot: true, ProbedPorts: []int{80}}), CheckPorts, binary.StatusFail, "every capability dropped", "smoke.cap_add")
	wantFinding(t, findings(t, rootImg, Policy{AllowRoot: true, CapAdd: []string{"CAP_NET_BIND_SERVICE"}, ProbedPorts: []int{80}}), CheckPorts, binary.StatusPass)

	// Exposing ports below 1024 fails as well, even when the probe uses another port, and every
	// such port is named.
	exposing := imagetest.Build(t, image.Spec{Name: "hello", RunConfig: image.RunConfig{Ports: []string{"8080", "443", "80", "53/udp"}},
		Binaries: []image.Binary{{Platform: platform.Host(), Path: helloBinary(t)}}}).Image
	m = findings(t, exposing, Policy{ProbedPorts: []int{8080}})
	wantFinding(t, m, CheckPorts, binary.StatusFail, "exposes ports 53/udp, 80 and 443 as the non-root user", "bind: permission denied")
	if d := m[CheckPorts].Detail; strings.Contains(d, "8080 ") || strings.Contains(d, "its http probe") {
		t.Errorf("ports: names 8080 or the probe: %s", d)
	}
	wantFinding(t, findings(t, exposing, Policy{ProbedPorts: []int{80, 443}}), CheckPorts, binary.StatusFail,
		"exposes ports 53/udp, 80 and 443 and listens on ports 80 and 443 (its http probe)")
}

// The base must be pinned by digest.
func TestCheckBase(t *testing.T) {
	img := imagetest.Of(t, "hello", helloBinary(t), "static", "")
	wantFinding(t, findings(t, img, Policy{}), CheckBase, binary.StatusPass, "built-in")
	wantFinding(t, findings(t, img, Policy{BaseRef: "127.0.0.1:5000/base:latest"}), CheckBase, binary.StatusFail, "not pinned", "127.0.0.1:5000/base@sha256:")
	wantFinding(t, findings(t, img, Policy{BaseRef: "127.0.0.1:5000/base:latest", AllowUnpinned: true}), CheckBase, binary.StatusWarn, "(image.allow_unpinned: true)", "not pinned")
	wantFinding(t, findings(t, img, Policy{BaseRef: "127.0.0.1:5000/base@sha256:" + strings.Repeat("a", 64)}), CheckBase, binary.StatusPass, "pinned by digest")
}

// A policy that is not valid is an error, naming the value.
func TestCheckPolicyValidated(t *testing.T) {
	img := imagetest.Of(t, "hello", helloBinary(t), "static", "")
	_, err := Check(context.Background(), img, Policy{BinarySHA256: map[platform.Platform]string{platform.MustParse("linux/amd64"): "abc"}})
	if err == nil || !strings.Contains(err.Error(), `linux/amd64 "abc"`) {
		t.Errorf("Check with a bad binary sha256: %v", err)
	}
}

// The checks read a hostile image's whole filesystem or fail: a stream that stops early must not
// pass a lower layer's shell as "no shell" (or any other check on what was not read).
func TestCheckRefusesHostileLayers(t *testing.T) {
	for name, c := range imagetest.Hostile(t) {
		t.Run(name, func(t *testing.T) {
			d, err := c.Image.Digest()
			if err != nil {
				t.Fatal(err)
			}
			fs, err := Check(context.Background(), c.Image, Policy{AllowRoot: true})
			if err == nil {
				t.Fatalf("Check passed a hostile image: %+v", fs)
			}
			for _, w := range append([]string{"image " + d.String()}, c.Wants...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
		})
	}
}
