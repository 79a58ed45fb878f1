package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/platform"
)

var testCreated = time.Date(2026, 11, 2, 10, 30, 0, 0, time.UTC)

// baseSpec is the spec of the tests' images, without binaries.
func baseSpec() Spec {
	return Spec{Name: "tiny", Created: testCreated, Source: "https://example.com/tiny", Revision: "abc123", Version: "v1.2.3"}
}

func spec(t *testing.T, platforms ...string) Spec {
	t.Helper()
	s := baseSpec()
	for _, p := range platforms {
		bin := tinyBinary(t, p)
		s.Binaries = append(s.Binaries, Binary{Platform: platform.MustParse(p), Path: bin, SHA256: testenv.FileSHA256(t, bin)})
	}
	return s
}

func build(t *testing.T, s Spec) *Result {
	t.Helper()
	r, err := Build(context.Background(), s)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return r
}

func digest(t *testing.T, r *Result) v1.Hash {
	t.Helper()
	d, err := r.Digest()
	must(t, err)
	return d
}

func TestBuildOnePlatformIsAManifest(t *testing.T) {
	s := spec(t, "linux/amd64")
	r := build(t, s)
	if r.Index != nil || r.Image == nil {
		t.Fatalf("one platform: index %v image %v, want a single image", r.Index, r.Image)
	}
	if _, ok := r.Artifact().(v1.Image); !ok {
		t.Fatalf("Artifact is a %T, want a v1.Image", r.Artifact())
	}
	mt, err := r.Image.MediaType()
	must(t, err)
	m, err := r.Image.Manifest()
	must(t, err)
	if mt != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("media types %s / %s, want OCI", mt, m.Config.MediaType)
	}
	for _, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("layer %s has media type %s", l.Digest, l.MediaType)
		}
	}
	if len(m.Layers) != 2 {
		t.Fatalf("%d layers, want the static base and the binary", len(m.Layers))
	}

	cf := configOf(t, r.Image)
	if got := cf.Config.Entrypoint; len(got) != 1 || got[0] != "/ko-app/tiny" {
		t.Errorf("entrypoint %v", got)
	}
	if cf.Config.Cmd != nil {
		t.Errorf("cmd %v, want none", cf.Config.Cmd)
	}
	env := envMap(cf.Config.Env)
	if !contains(strings.Split(env["PATH"], ":"), AppDir) || !strings.HasPrefix(env["PATH"], "/usr/local/sbin:") {
		t.Errorf("PATH=%s, want the base's PATH then /ko-app", env["PATH"])
	}
	if env["SSL_CERT_FILE"] != CACertsPath {
		t.Errorf("SSL_CERT_FILE=%q", env["SSL_CERT_FILE"])
	}
	if _, ok := env["KO_DATA_PATH"]; ok {
		t.Errorf("KO_DATA_PATH set without a data directory")
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", cf.Config.User)
	}
	if !cf.Created.Time.Equal(testCreated) || cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("config created %v platform %s/%s", cf.Created, cf.OS, cf.Architecture)
	}
	if n := len(cf.History); n != 2 || !cf.History[1].Created.Time.Equal(testCreated) || !strings.Contains(cf.History[1].Comment, "/ko-app/tiny") {
		t.Errorf("history %+v", cf.History)
	}

	// The binary layer: /ko-app (0555) and the binary, byte for byte, 0555, root, at created.
	layers, err := r.Image.Layers()
	must(t, err)
	files, order := layerFiles(t, layers[1])
	if strings.Join(order, " ") != "/ko-app /ko-app/tiny" {
		t.Fatalf("binary layer holds %v", order)
	}
	dir, bin := files["/ko-app"].hdr, files["/ko-app/tiny"]
	if dir.Typeflag != tar.TypeDir || dir.Mode != 0o555 || dir.Uid != 0 {
		t.Errorf("/ko-app: %+v", dir)
	}
	if bin.hdr.Typeflag != tar.TypeReg || bin.hdr.Mode != 0o555 || bin.hdr.Uid != 0 || bin.hdr.Gid != 0 || !bin.hdr.ModTime.Equal(LayerTime) {
		t.Errorf("/ko-app/tiny: %+v", bin.hdr)
	}
	if !bytes.Equal(bin.data, readFile(t, s.Binaries[0].Path)) {
		t.Errorf("the binary in the image differs from the file")
	}

	// Annotations: standard ones; no base.name for the built-in base, its digest instead.
	want := map[string]string{
		AnnotationCreated:    "2026-11-02T10:30:00Z",
		AnnotationSource:     "https://example.com/tiny",
		AnnotationRevision:   "abc123",
		AnnotationVersion:    "v1.2.3",
		AnnotationBaseDigest: r.Platforms[0].BaseDigest,
	}
	for k, v := range want {
		if m.Annotations[k] != v {
			t.Errorf("annotation %s=%q, want %q", k, m.Annotations[k], v)
		}
	}
	if _, ok := m.Annotations[AnnotationBaseName]; ok {
		t.Errorf("built-in base named %q", m.Annotations[AnnotationBaseName])
	}
	static := staticImage(t, "linux/amd64")
	if d, _ := static.Digest(); d.String() != r.BaseDigest || r.BaseName != "static" {
		t.Errorf("base %s %s, want static %s", r.BaseName, r.BaseDigest, d)
	}
	if p := r.Platforms[0]; p.Platform.String() != "linux/amd64" || p.BinarySHA256 != s.Binaries[0].SHA256 || p.Digest != digest(t, r) || len(p.SBOM) == 0 {
		t.Errorf("platform result %+v", p)
	}
}

func TestBuildSeveralPlatformsIsAnIndex(t *testing.T) {
	s := spec(t, "linux/arm/v7", "linux/amd64")
	r := build(t, s)
	if r.Index == nil || r.Image != nil {
		t.Fatalf("two platforms: index %v image %v, want an index", r.Index, r.Image)
	}
	im, err := r.Index.IndexManifest()
	must(t, err)
	mt, _ := r.Index.MediaType()
	if mt != types.OCIImageIndex || im.MediaType != types.OCIImageIndex {
		t.Errorf("index media type %s", mt)
	}
	if len(im.Manifests) != 2 {
		t.Fatalf("%d manifests", len(im.Manifests))
	}
	wantPlatforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm", Variant: "v7"}}
	for i, d := range im.Manifests {
		if d.MediaType != types.OCIManifestSchema1 || d.Platform == nil || !d.Platform.Equals(wantPlatforms[i]) {
			t.Errorf("manifest %d: %s %v, want %v", i, d.MediaType, d.Platform, wantPlatforms[i])
		}
		if d.Digest != r.Platforms[i].Digest {
			t.Errorf("manifest %d digest %s, platform result says %s", i, d.Digest, r.Platforms[i].Digest)
		}
		img, err := r.Index.Image(d.Digest)
		must(t, err)
		cf := configOf(t, img)
		if cf.Architecture != wantPlatforms[i].Architecture || cf.Variant != wantPlatforms[i].Variant {
			t.Errorf("image %d config platform %s/%s", i, cf.Architecture, cf.Variant)
		}
		// Each image holds its own platform's binary.
		fs := imageFiles(t, img)
		if !bytes.Equal(fs["/ko-app/tiny"].data, readFile(t, tinyBinary(t, r.Platforms[i].Platform.String()))) {
			t.Errorf("image %s does not hold the %s binary", d.Digest, r.Platforms[i].Platform)
		}
	}
	if im.Annotations[AnnotationCreated] != "2026-11-02T10:30:00Z" || im.Annotations[AnnotationBaseDigest] != r.BaseDigest {
		t.Errorf("index annotations %v, base digest %s", im.Annotations, r.BaseDigest)
	}

	// Merging the per-platform images, in any order, gives the same index: the path for
	// building each platform on its own runner.
	merged, err := MergeIndex(im.Annotations,
		IndexEntry{Image: r.Platforms[1].Image},
		IndexEntry{Platform: platform.MustParse("linux/amd64"), Image: r.Platforms[0].Image})
	must(t, err)
	md, err := merged.Digest()
	must(t, err)
	if md != digest(t, r) {
		t.Errorf("merged index %s, built index %s", md, digest(t, r))
	}
	if _, err := MergeIndex(nil, IndexEntry{Platform: platform.MustParse("linux/arm64"), Image: r.Platforms[0].Image}); err == nil {
		t.Errorf("MergeIndex accepted an amd64 image said to be arm64")
	}
	if _, err := MergeIndex(nil, IndexEntry{Image: r.Platforms[0].Image}, IndexEntry{Image: r.Platforms[0].Image}); err == nil {
		t.Errorf("MergeIndex accepted two images for one platform")
	}
}

func TestBuildReproducible(t *testing.T) {
	s := spec(t, "linux/amd64", "linux/arm64")
	s.DataDir = t.TempDir()
	must(t, os.WriteFile(filepath.Join(s.DataDir, "greeting.txt"), []byte("hello\n"), 0o600))
	first := digest(t, build(t, s))
	if again := digest(t, build(t, s)); again != first {
		t.Errorf("same inputs gave %s then %s", first, again)
	}
	// The data directory's host times and modes do not leak into the image.
	must(t, os.Chtimes(filepath.Join(s.DataDir, "greeting.txt"), time.Now(), time.Now()))
	must(t, os.Chmod(filepath.Join(s.DataDir, "greeting.txt"), 0o644))
	if again := digest(t, build(t, s)); again != first {
		t.Errorf("touching the data file changed the digest: %s then %s", first, again)
	}
	s.Created = testCreated.Add(time.Second)
	if other := digest(t, build(t, s)); other == first {
		t.Errorf("another SOURCE_DATE_EPOCH gave the same digest %s", other)
	}
	s.Created = time.Time{}
	r := build(t, s)
	if cf := configOf(t, r.Platforms[0].Image); !cf.Created.Time.Equal(time.Unix(0, 0)) {
		t.Errorf("zero Created gave %v, want the Unix epoch", cf.Created)
	}
}

func TestBuildRefusesAChangedBinary(t *testing.T) {
	s := spec(t, "linux/amd64")
	changed := filepath.Join(t.TempDir(), "tiny")
	data := readFile(t, s.Binaries[0].Path)
	must(t, os.WriteFile(changed, append(data, 0), 0o755))
	s.Binaries[0].Path = changed
	_, err := Build(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "Verify passed") {
		t.Fatalf("a binary that differs from the verified one: %v", err)
	}
}

func TestBuildRefusesABinaryForAnotherPlatform(t *testing.T) {
	s := spec(t, "linux/amd64")
	s.Binaries[0].Platform = platform.MustParse("linux/arm64")
	if _, err := Build(context.Background(), s); err == nil || !strings.Contains(err.Error(), "built for linux/amd64") {
		t.Fatalf("an amd64 binary in an arm64 image: %v", err)
	}
	s = spec(t, "linux/arm/v7")
	s.Binaries[0].Platform = platform.MustParse("linux/arm/v6")
	if _, err := Build(context.Background(), s); err == nil || !strings.Contains(err.Error(), "GOARM=7") {
		t.Fatalf("a GOARM=7 binary in an arm/v6 image: %v", err)
	}
}

func TestBuildScratch(t *testing.T) {
	s := spec(t, "linux/arm/v7")
	s.Base = BaseScratch
	r := build(t, s)
	files := imageFiles(t, r.Image)
	if len(files) != 2 {
		t.Errorf("scratch image holds %d entries, want /ko-app and the binary", len(files))
	}
	cf := configOf(t, r.Image)
	if cf.Architecture != "arm" || cf.Variant != "v7" || cf.OS != "linux" {
		t.Errorf("platform %s/%s/%s", cf.OS, cf.Architecture, cf.Variant)
	}
	if env := envMap(cf.Config.Env); env["PATH"] != AppDir || len(env) != 1 {
		t.Errorf("scratch env %v, want PATH=/ko-app only", cf.Config.Env)
	}
	if r.BaseName != BaseScratch {
		t.Errorf("base name %q", r.BaseName)
	}
	// Names cannot resolve without /etc/passwd.
	s.User = "nonroot"
	if _, err := Build(context.Background(), s); err == nil || !strings.Contains(err.Error(), "scratch") {
		t.Errorf("user nonroot on scratch: %v", err)
	}
}

func TestBuildUser(t *testing.T) {
	var warnings []string
	s := spec(t, "linux/amd64")
	s.Warn = func(m string) { warnings = append(warnings, m) }
	if cf := configOf(t, build(t, s).Image); cf.Config.User != DefaultUser || len(warnings) != 0 {
		t.Errorf("default user %q, warnings %v", cf.Config.User, warnings)
	}
	s.User = "0"
	if cf := configOf(t, build(t, s).Image); cf.Config.User != "0" {
		t.Errorf("user %q, want 0 as asked", cf.Config.User)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "root") {
		t.Errorf("running as root gave warnings %v", warnings)
	}
	s.User = "nonroot:nonroot"
	if cf := configOf(t, build(t, s).Image); cf.Config.User != "nonroot:nonroot" {
		t.Errorf("user %q", cf.Config.User)
	}
	for _, bad := range []string{"alice", "nonroot:wheel", "a b", ":"} {
		s.User = bad
		if _, err := Build(context.Background(), s); err == nil {
			t.Errorf("user %q on the static base was accepted", bad)
		}
	}
}

func TestBuildConfigFromSpec(t *testing.T) {
	s := spec(t, "linux/amd64")
	s.DataDir = t.TempDir()
	must(t, os.MkdirAll(filepath.Join(s.DataDir, "static", "css"), 0o700))
	must(t, os.WriteFile(filepath.Join(s.DataDir, "static", "css", "site.css"), []byte("body{}"), 0o600))
	must(t, os.WriteFile(filepath.Join(s.DataDir, "run.sh"), []byte("#!/bin/sh\n"), 0o700))
	must(t, os.Symlink("run.sh", filepath.Join(s.DataDir, "link.sh")))
	s.Env = []string{"GREETING=hi=there", "PATH=/custom"}
	s.Args = []string{"--addr", ":9090"}
	s.Workdir = "/home/nonroot"
	s.Ports = []string{"9090", "53/UDP"}
	s.Volumes = []string{"/var/lib/app"}
	s.Labels = map[string]string{"team": "infra"}
	s.Annotations = map[string]string{"com.example.owner": "infra", AnnotationSource: "https://override"}
	r := build(t, s)
	cf := configOf(t, r.Image)
	env := envMap(cf.Config.Env)
	if env["GREETING"] != "hi=there" || env["KO_DATA_PATH"] != DataPath || env["PATH"] != "/custom" {
		t.Errorf("env %v", cf.Config.Env)
	}
	if strings.Join(cf.Config.Cmd, " ") != "--addr :9090" || cf.Config.WorkingDir != "/home/nonroot" {
		t.Errorf("cmd %v workdir %q", cf.Config.Cmd, cf.Config.WorkingDir)
	}
	if _, ok := cf.Config.ExposedPorts["9090/tcp"]; !ok || len(cf.Config.ExposedPorts) != 2 {
		t.Errorf("ports %v", cf.Config.ExposedPorts)
	}
	if _, ok := cf.Config.ExposedPorts["53/udp"]; !ok {
		t.Errorf("ports %v", cf.Config.ExposedPorts)
	}
	if _, ok := cf.Config.Volumes["/var/lib/app"]; !ok || len(cf.Config.Volumes) != 1 {
		t.Errorf("volumes %v", cf.Config.Volumes)
	}
	if cf.Config.Labels["team"] != "infra" {
		t.Errorf("labels %v", cf.Config.Labels)
	}
	m, err := r.Image.Manifest()
	must(t, err)
	if m.Annotations["com.example.owner"] != "infra" || m.Annotations[AnnotationSource] != "https://override" {
		t.Errorf("annotations %v", m.Annotations)
	}
	// The data layer sits between the base and the binary, with fixed modes and times.
	layers, err := r.Image.Layers()
	must(t, err)
	if len(layers) != 3 {
		t.Fatalf("%d layers", len(layers))
	}
	files, _ := layerFiles(t, layers[1])
	for p, mode := range map[string]int64{
		"/var/run/ko": 0o555, "/var/run/ko/static/css": 0o555, "/var/run/ko/static/css/site.css": 0o444,
		"/var/run/ko/run.sh": 0o555, "/var/run/ko/link.sh": 0o777,
	} {
		f, ok := files[p]
		if !ok {
			t.Errorf("data layer lacks %s", p)
			continue
		}
		if f.hdr.Mode != mode || f.hdr.Uid != 0 || !f.hdr.ModTime.Equal(LayerTime) {
			t.Errorf("%s: mode %o uid %d mtime %v", p, f.hdr.Mode, f.hdr.Uid, f.hdr.ModTime)
		}
	}
	if h := files["/var/run/ko/link.sh"].hdr; h.Typeflag != tar.TypeSymlink || h.Linkname != "run.sh" {
		t.Errorf("a link inside the data directory: %+v, want a link to run.sh", h)
	}
}

// A symbolic link in a data directory that resolves outside it would publish a host file: it is
// refused, naming the link and its target, whether a file, a directory or a chain through a link
// inside; links inside are stored as relative links, never followed; keep stores an outside link
// unfollowed, follow publishes its target (ko's way).
func TestDataDirectoryLinks(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "config.json")
	must(t, os.WriteFile(secret, []byte(`{"auths":{"x":{"auth":"c2VjcmV0"}}}`), 0o600))
	must(t, os.MkdirAll(filepath.Join(outside, "dir"), 0o755))
	must(t, os.WriteFile(filepath.Join(outside, "dir", "htpasswd"), []byte("ci:$2y$"), 0o600))
	data := func(t *testing.T, links map[string]string) string {
		d := t.TempDir()
		must(t, os.MkdirAll(filepath.Join(d, "static", "css"), 0o755))
		must(t, os.WriteFile(filepath.Join(d, "static", "css", "site.css"), []byte("body{}"), 0o644))
		for name, to := range links {
			must(t, os.MkdirAll(filepath.Dir(filepath.Join(d, name)), 0o755))
			must(t, os.Symlink(to, filepath.Join(d, name)))
		}
		return d
	}
	dataFiles := func(t *testing.T, d string, mode DataLinks) (map[string]tarFile, error) {
		s := spec(t, "linux/amd64")
		s.DataDir, s.DataLinks = d, mode
		r, err := Build(context.Background(), s)
		if err != nil {
			return nil, err
		}
		layers, err := r.Image.Layers()
		must(t, err)
		files, _ := layerFiles(t, layers[1])
		return files, nil
	}
	for name, c := range map[string]struct {
		links      map[string]string
		link, dest string
	}{
		"file":         {map[string]string{"leak": secret}, "leak", secret},
		"dir":          {map[string]string{"dirlink": filepath.Join(outside, "dir")}, "dirlink", filepath.Join(outside, "dir")},
		"chain":        {map[string]string{"hop": "static/next", "static/next": secret}, "hop", secret},
		"relative out": {map[string]string{"static/up": "../../../" + filepath.Base(outside) + "/config.json"}, "static/up", ""},
	} {
		t.Run(name, func(t *testing.T) {
			d := data(t, c.links)
			if name == "relative out" {
				// ../../../<outside>/config.json from <tmp>/<d>/static/up: both temp dirs share a parent.
				if filepath.Dir(filepath.Dir(d)) != filepath.Dir(filepath.Dir(outside)) {
					t.Skip("the temporary directories do not share a parent")
				}
				rel, err := filepath.Rel(filepath.Join(d, "static"), secret)
				must(t, err)
				must(t, os.Remove(filepath.Join(d, "static", "up")))
				must(t, os.Symlink(rel, filepath.Join(d, "static", "up")))
				c.dest = secret
			}
			_, err := dataFiles(t, d, "")
			var le *DataLinkError
			if !errors.As(err, &le) || le.Link != filepath.Join(d, c.link) || le.Target != c.dest ||
				!strings.Contains(err.Error(), filepath.Join(d, c.link)+" is a symbolic link to "+c.dest+", outside the data directory") {
				t.Fatalf("err = %v, want the link %s and its target %s named", err, c.link, c.dest)
			}
		})
	}
	t.Run("inside only", func(t *testing.T) {
		d := data(t, map[string]string{"style.css": "static/css/site.css", "assets": "static"})
		must(t, os.Symlink(filepath.Join(d, "static", "css", "site.css"), filepath.Join(d, "static", "css", "abs.css")))
		files, err := dataFiles(t, d, "")
		must(t, err)
		for p, want := range map[string]string{"/var/run/ko/style.css": "static/css/site.css", "/var/run/ko/assets": "static", "/var/run/ko/static/css/abs.css": "site.css"} {
			if h := files[p].hdr; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != want {
				t.Errorf("%s: %+v, want a link to %s", p, h, want)
			}
		}
		if _, ok := files["/var/run/ko/assets/css/site.css"]; ok {
			t.Error("a directory link inside was followed (its files published twice)")
		}
	})
	t.Run("keep", func(t *testing.T) {
		files, err := dataFiles(t, data(t, map[string]string{"leak": secret}), DataLinksKeep)
		must(t, err)
		if h := files["/var/run/ko/leak"].hdr; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != secret || len(files["/var/run/ko/leak"].data) != 0 {
			t.Errorf("keep: %+v, want the link stored unfollowed", h)
		}
	})
	t.Run("follow", func(t *testing.T) {
		files, err := dataFiles(t, data(t, map[string]string{"leak": secret, "dirlink": filepath.Join(outside, "dir")}), DataLinksFollow)
		must(t, err)
		if string(files["/var/run/ko/leak"].data) != `{"auths":{"x":{"auth":"c2VjcmV0"}}}` || string(files["/var/run/ko/dirlink/htpasswd"].data) != "ci:$2y$" {
			t.Errorf("follow did not publish the targets: %v", files)
		}
	})
	t.Run("dangling", func(t *testing.T) {
		_, err := dataFiles(t, data(t, map[string]string{"gone": "nowhere"}), "")
		if err == nil || !strings.Contains(err.Error(), "is a symbolic link to nowhere, which does not resolve") {
			t.Errorf("dangling: %v", err)
		}
	})
}

func TestBuildRejectsBadSpecs(t *testing.T) {
	good := spec(t, "linux/amd64")
	for name, c := range map[string]struct {
		change func(*Spec)
		want   string
	}{
		"no binaries":        {func(s *Spec) { s.Binaries = nil }, "no binary"},
		"bad name":           {func(s *Spec) { s.Name = "a/b" }, "want a file name"},
		"no platform":        {func(s *Spec) { s.Binaries[0].Platform = platform.Platform{} }, "no platform"},
		"windows":            {func(s *Spec) { s.Binaries[0].Platform = platform.MustParse("windows/amd64") }, "only linux"},
		"duplicate platform": {func(s *Spec) { s.Binaries = append(s.Binaries, s.Binaries[0]) }, "two binaries for linux/amd64"},
		"bad sha":            {func(s *Spec) { s.Binaries[0].SHA256 = "xyz" }, "64 hex digits"},
		"bad env":            {func(s *Spec) { s.Env = []string{"NOVALUE"} }, "image.env[0]"},
		"bad port":           {func(s *Spec) { s.Ports = []string{"70000"} }, "image.ports[0]"},
		"bad protocol":       {func(s *Spec) { s.Ports = []string{"80/http"} }, "want tcp, udp or sctp"},
		"relative workdir":   {func(s *Spec) { s.Workdir = "app" }, "image.workdir"},
		"relative volume":    {func(s *Spec) { s.Volumes = []string{"data"} }, "image.volumes[0]"},
		"created annotation": {func(s *Spec) { s.Annotations = map[string]string{AnnotationCreated: "now"} }, "set by scratchkit"},
		"missing data dir":   {func(s *Spec) { s.DataDir = filepath.Join(t.TempDir(), "nope") }, "data directory"},
		"bad base":           {func(s *Spec) { s.Base = "UPPER/Case::" }, "image.base"},
	} {
		s := good
		s.Binaries = append([]Binary(nil), good.Binaries...)
		c.change(&s)
		if _, err := Build(context.Background(), s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, c.want)
		}
	}
}

func TestWriteSBOMs(t *testing.T) {
	r := build(t, spec(t, "linux/amd64", "linux/arm/v7"))
	dir := filepath.Join(t.TempDir(), "dist", "sbom")
	files, err := r.WriteSBOMs(dir)
	must(t, err)
	if len(files) != 2 {
		t.Fatalf("%d SBOM files", len(files))
	}
	for i, f := range files {
		if want := filepath.Join(dir, "tiny-"+strings.ReplaceAll(r.Platforms[i].Platform.String(), "/", "-")+".spdx.json"); f.Path != want {
			t.Errorf("SBOM path %s, want %s", f.Path, want)
		}
		if !bytes.Equal(readFile(t, f.Path), r.Platforms[i].SBOM) || f.ImageDigest != r.Platforms[i].Digest.String() || f.SHA256 != testenv.FileSHA256(t, f.Path) {
			t.Errorf("SBOM file %+v does not match platform %s", f, r.Platforms[i].Platform)
		}
	}
	entries, err := os.ReadDir(dir)
	must(t, err)
	if len(entries) != 2 {
		t.Errorf("the SBOM directory holds %d entries (temporary files left?)", len(entries))
	}
}

func TestBuildHonoursCancellation(t *testing.T) {
	s := spec(t, "linux/amd64")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Build(ctx, s); !errors.Is(err, context.Canceled) {
		t.Errorf("Build with a cancelled context: %v", err)
	}
}

// An unchanged binary is the same layer in every commit's image: file times are fixed, only the
// config's created time (and so the manifest) follows the commit.
func TestLayersIndependentOfCommitTime(t *testing.T) {
	layerDigests := func(created time.Time) ([]v1.Hash, v1.Hash) {
		s := spec(t, "linux/amd64")
		s.Created = created
		img := build(t, s).Image
		layers, err := img.Layers()
		must(t, err)
		var out []v1.Hash
		for _, l := range layers {
			d, err := l.Digest()
			must(t, err)
			out = append(out, d)
		}
		cfg, err := img.ConfigName()
		must(t, err)
		return out, cfg
	}
	a, cfgA := layerDigests(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	b, cfgB := layerDigests(time.Date(2026, 6, 7, 8, 9, 10, 0, time.UTC))
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("layers: %v and %v", a, b)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("layer %d differs between two commit times: %s, %s", i, a[i], b[i])
		}
	}
	if cfgA == cfgB {
		t.Error("the config does not carry the commit time")
	}
}
