package image

import (
	"archive/tar"
	"archive/zip"
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

func staticImage(t *testing.T, platform string) v1.Image {
	t.Helper()
	pl, err := v1.ParsePlatform(platform)
	must(t, err)
	img, err := StaticBase(context.Background(), "", *pl)
	must(t, err)
	return img
}

func TestStaticBaseLayout(t *testing.T) {
	img := staticImage(t, "linux/amd64")
	layers, err := img.Layers()
	must(t, err)
	if len(layers) != 1 {
		t.Fatalf("static base has %d layers, want 1", len(layers))
	}
	files, order := layerFiles(t, layers[0])

	want := []struct {
		path     string
		typ      byte
		mode     int64
		uid, gid int
	}{
		{"/etc", tar.TypeDir, 0o755, 0, 0},
		{"/etc/passwd", tar.TypeReg, 0o644, 0, 0},
		{"/etc/group", tar.TypeReg, 0o644, 0, 0},
		{"/etc/nsswitch.conf", tar.TypeReg, 0o644, 0, 0},
		{"/etc/os-release", tar.TypeSymlink, 0o777, 0, 0},
		{"/usr/lib/os-release", tar.TypeReg, 0o644, 0, 0},
		{"/etc/ssl/certs/ca-certificates.crt", tar.TypeReg, 0o644, 0, 0},
		{"/home", tar.TypeDir, 0o755, 0, 0},
		{"/home/nonroot", tar.TypeDir, 0o700, 65532, 65532},
		{"/root", tar.TypeDir, 0o700, 0, 0},
		{"/tmp", tar.TypeDir, 0o1777, 0, 0},
		{"/usr/share/zoneinfo", tar.TypeDir, 0o755, 0, 0},
		{"/usr/share/zoneinfo/Europe", tar.TypeDir, 0o755, 0, 0},
		{"/usr/share/zoneinfo/Europe/Berlin", tar.TypeReg, 0o644, 0, 0},
		{"/usr/share/zoneinfo/UTC", tar.TypeReg, 0o644, 0, 0},
	}
	for _, w := range want {
		f, ok := files[w.path]
		if !ok {
			t.Errorf("static base lacks %s", w.path)
			continue
		}
		h := f.hdr
		if h.Typeflag != w.typ || h.Mode != w.mode || h.Uid != w.uid || h.Gid != w.gid {
			t.Errorf("%s: type %c mode %o owner %d:%d, want type %c mode %o owner %d:%d",
				w.path, h.Typeflag, h.Mode, h.Uid, h.Gid, w.typ, w.mode, w.uid, w.gid)
		}
		if !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: mtime %v, want the Unix epoch", w.path, h.ModTime)
		}
	}
	if got := files["/etc/os-release"].hdr.Linkname; got != "../usr/lib/os-release" {
		t.Errorf("/etc/os-release links to %q", got)
	}
	if got := string(files["/etc/nsswitch.conf"].data); !strings.Contains(got, "\nhosts: files dns\n") {
		t.Errorf("nsswitch.conf lacks 'hosts: files dns':\n%s", got)
	}
	osr := string(files["/usr/lib/os-release"].data)
	if !strings.Contains(osr, "\nID=scratchkit\n") || !strings.Contains(osr, "VERSION_ID=\""+moduleVersion(caModule, bundle.Roots)+"\"") {
		t.Errorf("os-release does not name scratchkit and the CA bundle version %s:\n%s", moduleVersion(caModule, bundle.Roots), osr)
	}
	// Every parent directory comes before what it holds, and nothing is owned by anyone else.
	seen := map[string]bool{}
	for _, p := range order {
		parent := p[:strings.LastIndex(p, "/")]
		if parent != "" && !seen[parent] {
			t.Errorf("%s comes before its directory %s", p, parent)
		}
		seen[p] = true
		if h := files[p].hdr; p != "/home/nonroot" && (h.Uid != 0 || h.Gid != 0) {
			t.Errorf("%s is owned by %d:%d", p, h.Uid, h.Gid)
		}
	}

	// StaticBaseFiles (the documented list) is exactly what the layer holds.
	list, err := StaticBaseFiles(context.Background(), "")
	must(t, err)
	if len(list) != len(order) {
		t.Fatalf("StaticBaseFiles lists %d entries, the layer holds %d", len(list), len(order))
	}
	for i, fi := range list {
		h := files[fi.Path].hdr
		if order[i] != fi.Path || h == nil || h.Mode != fi.Mode || h.Uid != fi.UID || h.Gid != fi.GID || h.Size != fi.Size {
			t.Errorf("StaticBaseFiles[%d] = %+v, layer has %s %+v", i, fi, order[i], h)
		}
	}
}

func TestStaticBaseUsers(t *testing.T) {
	files := imageFiles(t, staticImage(t, "linux/arm64"))
	passwd := strings.Split(strings.TrimSpace(string(files["/etc/passwd"].data)), "\n")
	wantPasswd := map[string]string{
		"root":    "root:x:0:0:root:/root:/sbin/nologin",
		"nobody":  "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin",
		"nonroot": "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin",
	}
	if len(passwd) != len(wantPasswd) {
		t.Errorf("passwd has %d entries, want %d:\n%s", len(passwd), len(wantPasswd), files["/etc/passwd"].data)
	}
	for _, line := range passwd {
		name, _, _ := strings.Cut(line, ":")
		if wantPasswd[name] != line {
			t.Errorf("passwd line %q, want %q", line, wantPasswd[name])
		}
		// The home directory of each user exists, or is the conventional /nonexistent.
		home := strings.Split(line, ":")[5]
		if _, ok := files[home]; !ok && home != "/nonexistent" {
			t.Errorf("home %s of %s is not in the image", home, name)
		}
	}
	group := string(files["/etc/group"].data)
	for _, g := range []string{"root:x:0:", "nobody:x:65534:", "nonroot:x:65532:"} {
		if !strings.Contains("\n"+group, "\n"+g+"\n") {
			t.Errorf("group lacks %q:\n%s", g, group)
		}
	}
}

func TestStaticBaseCABundle(t *testing.T) {
	files := imageFiles(t, staticImage(t, "linux/amd64"))
	data := files[CACertsPath].data
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("%s holds no certificate", CACertsPath)
	}
	var got []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		must(t, err)
		got = append(got, c)
	}
	inFile := map[string]bool{}
	for _, c := range got {
		inFile[string(c.Raw)] = true
	}
	var unconstrained, constrained int
	for r := range bundle.Roots() {
		switch {
		case r.Constraint == nil:
			unconstrained++
			if !inFile[string(r.Certificate)] {
				c, _ := x509.ParseCertificate(r.Certificate)
				t.Errorf("unconstrained root %s is missing", c.Subject)
			}
		default:
			constrained++
			if inFile[string(r.Certificate)] {
				c, _ := x509.ParseCertificate(r.Certificate)
				t.Errorf("constrained root %s is in the PEM file, which cannot carry its constraint", c.Subject)
			}
		}
	}
	if len(got) != unconstrained || unconstrained < 100 {
		t.Errorf("%d certificates in the file, %d unconstrained roots in the bundle", len(got), unconstrained)
	}
	if constrained > 0 && !strings.Contains(string(data), "Left out because") {
		t.Errorf("the file does not say which %d roots it leaves out", constrained)
	}
	for _, c := range got {
		if !c.IsCA {
			t.Errorf("%s is not a CA certificate", c.Subject)
		}
	}
}

func TestStaticBaseZoneinfo(t *testing.T) {
	files := imageFiles(t, staticImage(t, "linux/amd64"))
	for zone, summer := range map[string]int{"Europe/Berlin": 2 * 3600, "America/New_York": -4 * 3600, "Asia/Tokyo": 9 * 3600, "UTC": 0} {
		f, ok := files[ZoneInfoPath+"/"+zone]
		if !ok {
			t.Errorf("no %s/%s", ZoneInfoPath, zone)
			continue
		}
		loc, err := time.LoadLocationFromTZData(zone, f.data)
		if err != nil {
			t.Errorf("%s: %v", zone, err)
			continue
		}
		if _, off := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC).In(loc).Zone(); off != summer {
			t.Errorf("%s: offset on 2026-07-01 is %ds, want %ds", zone, off, summer)
		}
	}
	var zones int
	for p, f := range files {
		if strings.HasPrefix(p, ZoneInfoPath+"/") && f.hdr.Typeflag == tar.TypeReg {
			zones++
		}
	}
	if zones < 300 {
		t.Errorf("only %d zone files", zones)
	}
}

func TestStaticBaseConfigAndPlatforms(t *testing.T) {
	var layerDigest v1.Hash
	for _, platform := range []string{"linux/amd64", "linux/arm64", "linux/arm/v7"} {
		img := staticImage(t, platform)
		mt, err := img.MediaType()
		must(t, err)
		m, err := img.Manifest()
		must(t, err)
		if mt != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
			t.Errorf("%s: media types %s / %s, want OCI", platform, mt, m.Config.MediaType)
		}
		for _, l := range m.Layers {
			if l.MediaType != types.OCILayer {
				t.Errorf("%s: layer media type %s", platform, l.MediaType)
			}
		}
		cf := configOf(t, img)
		want, _ := v1.ParsePlatform(platform)
		if got := cf.Platform(); got == nil || !got.Equals(*want) {
			t.Errorf("config platform %v, want %v", got, want)
		}
		env := envMap(cf.Config.Env)
		if env["SSL_CERT_FILE"] != CACertsPath || env["PATH"] == "" {
			t.Errorf("%s: env %v lacks SSL_CERT_FILE or PATH", platform, cf.Config.Env)
		}
		// One layer, the same blob for every platform: built once, stored once.
		if layerDigest == (v1.Hash{}) {
			layerDigest = m.Layers[0].Digest
		} else if m.Layers[0].Digest != layerDigest {
			t.Errorf("%s: static layer %s differs from %s", platform, m.Layers[0].Digest, layerDigest)
		}
	}
}

// The static base is the same bytes when built again from scratch (not from the process cache).
func TestStaticBaseReproducible(t *testing.T) {
	root := goroot(t)
	a, err := buildStatic(root)
	must(t, err)
	b, err := buildStatic(root)
	must(t, err)
	la, err := a.baseLayer(nil)
	must(t, err)
	lb, err := b.baseLayer(nil)
	must(t, err)
	da, err := la.Digest()
	must(t, err)
	db, err := lb.Digest()
	must(t, err)
	if da != db {
		t.Errorf("two static layers: %s and %s", da, db)
	}
}

func TestScratchBase(t *testing.T) {
	img, err := ScratchBase(v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"})
	must(t, err)
	layers, err := img.Layers()
	must(t, err)
	if len(layers) != 0 {
		t.Errorf("scratch has %d layers", len(layers))
	}
	cf := configOf(t, img)
	if cf.OS != "linux" || cf.Architecture != "arm" || cf.Variant != "v7" {
		t.Errorf("scratch config platform %s/%s/%s", cf.OS, cf.Architecture, cf.Variant)
	}
	if len(cf.Config.Env) != 0 {
		t.Errorf("scratch config env %v", cf.Config.Env)
	}
	mt, _ := img.MediaType()
	m, err := img.Manifest()
	must(t, err)
	if mt != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("scratch media types %s / %s", mt, m.Config.MediaType)
	}
}

// The zone data comes from the GOROOT given (the Go that builds), not from the running program.
func TestStaticBaseZoneDataFromGoRoot(t *testing.T) {
	src, err := zip.OpenReader(filepath.Join(goroot(t), "lib", "time", "zoneinfo.zip"))
	must(t, err)
	defer src.Close()
	fake := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(fake, "lib", "time"), 0o755))
	must(t, os.WriteFile(filepath.Join(fake, "VERSION"), []byte("go9.9.9\ntime 2099-01-01\n"), 0o644))
	out, err := os.Create(filepath.Join(fake, "lib", "time", "zoneinfo.zip"))
	must(t, err)
	zw := zip.NewWriter(out)
	for _, f := range src.File {
		if f.Name != "Europe/Berlin" {
			continue
		}
		rc, err := f.Open()
		must(t, err)
		w, err := zw.Create(f.Name)
		must(t, err)
		_, err = io.Copy(w, rc)
		must(t, err)
		rc.Close()
	}
	must(t, zw.Close())
	must(t, out.Close())

	files, err := StaticBaseFiles(context.Background(), fake)
	must(t, err)
	var zones []string
	for _, f := range files {
		if strings.HasPrefix(f.Path, ZoneInfoPath+"/") && f.Type == TypeFile {
			zones = append(zones, f.Path)
		}
	}
	if strings.Join(zones, " ") != ZoneInfoPath+"/Europe/Berlin" {
		t.Errorf("zones from the fake GOROOT: %v", zones)
	}
	img, err := StaticBase(context.Background(), fake, v1.Platform{OS: "linux", Architecture: "amd64"})
	must(t, err)
	if osr := string(imageFiles(t, img)["/usr/lib/os-release"].data); !strings.Contains(osr, "zone data go9.9.9") {
		t.Errorf("os-release does not name the Go release of the zone data:\n%s", osr)
	}

	_, err = StaticBaseFiles(context.Background(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "GOROOT") {
		t.Errorf("a GOROOT without zoneinfo.zip: %v", err)
	}
}
