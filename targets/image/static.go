package image

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/scratchkit/scratchkit/targets/goenv"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// Paths and users of the built-in static base.
const (
	CACertsPath  = "/etc/ssl/certs/ca-certificates.crt"
	ZoneInfoPath = "/usr/share/zoneinfo"
	NonRootUID   = 65532
	NobodyUID    = 65534

	// staticPath is PATH in the static base, as in distroless.
	staticPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// caModule is the module whose bundle fills the CA file.
	caModule = "golang.org/x/crypto/x509roots/fallback"
)

// baseEpoch is the time of every file and of the config of the built-in bases. The bases do not
// depend on the commit being built, so their layer is the same blob for every build and every
// service (registries store it once), as distroless does with its fixed times.
var baseEpoch = time.Unix(0, 0).UTC()

const passwdContent = `root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
`

const groupContent = `root:x:0:
nobody:x:65534:
nonroot:x:65532:
`

const nsswitchContent = `# Name service switch of the scratchkit static base: Go's resolver reads the hosts line.
hosts: files dns
`

// staticContent is the built static base: its files, its single layer and what it was made of.
type staticContent struct {
	files     []FileInfo
	entries   []entry  // what the layer's tar holds, in order
	caVersion string   // version of golang.org/x/crypto/x509roots/fallback
	goVersion string   // Go release whose lib/time/zoneinfo.zip filled /usr/share/zoneinfo
	roots     int      // roots written to the CA file
	excluded  []string // roots left out because they carry constraints
	zones     int      // zone files

	mu    sync.Mutex
	layer v1.Layer // compressed on first use, through that use's layer cache
}

// staticCache keeps the static base built once per process for each GOROOT: its content does not
// depend on the platform or the build, and its layer is shared by every platform image.
var staticCache struct {
	sync.Mutex
	m map[string]*staticContent
}

// loadStatic returns the static base content for goroot, building it on first use.
func loadStatic(ctx context.Context, goroot string) (*staticContent, error) {
	if goroot == "" {
		var err error
		if goroot, err = GoRoot(ctx); err != nil {
			return nil, err
		}
	}
	staticCache.Lock()
	defer staticCache.Unlock()
	if c := staticCache.m[goroot]; c != nil {
		return c, nil
	}
	c, err := buildStatic(goroot)
	if err != nil {
		return nil, err
	}
	if staticCache.m == nil {
		staticCache.m = map[string]*staticContent{}
	}
	staticCache.m[goroot] = c
	return c, nil
}

// GoRoot returns the GOROOT of the go command on PATH (as `go env` reports it, through
// goenv.Read), whose lib/time/zoneinfo.zip fills the static base. runtime.GOROOT is not used: it is empty in
// binaries built with -trimpath, such as a mage binary.
func GoRoot(ctx context.Context) (string, error) {
	e, err := goenv.Read(ctx, "", "", nil)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("static base: find the Go installation for zone data: %w", err)
	}
	return e.GOROOT, nil
}

// StaticBase returns the built-in static base for one platform: a distroless-static equivalent
// built in memory, offline and reproducibly. goroot is the Go installation whose
// lib/time/zoneinfo.zip provides the zone data; empty means `go env GOROOT`.
func StaticBase(ctx context.Context, goroot string, platform v1.Platform) (v1.Image, error) {
	c, err := loadStatic(ctx, goroot)
	if err != nil {
		return nil, err
	}
	return c.image(nil, platform)
}

// StaticBaseFiles lists every directory, file and symbolic link of the static base, in path order.
func StaticBaseFiles(ctx context.Context, goroot string) ([]FileInfo, error) {
	c, err := loadStatic(ctx, goroot)
	if err != nil {
		return nil, err
	}
	return append([]FileInfo(nil), c.files...), nil
}

// ScratchBase returns an empty base with OCI media types and the platform in its config.
func ScratchBase(platform v1.Platform) (v1.Image, error) {
	cfg := baseConfig(platform)
	return mutate.ConfigFile(emptyOCI(), cfg)
}

// emptyOCI is go-containerregistry's empty image with OCI media types.
func emptyOCI() v1.Image {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.OCIConfigJSON)
}

func baseConfig(platform v1.Platform) *v1.ConfigFile {
	return &v1.ConfigFile{
		Architecture: platform.Architecture,
		OS:           platform.OS,
		Variant:      platform.Variant,
		OSVersion:    platform.OSVersion,
		Created:      v1.Time{Time: baseEpoch},
		RootFS:       v1.RootFS{Type: "layers"},
	}
}

// baseLayer is the static base's layer, compressed (or read from l's cache) on first use and
// shared by every platform image since: one blob, stored once.
func (c *staticContent) baseLayer(l *layers) (v1.Layer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.layer == nil {
		layer, err := l.layer(c.entries, baseEpoch, baseGzip)
		if err != nil {
			return nil, fmt.Errorf("static base: %w", err)
		}
		c.layer = layer
	}
	return c.layer, nil
}

// image is the static base for platform, its layer made through l (nil: no layer cache).
func (c *staticContent) image(l *layers, platform v1.Platform) (v1.Image, error) {
	layer, err := c.baseLayer(l)
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(emptyOCI(), mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Author:    author,
			Created:   v1.Time{Time: baseEpoch},
			CreatedBy: "scratchkit static base",
			Comment: fmt.Sprintf("CA roots from %s %s, zone data from %s, users root/nobody/nonroot, /tmp, /home/nonroot",
				caModule, c.caVersion, c.goVersion),
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg := baseConfig(platform)
	cfg.RootFS = cf.RootFS
	cfg.History = cf.History
	cfg.Config.Env = []string{"PATH=" + staticPath, "SSL_CERT_FILE=" + CACertsPath}
	return mutate.ConfigFile(img, cfg)
}

// buildStatic assembles the static base from the CA bundle and goroot's zone data.
func buildStatic(goroot string) (*staticContent, error) {
	c := &staticContent{
		caVersion: moduleVersion(caModule, bundle.Roots),
		goVersion: goVersion(goroot),
	}
	ca, err := c.caBundle()
	if err != nil {
		return nil, err
	}
	entries := []entry{
		fileEntry("/etc/passwd", 0o644, []byte(passwdContent)),
		fileEntry("/etc/group", 0o644, []byte(groupContent)),
		fileEntry("/etc/nsswitch.conf", 0o644, []byte(nsswitchContent)),
		fileEntry(CACertsPath, 0o644, ca),
		fileEntry("/usr/lib/os-release", 0o644, []byte(c.osRelease())),
		symlinkEntry("/etc/os-release", "../usr/lib/os-release"),
		dirEntry("/home", 0o755, 0, 0),
		dirEntry("/home/nonroot", 0o700, NonRootUID, NonRootUID),
		dirEntry("/root", 0o700, 0, 0),
		dirEntry("/tmp", 0o1777, 0, 0),
	}
	zones, err := zoneFiles(goroot)
	if err != nil {
		return nil, err
	}
	c.zones = len(zones)
	entries = withParents(append(entries, zones...))
	for _, e := range entries {
		c.files = append(c.files, e.FileInfo)
	}
	c.entries = entries
	return c, nil
}

// caBundle writes the roots of golang.org/x/crypto/x509roots/fallback/bundle as PEM.
//
// Roots that carry a constraint (today: NSS "distrust after" dates) are left out. A PEM file can
// only say "trust this root for everything"; writing a constrained root would trust certificates
// that Mozilla and Go's own fallback pool reject. Leaving it out fails closed: a server whose
// chain ends at such a root is reported as signed by an unknown authority.
func (c *staticContent) caBundle() ([]byte, error) {
	var body bytes.Buffer
	for r := range bundle.Roots() {
		cert, err := x509.ParseCertificate(r.Certificate)
		if err != nil {
			return nil, fmt.Errorf("static base: CA bundle %s %s: %w", caModule, c.caVersion, err)
		}
		label := rootLabel(cert)
		if r.Constraint != nil {
			c.excluded = append(c.excluded, label)
			continue
		}
		c.roots++
		fmt.Fprintf(&body, "\n# %s\n", label)
		if err := pem.Encode(&body, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}); err != nil {
			return nil, err
		}
	}
	if c.roots == 0 {
		return nil, fmt.Errorf("static base: CA bundle %s %s holds no unconstrained root", caModule, c.caVersion)
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "# CA certificates of the scratchkit static base: %d roots of Mozilla's NSS trust store,\n", c.roots)
	fmt.Fprintf(&out, "# from %s/bundle %s.\n", caModule, c.caVersion)
	if len(c.excluded) > 0 {
		fmt.Fprintf(&out, "# Left out because a PEM file cannot carry their constraints (NSS distrust-after):\n")
		for _, l := range c.excluded {
			fmt.Fprintf(&out, "#   %s\n", l)
		}
	}
	out.Write(body.Bytes())
	return out.Bytes(), nil
}

// rootLabel names a root for a comment line: its common name, else its organisation, else its
// fingerprint.
func rootLabel(cert *x509.Certificate) string {
	label := cert.Subject.CommonName
	if label == "" && len(cert.Subject.Organization) > 0 {
		label = cert.Subject.Organization[0]
	}
	if label == "" {
		sum := sha256.Sum256(cert.Raw)
		label = "sha256:" + hex.EncodeToString(sum[:])
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, label)
}

func (c *staticContent) osRelease() string {
	return fmt.Sprintf(`NAME="scratchkit static"
ID=scratchkit
VERSION_ID=%q
PRETTY_NAME="scratchkit static base (CA roots %s, zone data %s)"
HOME_URL="https://github.com/scratchkit/scratchkit"
`, c.caVersion, c.caVersion, c.goVersion)
}

// zoneFiles expands goroot/lib/time/zoneinfo.zip into /usr/share/zoneinfo/<Area>/<City> files.
func zoneFiles(goroot string) ([]entry, error) {
	zipPath := filepath.Join(goroot, "lib", "time", "zoneinfo.zip")
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return nil, fmt.Errorf("static base: read zone data: %w (is %s the GOROOT of the Go that builds?)", err, goroot)
	}
	defer zr.Close()
	var out []entry
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		name := path.Clean("/" + f.Name)
		if name == "/" || strings.Contains(f.Name, "..") {
			return nil, fmt.Errorf("static base: %s: unexpected entry %q", zipPath, f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("static base: %s: %s: %w", zipPath, f.Name, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("static base: %s: %s: %w", zipPath, f.Name, err)
		}
		out = append(out, fileEntry(ZoneInfoPath+name, 0o644, data))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("static base: %s holds no zone", zipPath)
	}
	return out, nil
}

// goVersion reads the release of the Go installation at goroot from its VERSION file.
func goVersion(goroot string) string {
	b, err := os.ReadFile(filepath.Join(goroot, "VERSION"))
	if err != nil {
		return "unknown Go"
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if line = strings.TrimSpace(line); line == "" {
		return "unknown Go"
	}
	return line
}

// moduleVersion is the version of module mod linked into this program: from the build
// information, or (in test binaries, which record no dependencies) from the source path the
// compiler recorded for fn, a function of mod, which names module@version even with -trimpath.
func moduleVersion(mod string, fn any) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path != mod {
				continue
			}
			if d.Replace != nil {
				if d.Replace.Version != "" {
					return d.Replace.Version
				}
				return "replaced"
			}
			return d.Version
		}
	}
	if fn := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()); fn != nil {
		file, _ := fn.FileLine(fn.Entry())
		if _, rest, ok := strings.Cut(filepath.ToSlash(file), mod+"@"); ok {
			if v, _, ok := strings.Cut(rest, "/"); ok && v != "" {
				return v
			}
		}
	}
	return "unknown"
}
