package sign

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/scratchkit/scratchkit/internal/regtransport"
)

const statementV1 = "https://in-toto.io/Statement/v1"

// offlineTrustedRoot writes the trusted root Sign writes beside key-based bundles, naming no
// authority and no log. cosign v2.6 needs a trusted root to check bundles even with a key, and
// fetches the public one from Sigstore's TUF repository; this machine has no route there, and a
// key alone is what these signatures rest on.
func offlineTrustedRoot(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), TrustedRootFile)
	if err := os.WriteFile(p, KeyOnlyTrustedRoot, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// cli runs a cosign CLI and returns its standard output and everything it printed.
func cli(bin string, args ...string) (stdout, all string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, both bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, &both)
	cmd.Stderr = &both
	err = cmd.Run()
	return out.String(), both.String(), err
}

// statementsPrinted decodes the in-toto statements of the DSSE envelopes that
// `cosign verify-attestation` prints, one JSON envelope a line.
func statementsPrinted(t *testing.T, stdout string) []inTotoStatement {
	t.Helper()
	var out []inTotoStatement
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var env struct{ Payload string }
		if json.Unmarshal(sc.Bytes(), &env) != nil || env.Payload == "" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			t.Fatalf("payload is not base64: %v", err)
		}
		var st inTotoStatement
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatalf("payload is not an in-toto statement: %v\n%s", err, raw)
		}
		out = append(out, st)
	}
	return out
}

// verifier is one way of running a cosign CLI.
type cliVerifier struct {
	name  string
	bin   string
	flags []string // after the subcommand
}

func (c cliVerifier) run(args ...string) (string, string, error) {
	return cli(c.bin, append(append([]string{args[0]}, c.flags...), args[1:]...)...)
}

// accepts checks that the CLI verifies the signature of each digest and, on the first, both
// attestations, whose printed payloads are in-toto Statement v1 naming the digest; and that it
// refuses all of it with another key.
func (c cliVerifier) accepts(t *testing.T, pub, otherPub string, digests ...name.Digest) {
	t.Helper()
	for _, d := range digests {
		if _, all, err := c.run("verify", "--key", pub, "--insecure-ignore-tlog", d.String()); err != nil {
			t.Errorf("%s verify %s: %v\n%s", c.name, d, err, all)
		}
		if _, all, err := c.run("verify", "--key", otherPub, "--insecure-ignore-tlog", d.String()); err == nil {
			t.Errorf("%s verify accepted another key for %s:\n%s", c.name, d, all)
		}
	}
	d := digests[0]
	for typ, pt := range map[string]string{"spdxjson": PredicateSPDX, "slsaprovenance1": PredicateSLSA1} {
		out, all, err := c.run("verify-attestation", "--key", pub, "--insecure-ignore-tlog", "--type", typ, d.String())
		if err != nil {
			t.Errorf("%s verify-attestation --type %s %s: %v\n%s", c.name, typ, d, err, all)
			continue
		}
		stmts := statementsPrinted(t, out)
		if len(stmts) == 0 {
			t.Errorf("%s verify-attestation --type %s printed no attestation:\n%s", c.name, typ, all)
		}
		for _, st := range stmts {
			if st.Type != statementV1 || st.PredicateType != pt || !st.names(d) {
				t.Errorf("%s verify-attestation --type %s: statement %s about %v with predicate %s", c.name, typ, st.Type, st.Subject, st.PredicateType)
			}
		}
		if _, all, err := c.run("verify-attestation", "--key", otherPub, "--insecure-ignore-tlog", "--type", typ, d.String()); err == nil {
			t.Errorf("%s verify-attestation --type %s accepted another key:\n%s", c.name, typ, all)
		}
	}
}

func bySignedFormat(signed []Signed) map[Format][]Signed {
	out := map[Format][]Signed{}
	for _, s := range signed {
		out[s.Format] = append(out[s.Format], s)
	}
	return out
}

func count(list []Signed, kind string) int {
	n := 0
	for _, s := range list {
		if s.Kind == kind {
			n++
		}
	}
	return n
}

// On the Debian docker-registry 2.8, which has no referrers API, the bundles go through the
// referrers tag schema. With the default format (both) the cosign v3 CLI with its default flags
// and the cosign v2.6 CLI with --new-bundle-format accept the bundles; cosign v2.6.5 without it
// finds them too and, offline, wants the trusted root Sign writes; with bundle alone only the
// bundles are there.
func TestE2EBundlesThroughFallbackTagWithCosignV2AndV3(t *testing.T) {
	e := setupE2E(t)
	ctx := context.Background()
	d, sub := e.helloIndex(t)
	var logs bytes.Buffer
	opts := e.keyOpts(&logs)
	opts.Recursive = true
	signed, err := SignImages(ctx, opts, []Subject{sub})
	if err != nil {
		t.Fatal(err)
	}
	noSecret(t, logs.String())
	idx := manifestOfIndex(t, d)
	digests := []name.Digest{d}
	for _, m := range idx.Manifests {
		digests = append(digests, d.Context().Digest(m.Digest.String()))
	}

	// Both formats: a signature of each manifest and two attestations of the index, in each.
	byFormat := bySignedFormat(signed)
	for _, f := range []Format{FormatLegacy, FormatBundle} {
		if got := byFormat[f]; count(got, KindSignature) != len(digests) || count(got, KindAttestation) != 2 {
			t.Fatalf("%s: %d signatures and %d attestations, want %d and 2: %+v", f, count(got, KindSignature), count(got, KindAttestation), len(digests), got)
		}
	}
	// Each bundle is a referrer manifest listed by the fallback tag of its subject.
	for _, s := range byFormat[FormatBundle] {
		sd, _ := name.NewDigest(s.Subject)
		if s.FallbackTag != FallbackTag(sd).String() || s.Ref != sd.Context().String()+"@"+s.Digest {
			t.Errorf("bundle recorded as %+v, want the referrer by digest and the fallback tag %s", s, FallbackTag(sd))
		}
		fb, err := remote.Index(FallbackTag(sd), remote.WithAuthFromKeychain(authn.DefaultKeychain))
		if err != nil {
			t.Fatalf("fallback tag of %s: %v", sd, err)
		}
		im, _ := fb.IndexManifest()
		listed := false
		for _, m := range im.Manifests {
			listed = listed || (m.Digest.String() == s.Digest && m.ArtifactType == BundleMediaType)
		}
		if !listed {
			t.Errorf("%s does not list %s as a bundle: %+v", FallbackTag(sd), s.Digest, im.Manifests)
		}
		if m := manifestOf(t, s.Ref); m == nil || len(m.Layers) != 1 || m.Layers[0].MediaType != BundleMediaType || m.Subject == nil || m.Subject.Digest.String() != sd.DigestStr() {
			t.Errorf("referrer %s: %+v", s.Ref, m)
		}
	}
	// Every payload, in either format, is an in-toto Statement v1.
	ropts := ociOptions(ctx, nil, false, regtransport.Timeouts{})
	found, err := listBundles(d, ropts)
	if err != nil || len(found) != 3 {
		t.Fatalf("%d bundles on the index, want a signature and two attestations: %v", len(found), err)
	}
	for _, f := range found {
		st, err := f.statement()
		if err != nil || st.Type != statementV1 || !st.names(d) {
			t.Errorf("bundle %s: %+v, %v", f.ref, st, err)
		}
	}

	v3 := cliVerifier{"cosign v3", e.cosign3, nil}
	v2bundle := cliVerifier{"cosign v2.6 --new-bundle-format", e.cosign, []string{"--new-bundle-format", "--trusted-root", offlineTrustedRoot(t)}}
	v2 := cliVerifier{"cosign v2.6 --trusted-root", e.cosign, []string{"--trusted-root", offlineTrustedRoot(t)}}
	_, otherPub := newKeys(t, "other")
	for _, c := range []cliVerifier{v3, v2bundle, v2} {
		c.accepts(t, e.pub, otherPub, digests...)
	}
	// Why Sign writes dist/trusted_root.json: cosign v2.6.3 and later detect the bundles among
	// the referrers by themselves (sigstore/cosign#4727) and then, with no route to Sigstore's
	// TUF repository, refuse even with --key.
	if _, all, err := (cliVerifier{"cosign v2.6", e.cosign, nil}).run("verify", "--key", e.pub, "--insecure-ignore-tlog", d.String()); err == nil || !strings.Contains(all, "trusted root is required") {
		t.Errorf("cosign v2.6 without --trusted-root: %v, want the refusal docs/sign.md explains:\n%s", err, all)
	}

	// Our verification checks both and says so.
	verified, err := VerifyImages(ctx, VerifyOptions{PublicKey: e.pub, Recursive: true, Format: FormatBoth}, []Subject{sub})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, v := range verified {
		got[string(v.Format)+" "+v.Kind]++
	}
	if got["bundle signature"] != len(digests) || got["legacy signature"] != len(digests) || got["bundle attestation"] != 2 || got["legacy attestation"] != 2 {
		t.Errorf("verified %v", got)
	}

	// Signing again adds no bundle: the identical ones are there.
	again, err := SignImages(ctx, opts, []Subject{sub})
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]bool{}
	for _, s := range byFormat[FormatBundle] {
		before[s.Ref] = true
	}
	for _, s := range bySignedFormat(again)[FormatBundle] {
		if !before[s.Ref] {
			t.Errorf("re-signing pushed a new bundle %s", s.Ref)
		}
	}
	if found, _ := listBundles(d, ropts); len(found) != 3 {
		t.Errorf("after re-signing, %d bundles on the index, want 3", len(found))
	}

	// With the bundle format alone, nothing in the legacy layout: cosign v3, and v2.6 with
	// --new-bundle-format or (v2.6.3 and later) finding the bundles itself, accept.
	b := e.pushImage(t, "bundled", "v1")
	bsub := Subject{Name: "bundled", Ref: b.String(), SBOM: sub.SBOM, Provenance: testProvenance()}
	bopts := e.keyOpts(nil)
	bopts.Format = FormatBundle
	signed, err = SignImages(ctx, bopts, []Subject{bsub})
	if err != nil {
		t.Fatal(err)
	}
	if len(bySignedFormat(signed)[FormatLegacy]) != 0 || len(signed) != 3 {
		t.Fatalf("bundle format signed %+v", signed)
	}
	for _, s := range []string{"sig", "att"} {
		if m := manifestOf(t, sigTag(b, s)); m != nil {
			t.Errorf("%s was pushed with the bundle format", sigTag(b, s))
		}
	}
	v3.accepts(t, e.pub, otherPub, b)
	v2bundle.accepts(t, e.pub, otherPub, b)
	v2.accepts(t, e.pub, otherPub, b)
	verified, err = VerifyImages(ctx, VerifyOptions{PublicKey: e.pub}, []Subject{bsub})
	if err != nil || len(verified) != 3 {
		t.Fatalf("verified %+v: %v", verified, err)
	}
	for _, v := range verified {
		if v.Format != FormatBundle {
			t.Errorf("checked %+v, want the bundles only", v)
		}
	}
	_, err = VerifyImages(ctx, VerifyOptions{PublicKey: e.pub, Format: FormatBoth}, []Subject{bsub})
	if want := b.String() + " is not signed: no signature at " + sigTag(b, "sig"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("both required of a bundle-only image: err = %v, want %q", err, want)
	}
}

// On a registry with the OCI 1.1 referrers API (go-containerregistry's, in process), the bundles
// are listed by the API and no fallback tag is written.
func TestE2EBundlesThroughReferrersAPI(t *testing.T) {
	e := setupE2E(t)
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(host + "/api/hello:v1")
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	h, _ := img.Digest()
	d := tag.Context().Digest(h.String())
	sub := Subject{Name: "hello", Ref: d.String(), SBOM: writeSBOM(t, t.TempDir(), "hello"), Provenance: testProvenance()}
	opts := e.keyOpts(nil)
	opts.Format = FormatBundle
	signed, err := SignImages(ctx, opts, []Subject{sub})
	if err != nil {
		t.Fatal(err)
	}
	if count(signed, KindSignature) != 1 || count(signed, KindAttestation) != 2 {
		t.Fatalf("signed %+v", signed)
	}
	// The registry's referrers API lists each one; there is no fallback tag.
	resp, err := http.Get(fmt.Sprintf("%s/v2/api/hello/referrers/%s", srv.URL, d.DigestStr()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, s := range signed {
		if s.FallbackTag != "" || s.Format != FormatBundle || !strings.Contains(string(body), s.Digest) {
			t.Errorf("%+v: want a bundle listed by the referrers API:\n%s", s, body)
		}
	}
	var te *transport.Error
	if _, err := remote.Head(FallbackTag(d)); err == nil {
		t.Errorf("a fallback tag %s was written although the registry has the referrers API", FallbackTag(d))
	} else if !errors.As(err, &te) || te.StatusCode != http.StatusNotFound {
		t.Errorf("fallback tag: %v", err)
	}

	_, otherPub := newKeys(t, "other")
	cliVerifier{"cosign v3", e.cosign3, nil}.accepts(t, e.pub, otherPub, d)
	cliVerifier{"cosign v2.6 --new-bundle-format", e.cosign, []string{"--new-bundle-format", "--trusted-root", offlineTrustedRoot(t)}}.accepts(t, e.pub, otherPub, d)
	cliVerifier{"cosign v2.6 --trusted-root", e.cosign, []string{"--trusted-root", offlineTrustedRoot(t)}}.accepts(t, e.pub, otherPub, d)

	verified, err := VerifyImages(ctx, VerifyOptions{PublicKey: e.pub}, []Subject{sub})
	if err != nil || len(verified) != 3 {
		t.Fatalf("verified %+v: %v", verified, err)
	}
	_, err = VerifyImages(ctx, VerifyOptions{PublicKey: otherPub}, []Subject{sub})
	if want := "no signature bundle of " + d.String() + " verifies with public key " + otherPub + ": it was signed with a different key"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("another key: err = %v, want %q", err, want)
	}
	_, err = VerifyImages(ctx, VerifyOptions{PublicKey: e.pub, Format: FormatLegacy}, []Subject{sub})
	if err == nil || !strings.Contains(err.Error(), "is not signed: no signature at") {
		t.Errorf("legacy required of a bundle-only image: err = %v", err)
	}
}

// Each platform manifest of an index carries the SBOM and provenance of its own binary, in both
// formats; the index its own. The cosign CLIs find each platform's own SBOM at its digest.
func TestE2EPlatformManifestsAttestedWithTheirOwnSBOM(t *testing.T) {
	e := setupE2E(t)
	ctx := context.Background()
	d := e.pushIndex(t, "multi", "v1")
	idx := manifestOfIndex(t, d)
	dir := t.TempDir()
	sub := Subject{Name: "multi", Ref: d.String(), SBOM: writeSBOM(t, dir, "multi-index"), Provenance: testProvenance()}
	for i, m := range idx.Manifests {
		p := testProvenance()
		p.Parameters = map[string]any{"platform": fmt.Sprintf("linux/arch%d", i)}
		sub.Manifests = append(sub.Manifests, Subject{
			Name: fmt.Sprintf("multi arch%d", i), Ref: d.Context().Digest(m.Digest.String()).String(),
			SBOM: writeSBOM(t, dir, fmt.Sprintf("multi-arch%d", i)), Provenance: p,
		})
	}

	// A manifest the index does not list is refused before anything is pushed.
	stray := sub
	stray.Manifests = append([]Subject{{Ref: e.pushImage(t, "multi", "stray").String(), SBOM: sub.SBOM}}, sub.Manifests...)
	if _, err := SignImages(ctx, e.keyOpts(nil), []Subject{stray}); err == nil || !strings.Contains(err.Error(), "is not a manifest of the index "+d.String()) {
		t.Fatalf("stray manifest: err = %v", err)
	}
	if m := manifestOf(t, sigTag(d, "sig")); m != nil {
		t.Fatal("the index was signed although a manifest was refused")
	}

	signed, err := SignImages(ctx, e.keyOpts(nil), []Subject{sub})
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, s := range signed {
		per[s.Subject+" "+s.Kind]++
	}
	if per[d.String()+" signature"] != 2 || per[d.String()+" attestation"] != 4 {
		t.Errorf("index: %v", per)
	}
	for _, m := range sub.Manifests {
		if per[m.Ref+" signature"] != 0 || per[m.Ref+" attestation"] != 4 {
			t.Errorf("%s: %v (signed only with Recursive; SBOM and provenance in both formats)", m.Name, per)
		}
	}

	_, otherPub := newKeys(t, "other")
	clis := []cliVerifier{{"cosign v3", e.cosign3, nil}, {"cosign v2.6", e.cosign, []string{"--trusted-root", offlineTrustedRoot(t)}}}
	for _, m := range append([]Subject{sub}, sub.Manifests...) {
		want := strings.TrimSuffix(filepath.Base(m.SBOM), ".spdx.json")
		for _, c := range clis {
			out, all, err := c.run("verify-attestation", "--key", e.pub, "--insecure-ignore-tlog", "--type", "spdxjson", m.Ref)
			if err != nil {
				t.Errorf("%s verify-attestation %s: %v\n%s", c.name, m.Name, err, all)
				continue
			}
			for _, st := range statementsPrinted(t, out) {
				var doc struct{ Name string }
				if json.Unmarshal(st.Predicate, &doc) != nil || doc.Name != want || st.Type != statementV1 {
					t.Errorf("%s: the SBOM attested at %s is %q (%s), want %q", c.name, m.Name, doc.Name, st.Type, want)
				}
			}
			if _, all, err := c.run("verify-attestation", "--key", otherPub, "--insecure-ignore-tlog", "--type", "spdxjson", m.Ref); err == nil {
				t.Errorf("%s accepted another key for %s:\n%s", c.name, m.Name, all)
			}
		}
	}

	verified, err := VerifyImages(ctx, VerifyOptions{PublicKey: e.pub, Format: FormatBoth}, []Subject{sub})
	if err != nil {
		t.Fatal(err)
	}
	if len(verified) != 2+4+2*4 {
		t.Errorf("verified %d: %+v", len(verified), verified)
	}
	// Another platform's SBOM at a platform's digest is refused.
	swapped := sub
	swapped.Manifests = append([]Subject(nil), sub.Manifests...)
	swapped.Manifests[0].SBOM, swapped.Manifests[1].SBOM = sub.Manifests[1].SBOM, sub.Manifests[0].SBOM
	_, err = VerifyImages(ctx, VerifyOptions{PublicKey: e.pub}, []Subject{swapped})
	if want := "the attested SBOM of " + sub.Manifests[0].Ref + " differs from " + sub.Manifests[1].SBOM; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("swapped SBOMs: err = %v, want %q", err, want)
	}
}
