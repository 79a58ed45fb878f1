package sign

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/scratchkit/scratchkit/internal/regtransport"
	"github.com/scratchkit/scratchkit/internal/testenv"
)

// e2e is one real docker-registry (with htpasswd auth), a key pair generated for the test, and
// the pinned cosign CLIs (v2 as cosign, v3 as cosign3), all sharing DOCKER_CONFIG and
// COSIGN_PASSWORD as a CI job would.
type e2e struct {
	reg     *testenv.Registry
	cosign  string
	cosign3 string
	priv    string
	pub     string
}

func setupE2E(t *testing.T) *e2e {
	t.Helper()
	cosign := testenv.Tool(t, "cosign")
	cosign3 := testenv.Tool(t, "cosign3")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{User: "ci", Password: "registry-Pa55"})
	t.Setenv("DOCKER_CONFIG", reg.DockerConfig(t))
	t.Setenv("HOME", t.TempDir()) // the cosign CLI keeps its TUF cache under ~/.sigstore
	t.Setenv("COSIGN_PASSWORD", testPassword)
	for _, v := range []string{"COSIGN_KEY", "COSIGN_REPOSITORY", "COSIGN_EXPERIMENTAL"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	priv, pub, err := GenerateKeyPair(t.TempDir(), PasswordFromEnv())
	if err != nil {
		t.Fatal(err)
	}
	return &e2e{reg: reg, cosign: cosign, cosign3: cosign3, priv: priv, pub: pub}
}

func (e *e2e) keyOpts(log *bytes.Buffer) Options {
	o := Options{Key: e.priv, Password: PasswordFromEnv(), PublicKey: e.pub}
	if log != nil {
		o.Log = func(f string, a ...any) { fmt.Fprintf(log, f+"\n", a...) }
	}
	return o
}

// runCosign runs the cosign CLI and returns its combined output.
func (e *e2e) runCosign(args ...string) (string, error) {
	return testenv.Output(e.cosign, args...)
}

// runCosign3 runs the cosign v3 CLI and returns its combined output.
func (e *e2e) runCosign3(args ...string) (string, error) {
	return testenv.Output(e.cosign3, args...)
}

func (e *e2e) mustCosign(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.runCosign(args...)
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// pushIndex pushes a random two-platform index as repo:tag and returns its digest reference.
func (e *e2e) pushIndex(t *testing.T, repo, tag string) name.Digest {
	t.Helper()
	idx, err := random.Index(512, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	return e.push(t, repo, tag, idx, func(ref name.Tag, o remote.Option) error { return remote.WriteIndex(ref, idx, o) })
}

// pushImage pushes a random one-layer image as repo:tag and returns its digest reference.
func (e *e2e) pushImage(t *testing.T, repo, tag string) name.Digest {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	return e.push(t, repo, tag, img, func(ref name.Tag, o remote.Option) error { return remote.Write(ref, img, o) })
}

// push writes an image or index, whose digest is what digest returns, as repo:tag and returns
// its digest reference.
func (e *e2e) push(t *testing.T, repo, tag string, digest interface{ Digest() (v1.Hash, error) }, write func(name.Tag, remote.Option) error) name.Digest {
	t.Helper()
	ref, err := name.NewTag(e.reg.Host + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(ref, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		t.Fatal(err)
	}
	h, err := digest.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(h.String())
}

// helloIndex pushes a two-platform index as hello:v1 and returns its digest reference and the
// subject to sign: with its tag, an SBOM and a provenance.
func (e *e2e) helloIndex(t *testing.T) (name.Digest, Subject) {
	t.Helper()
	d := e.pushIndex(t, "hello", "v1")
	sbom := writeSBOM(t, t.TempDir(), "hello")
	return d, Subject{Name: "hello", Ref: d.String(), Tags: []string{d.Context().String() + ":v1"}, SBOM: sbom, Provenance: testProvenance()}
}

// manifestOf fetches the manifest at ref, or nil when the registry has none.
func manifestOf(t *testing.T, ref string) *v1.Manifest {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		if strings.Contains(err.Error(), "MANIFEST_UNKNOWN") || strings.Contains(err.Error(), "NAME_UNKNOWN") {
			return nil
		}
		t.Fatalf("fetch %s: %v", ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sigTag(d name.Digest, suffix string) string {
	return d.Context().String() + ":" + strings.Replace(d.DigestStr(), ":", "-", 1) + "." + suffix
}

func writeSBOM(t *testing.T, dir, pkg string) string {
	t.Helper()
	doc := map[string]any{
		"spdxVersion":       "SPDX-2.3",
		"dataLicense":       "CC0-1.0",
		"SPDXID":            "SPDXRef-DOCUMENT",
		"name":              pkg,
		"documentNamespace": "https://scratchkit.invalid/spdx/" + pkg,
		"creationInfo":      map[string]any{"created": "2026-01-02T03:04:05Z", "creators": []string{"Tool: scratchkit"}},
		"packages": []map[string]any{{
			"SPDXID": "SPDXRef-Package-" + pkg, "name": pkg, "versionInfo": "v1.2.3",
			"downloadLocation": "NOASSERTION",
		}},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, pkg+".spdx.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func testProvenance() *Provenance {
	return &Provenance{
		BuilderID:  "https://github.com/scratchkit/scratchkit/.github/workflows/release.yml@refs/heads/main",
		Parameters: map[string]any{"platforms": []any{"linux/amd64", "linux/arm64"}, "trimpath": true},
		SourceRepo: "git+https://github.com/scratchkit/hello",
		SourceRef:  "refs/heads/main",
		Commit:     "3f786850e387550fdab836ed7e6dc881de23001b",
		GoVersion:  "go1.26.0",
		Deps:       []Dependency{{Path: "golang.org/x/sys", Version: "v0.47.0", Sum: "h1:Khu2En+0gcYPZ2kuIihfswbzxv/mIHXgzPZ018Oty48="}},
	}
}

func TestE2ESignVerifyWithCosignCLI(t *testing.T) {
	e := setupE2E(t)
	ctx := context.Background()
	d, sub := e.helloIndex(t)

	var logs bytes.Buffer
	opts := e.keyOpts(&logs)
	opts.Recursive = true
	opts.Format = FormatLegacy // the bundles have tests of their own
	opts.Annotations = map[string]string{"commit": testProvenance().Commit}
	signed, err := SignImages(ctx, opts, []Subject{sub})
	if err != nil {
		t.Fatal(err)
	}
	noSecret(t, logs.String())

	// One signature for the index and one per platform manifest, two attestations on the index.
	idx := manifestOfIndex(t, d)
	var sigs, atts []Signed
	for _, s := range signed {
		switch s.Kind {
		case KindSignature:
			sigs = append(sigs, s)
		case KindAttestation:
			atts = append(atts, s)
		}
	}
	if len(sigs) != 1+len(idx.Manifests) || len(atts) != 2 {
		t.Fatalf("signed %d signatures and %d attestations, want %d and 2: %+v", len(sigs), len(atts), 1+len(idx.Manifests), signed)
	}
	want := map[string]bool{d.String(): true}
	for _, m := range idx.Manifests {
		want[d.Context().Digest(m.Digest.String()).String()] = true
	}
	for _, s := range sigs {
		if !want[s.Subject] {
			t.Errorf("signed %s, which is neither the index nor one of its manifests", s.Subject)
		}
		sd, _ := name.NewDigest(s.Subject)
		if s.Ref != sigTag(sd, "sig") {
			t.Errorf("signature ref %s, want cosign's classic %s", s.Ref, sigTag(sd, "sig"))
		}
		delete(want, s.Subject)
	}
	if len(want) != 0 {
		t.Errorf("not signed: %v", want)
	}
	gotPT := map[string]bool{}
	for _, a := range atts {
		gotPT[a.PredicateType] = true
		if a.Subject != d.String() || a.Ref != sigTag(d, "att") {
			t.Errorf("attestation %+v, want subject %s at %s", a, d, sigTag(d, "att"))
		}
	}
	if !gotPT[PredicateSPDX] || !gotPT[PredicateSLSA1] {
		t.Errorf("attestation predicate types %v", gotPT)
	}
	// The recorded digests are those of the manifests now in the registry.
	for _, s := range signed {
		tag, _ := name.NewTag(s.Ref)
		desc, err := remote.Head(tag, remote.WithAuthFromKeychain(authn.DefaultKeychain))
		if err != nil {
			t.Fatal(err)
		}
		if desc.Digest.String() != s.Digest {
			t.Errorf("%s: recorded digest %s, registry has %s", s.Ref, s.Digest, desc.Digest)
		}
	}

	// The cosign CLI accepts our signatures, for the index and each platform manifest ...
	out := e.mustCosign(t, "verify", "--key", e.pub, "--insecure-ignore-tlog", d.String())
	if !strings.Contains(out, `"docker-manifest-digest":"`+d.DigestStr()+`"`) {
		t.Errorf("cosign verify output does not name the digest:\n%s", out)
	}
	for _, m := range idx.Manifests {
		e.mustCosign(t, "verify", "--key", e.pub, "--insecure-ignore-tlog", d.Context().Digest(m.Digest.String()).String())
	}
	// ... with the annotations we put in the payload, which cosign can require.
	e.mustCosign(t, "verify", "--key", e.pub, "--insecure-ignore-tlog", "-a", "commit="+testProvenance().Commit, d.String())
	if out, err := e.runCosign("verify", "--key", e.pub, "--insecure-ignore-tlog", "-a", "commit=0000", d.String()); err == nil {
		t.Fatalf("cosign verify accepted a wrong annotation:\n%s", out)
	}
	// ... and our attestations, by type.
	e.mustCosign(t, "verify-attestation", "--key", e.pub, "--insecure-ignore-tlog", "--type", "spdxjson", d.String())
	e.mustCosign(t, "verify-attestation", "--key", e.pub, "--insecure-ignore-tlog", "--type", "slsaprovenance1", d.String())
	// A key the image was not signed with is refused by the CLI too.
	_, otherPub := newKeys(t, "other")
	if out, err := e.runCosign("verify", "--key", otherPub, "--insecure-ignore-tlog", d.String()); err == nil {
		t.Fatalf("cosign verify accepted another key:\n%s", out)
	}

	// Our verification agrees.
	verified, err := VerifyImages(ctx, VerifyOptions{PublicKey: e.pub, Recursive: true}, []Subject{sub})
	if err != nil {
		t.Fatal(err)
	}
	var vs, va int
	for _, v := range verified {
		if v.Kind == KindSignature {
			vs++
		} else {
			va++
		}
	}
	if vs != len(sigs) || va != 2 {
		t.Fatalf("verified %d signatures and %d attestations, want %d and 2: %+v", vs, va, len(sigs), verified)
	}

	// Signing again does not pile up signatures or attestations.
	again, err := SignImages(ctx, opts, []Subject{sub})
	if err != nil {
		t.Fatal(err)
	}
	if m := manifestOf(t, sigTag(d, "sig")); m == nil || len(m.Layers) != 1 {
		t.Errorf("after re-signing, %s has %v signature layers, want 1", sigTag(d, "sig"), m)
	}
	if m := manifestOf(t, sigTag(d, "att")); m == nil || len(m.Layers) != 2 {
		t.Errorf("after re-signing, %s has %v attestation layers, want 2", sigTag(d, "att"), m)
	}
	for i := range again {
		if again[i].Kind == KindSignature && again[i].Digest != signed[i].Digest {
			t.Errorf("re-signing changed %s: %s -> %s", again[i].Ref, signed[i].Digest, again[i].Digest)
		}
	}
}

func manifestOfIndex(t *testing.T, d name.Digest) *v1.IndexManifest {
	t.Helper()
	idx, err := remote.Index(d, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func TestE2EReleaseChecksumsWithCosignCLI(t *testing.T) {
	e := setupE2E(t)
	ctx := context.Background()
	dist := t.TempDir()
	var files []string
	for _, f := range []string{"hello_linux_amd64", "hello_linux_arm64", "hello.spdx.json"} {
		p := filepath.Join(dist, f)
		if err := os.WriteFile(p, []byte("content of "+f), 0o755); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	sums := filepath.Join(dist, "SHA256SUMS")
	if err := WriteChecksums(dist, files, sums); err != nil {
		t.Fatal(err)
	}
	bs, err := SignBlob(ctx, e.keyOpts(nil), sums)
	if err != nil {
		t.Fatal(err)
	}
	if bs.Bundle != sums+".sigstore.json" || bs.Signature != sums+".sig" {
		t.Fatalf("SignBlob wrote %+v, want both formats", bs)
	}
	_, otherPub := newKeys(t, "other")
	tr := offlineTrustedRoot(t)
	// The legacy signature for cosign v2; the bundle for cosign v3 with its default flags and for
	// cosign v2.6 with --new-bundle-format; another key refused by each.
	for _, c := range []struct {
		name string
		bin  string
		args []string
	}{
		{"cosign v2.6", e.cosign, []string{"--signature", bs.Signature}},
		{"cosign v3", e.cosign3, []string{"--bundle", bs.Bundle}},
		{"cosign v2.6 --new-bundle-format", e.cosign, []string{"--new-bundle-format", "--trusted-root", tr, "--bundle", bs.Bundle}},
	} {
		args := append(append([]string{"verify-blob", "--insecure-ignore-tlog"}, c.args...), sums)
		if _, all, err := cli(c.bin, append(args, "--key", e.pub)...); err != nil {
			t.Errorf("%s %s: %v\n%s", c.name, strings.Join(args, " "), err, all)
		}
		if _, all, err := cli(c.bin, append(args, "--key", otherPub)...); err == nil {
			t.Errorf("%s accepted another key:\n%s", c.name, all)
		}
	}
	if err := VerifyBlobBundle(ctx, e.pub, sums, bs.Bundle, false); err != nil {
		t.Fatal(err)
	}

	// A SHA256SUMS changed after signing is refused by the CLI and by us.
	b, _ := os.ReadFile(sums)
	if err := os.WriteFile(sums, append(b, []byte("0000000000000000000000000000000000000000000000000000000000000000  evil\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := e.runCosign("verify-blob", "--key", e.pub, "--signature", sums+".sig", "--insecure-ignore-tlog", sums); err == nil {
		t.Fatalf("cosign verify-blob accepted a changed SHA256SUMS:\n%s", out)
	}
	if err := VerifyBlob(ctx, e.pub, sums, sums+".sig"); err == nil {
		t.Fatal("VerifyBlob accepted a changed SHA256SUMS")
	}
	if out, err := e.runCosign3("verify-blob", "--key", e.pub, "--bundle", bs.Bundle, "--insecure-ignore-tlog", sums); err == nil {
		t.Fatalf("cosign v3 verify-blob accepted a changed SHA256SUMS:\n%s", out)
	}
	if err := VerifyBlobBundle(ctx, e.pub, sums, bs.Bundle, false); err == nil {
		t.Fatal("VerifyBlobBundle accepted a changed SHA256SUMS")
	}

	// A signature the CLI made verifies with VerifyBlob.
	if err := os.WriteFile(sums, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cliSig := filepath.Join(t.TempDir(), "SHA256SUMS.cli.sig")
	e.mustCosign(t, "sign-blob", "--key", e.priv, "--tlog-upload=false", "--yes", "--output-signature", cliSig, sums)
	if err := VerifyBlob(ctx, e.pub, sums, cliSig); err != nil {
		t.Fatalf("VerifyBlob refuses the cosign CLI's signature: %v", err)
	}
}

func TestE2EVerifyAcceptsCosignCLISignatures(t *testing.T) {
	e := setupE2E(t)
	ctx := context.Background()
	d := e.pushImage(t, "cli-signed", "v1")
	dir := t.TempDir()
	sbom := writeSBOM(t, dir, "cli")
	prov := testProvenance()
	pred, err := provenancePredicate(prov)
	if err != nil {
		t.Fatal(err)
	}
	predPath := filepath.Join(dir, "provenance.json")
	pb, _ := json.Marshal(pred)
	if err := os.WriteFile(predPath, pb, 0o644); err != nil {
		t.Fatal(err)
	}
	e.mustCosign(t, "sign", "--key", e.priv, "--tlog-upload=false", "--yes", d.String())
	e.mustCosign(t, "attest", "--key", e.priv, "--tlog-upload=false", "--yes", "--type", "spdxjson", "--predicate", sbom, d.String())
	e.mustCosign(t, "attest", "--key", e.priv, "--tlog-upload=false", "--yes", "--type", "slsaprovenance1", "--predicate", predPath, d.String())

	verified, err := VerifyImages(ctx, VerifyOptions{PublicKey: e.pub}, []Subject{{Ref: d.String(), SBOM: sbom, Provenance: prov}})
	if err != nil {
		t.Fatalf("VerifyImages refuses what the cosign CLI signed: %v", err)
	}
	if len(verified) != 3 {
		t.Fatalf("verified %+v, want a signature and two attestations", verified)
	}

	// Bundles the cosign v2.6 CLI attached (its statements are in-toto v0.1) verify too.
	b := e.pushImage(t, "cli-bundled", "v1")
	e.mustCosign(t, "sign", "--new-bundle-format", "--key", e.priv, "--tlog-upload=false", "--yes", b.String())
	e.mustCosign(t, "attest", "--new-bundle-format", "--key", e.priv, "--tlog-upload=false", "--yes", "--type", "spdxjson", "--predicate", sbom, b.String())
	e.mustCosign(t, "attest", "--new-bundle-format", "--key", e.priv, "--tlog-upload=false", "--yes", "--type", "slsaprovenance1", "--predicate", predPath, b.String())
	verified, err = VerifyImages(ctx, VerifyOptions{PublicKey: e.pub, Format: FormatBundle}, []Subject{{Ref: b.String(), SBOM: sbom, Provenance: prov}})
	if err != nil {
		t.Fatalf("VerifyImages refuses the bundles the cosign CLI attached: %v", err)
	}
	if len(verified) != 3 {
		t.Fatalf("verified %+v, want a signature and two attestations", verified)
	}

	// The claims are checked, not just the signatures: another SBOM or commit is refused.
	other := writeSBOM(t, t.TempDir(), "other")
	_, err = VerifyImages(ctx, VerifyOptions{PublicKey: e.pub}, []Subject{{Ref: d.String(), SBOM: other}})
	if err == nil || !strings.Contains(err.Error(), "the attested SBOM of "+d.String()+" differs from "+other) {
		t.Fatalf("another SBOM: err = %v", err)
	}
	p2 := *prov
	p2.Commit = strings.Repeat("1", 40)
	_, err = VerifyImages(ctx, VerifyOptions{PublicKey: e.pub}, []Subject{{Ref: d.String(), Provenance: &p2}})
	if err == nil || !strings.Contains(err.Error(), "names source commit [3f786850e387550fdab836ed7e6dc881de23001b], not "+p2.Commit) {
		t.Fatalf("another commit: err = %v", err)
	}
}

// blobPath is where the Debian docker-registry keeps a blob on disk.
func blobPath(r *testenv.Registry, h v1.Hash) string {
	return filepath.Join(r.Dir, "docker", "registry", "v2", "blobs", h.Algorithm, h.Hex[:2], h.Hex, "data")
}

func TestE2EVerifyFailuresSayWhich(t *testing.T) {
	e := setupE2E(t)
	ctx := context.Background()
	crane := testenv.Tool(t, "crane")
	repo := e.reg.Host + "/service"
	a := e.pushImage(t, "service", "v1")
	legacy := e.keyOpts(nil)
	legacy.Format = FormatLegacy
	if _, err := SignImages(ctx, legacy, []Subject{{Ref: a.String()}}); err != nil {
		t.Fatal(err)
	}
	vopts := VerifyOptions{PublicKey: e.pub}
	if _, err := VerifyImages(ctx, vopts, []Subject{{Ref: a.String(), Tags: []string{repo + ":v1"}}}); err != nil {
		t.Fatal(err)
	}

	t.Run("repointed tag", func(t *testing.T) {
		b := e.pushImage(t, "service", "v1") // v1 now names another image
		_, err := VerifyImages(ctx, vopts, []Subject{{Ref: a.String(), Tags: []string{repo + ":v1"}}})
		want := fmt.Sprintf("tag %s:v1 was repointed: it names %s now, but the signed image is %s", repo, b.DigestStr(), a.DigestStr())
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want %q", err, want)
		}
		// The CLI, asked about the tag, finds no signature either.
		if out, err := e.runCosign("verify", "--key", e.pub, "--insecure-ignore-tlog", repo+":v1"); err == nil {
			t.Fatalf("cosign verify accepted the repointed tag:\n%s", out)
		}

		// A signature copied onto the new image names the old digest: refused, by us and the CLI.
		testenv.Run(t, crane, "copy", sigTag(a, "sig"), sigTag(b, "sig"))
		_, err = VerifyImages(ctx, vopts, []Subject{{Ref: b.String()}})
		want = fmt.Sprintf("names %s, not %s", a.DigestStr(), b.DigestStr())
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("copied signature: err = %v, want %q", err, want)
		}
		if out, err := e.runCosign("verify", "--key", e.pub, "--insecure-ignore-tlog", b.String()); err == nil {
			t.Fatalf("cosign verify accepted a copied signature:\n%s", out)
		}
	})

	t.Run("tampered layer", func(t *testing.T) {
		c := e.pushImage(t, "tampered", "v1")
		if _, err := SignImages(ctx, e.keyOpts(nil), []Subject{{Ref: c.String()}}); err != nil {
			t.Fatal(err)
		}
		m := manifestOf(t, c.String())
		layer := m.Layers[0].Digest
		p := blobPath(e.reg, layer)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := range data[:16] {
			data[i] ^= 0xff
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = VerifyImages(ctx, vopts, []Subject{{Ref: c.String()}})
		want := fmt.Sprintf("tampered layer in %s: the registry serves %s with content whose digest is sha256:", c, layer)
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want %q", err, want)
		}
		// SkipLayers trusts the blobs: the signature itself is still good.
		if _, err := VerifyImages(ctx, VerifyOptions{PublicKey: e.pub, SkipLayers: true}, []Subject{{Ref: c.String()}}); err != nil {
			t.Fatalf("SkipLayers: %v", err)
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		_, otherPub := newKeys(t, "other")
		_, err := VerifyImages(ctx, VerifyOptions{PublicKey: otherPub}, []Subject{{Ref: a.String()}})
		want := fmt.Sprintf("no signature of %s verifies with public key %s: it was signed with a different key", a, otherPub)
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want %q", err, want)
		}
	})

	t.Run("unsigned and unattested", func(t *testing.T) {
		u := e.pushImage(t, "unsigned", "v1")
		_, err := VerifyImages(ctx, vopts, []Subject{{Ref: u.String()}, {Ref: a.String(), SBOM: writeSBOM(t, t.TempDir(), "x")}})
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), u.String()+" is not signed: no Sigstore bundle among its referrers and no signature at "+sigTag(u, "sig")) ||
			!strings.Contains(err.Error(), a.String()+" has no attestations") {
			t.Fatalf("err = %v, want both subjects reported", err)
		}
	})
}

func TestE2ESignBadInput(t *testing.T) {
	e := setupE2E(t)
	ctx := context.Background()
	d := e.pushImage(t, "bad", "v1")
	sbom := writeSBOM(t, t.TempDir(), "bad")
	sub := Subject{Ref: d.String(), SBOM: sbom, Provenance: testProvenance()}
	nothingPushed := func(t *testing.T, d name.Digest) {
		t.Helper()
		for _, s := range []string{"sig", "att"} {
			if m := manifestOf(t, sigTag(d, s)); m != nil {
				t.Fatalf("%s was pushed although signing failed", sigTag(d, s))
			}
		}
		if found, err := listBundles(d, ociOptions(ctx, nil, false, regtransport.Timeouts{})); err != nil || len(found) != 0 {
			t.Fatalf("%d bundles were pushed although signing failed (%v)", len(found), err)
		}
	}

	t.Run("wrong password", func(t *testing.T) {
		t.Setenv("COSIGN_PASSWORD", "wrong-"+testPassword)
		var logs bytes.Buffer
		signed, err := SignImages(ctx, e.keyOpts(&logs), []Subject{sub})
		t.Logf("error: %v", err)
		if err == nil || err.Error() != "decrypt "+e.priv+": wrong password (COSIGN_PASSWORD)" {
			t.Fatalf("err = %v", err)
		}
		if len(signed) != 0 {
			t.Fatalf("reported as signed: %+v", signed)
		}
		noSecret(t, err.Error(), logs.String())
		nothingPushed(t, d)
		// The CLI agrees that this is the wrong password for our key.
		if out, err := e.runCosign("sign", "--key", e.priv, "--tlog-upload=false", "--yes", d.String()); err == nil {
			t.Fatalf("cosign signed with a wrong password:\n%s", out)
		}
	})

	t.Run("missing key", func(t *testing.T) {
		o := e.keyOpts(nil)
		o.Key = filepath.Join(t.TempDir(), "cosign.key")
		_, err := SignImages(ctx, o, []Subject{sub})
		if err == nil || !strings.Contains(err.Error(), "signing key "+o.Key+" does not exist") {
			t.Fatalf("err = %v", err)
		}
		nothingPushed(t, d)
	})

	t.Run("public key of another key", func(t *testing.T) {
		_, otherPub := newKeys(t, "other")
		o := e.keyOpts(nil)
		o.PublicKey = otherPub
		_, err := SignImages(ctx, o, []Subject{sub})
		if err == nil || !strings.Contains(err.Error(), "public key "+otherPub+" does not belong to signing key "+e.priv) {
			t.Fatalf("err = %v", err)
		}
		noSecret(t, err.Error())
		nothingPushed(t, d)
	})

	t.Run("registry refuses the push", func(t *testing.T) {
		ro := testenv.StartRegistry(t, testenv.RegistryOptions{Storage: e.reg.Dir, ReadOnly: true}).Host
		rod, err := name.NewDigest(ro + "/bad@" + d.DigestStr())
		if err != nil {
			t.Fatal(err)
		}
		signed, err := SignImages(ctx, e.keyOpts(nil), []Subject{{Ref: rod.String(), SBOM: sbom}})
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), "the registry refused the signature push to "+sigTag(rod, "sig")) {
			t.Fatalf("err = %v", err)
		}
		if len(signed) != 0 {
			t.Fatalf("reported as signed: %+v", signed)
		}
		nothingPushed(t, d)

		bundleOnly := e.keyOpts(nil)
		bundleOnly.Format = FormatBundle
		signed, err = SignImages(ctx, bundleOnly, []Subject{{Ref: rod.String(), SBOM: sbom}})
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), "the registry refused the bundle push for "+rod.String()) {
			t.Fatalf("bundle format: err = %v", err)
		}
		if len(signed) != 0 {
			t.Fatalf("reported as signed: %+v", signed)
		}
		nothingPushed(t, d)
	})

	t.Run("bad registry credentials", func(t *testing.T) {
		bad := t.TempDir()
		cfg := fmt.Sprintf(`{"auths":{%q:{"auth":"Y2k6bm90LXRoZS1wYXNzd29yZA=="}}}`, e.reg.Host) // ci:not-the-password
		if err := os.WriteFile(filepath.Join(bad, "config.json"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("DOCKER_CONFIG", bad)
		signed, err := SignImages(ctx, e.keyOpts(nil), []Subject{sub})
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") || !strings.Contains(err.Error(), "check the registry credentials") {
			t.Fatalf("err = %v", err)
		}
		if len(signed) != 0 {
			t.Fatalf("reported as signed: %+v", signed)
		}
		noSecret(t, err.Error())
	})
	nothingPushed(t, d)

	t.Run("transparency log unreachable", func(t *testing.T) {
		o := e.keyOpts(nil)
		o.TLog = true
		o.RekorURL = fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
		signed, err := SignImages(ctx, o, []Subject{sub})
		if err == nil || !strings.Contains(err.Error(), "transparency log upload (sign.tlog) needs "+o.RekorURL) {
			t.Fatalf("err = %v", err)
		}
		if len(signed) != 0 {
			t.Fatalf("reported as signed: %+v", signed)
		}
		nothingPushed(t, d)
	})

	t.Run("later subject fails", func(t *testing.T) {
		missing := d.Context().Digest("sha256:" + strings.Repeat("0", 64))
		signed, err := SignImages(ctx, e.keyOpts(nil), []Subject{{Ref: d.String()}, {Name: "ghost", Ref: missing.String()}})
		want := "sign ghost (" + missing.String() + "): " + missing.String() + " is not in the registry"
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want %q", err, want)
		}
		if len(signed) != 2 || signed[0].Subject != d.String() || signed[1].Subject != d.String() {
			t.Fatalf("signed = %+v, want only the first subject, in both formats", signed)
		}
		nothingPushed(t, missing)
	})

	t.Run("no images", func(t *testing.T) {
		if _, err := SignImages(ctx, e.keyOpts(nil), nil); !errors.Is(err, ErrNoImages) {
			t.Fatalf("err = %v", err)
		}
	})
}
