package sign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/scratchkit/scratchkit/internal/testenv"
)

const testPassword = "s3cret-Pa55word-for-tests"

func passwordFunc(p string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(p), nil }
}

// newKeys generates a key pair in a fresh directory.
func newKeys(t *testing.T, password string) (priv, pub string) {
	t.Helper()
	priv, pub, err := GenerateKeyPair(t.TempDir(), passwordFunc(password))
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// noSecret fails t if err or any logged text reveals the password.
func noSecret(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, testPassword) || strings.Contains(s, "wrong-"+testPassword) {
			t.Fatalf("the key password appears in output: %q", s)
		}
	}
}

func TestGenerateKeyPair(t *testing.T) {
	dir := t.TempDir()
	priv, pub, err := GenerateKeyPair(dir, passwordFunc(testPassword))
	if err != nil {
		t.Fatal(err)
	}
	if priv != filepath.Join(dir, "cosign.key") || pub != filepath.Join(dir, "cosign.pub") {
		t.Fatalf("paths %s %s", priv, pub)
	}
	st, err := os.Stat(priv)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("cosign.key mode %v, want 0600", st.Mode().Perm())
	}
	keyPEM, _ := os.ReadFile(priv)
	if !bytes.HasPrefix(keyPEM, []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")) {
		t.Errorf("cosign.key is not in cosign's encrypted format:\n%s", keyPEM)
	}
	pubPEM, _ := os.ReadFile(pub)
	if !bytes.HasPrefix(pubPEM, []byte("-----BEGIN PUBLIC KEY-----")) {
		t.Errorf("cosign.pub is not a PEM public key:\n%s", pubPEM)
	}
	// The pair loads back, with the password, and matches.
	sv, err := loadSigner(context.Background(), &Options{Key: priv, Password: passwordFunc(testPassword)})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkPair(context.Background(), sv, priv, pub); err != nil {
		t.Fatal(err)
	}

	// A second run refuses to overwrite either file and leaves both untouched.
	_, _, err = GenerateKeyPair(dir, passwordFunc("other"))
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second GenerateKeyPair: %v, want a refusal to overwrite", err)
	}
	if b, _ := os.ReadFile(priv); !bytes.Equal(b, keyPEM) {
		t.Error("cosign.key changed")
	}
	if err := os.Remove(priv); err != nil {
		t.Fatal(err)
	}
	if _, _, err := GenerateKeyPair(dir, passwordFunc("other")); err == nil {
		t.Fatal("GenerateKeyPair overwrote an existing cosign.pub")
	}
	if b, _ := os.ReadFile(pub); !bytes.Equal(b, pubPEM) {
		t.Error("cosign.pub changed")
	}
	if _, err := os.Stat(priv); err == nil {
		t.Error("a refused GenerateKeyPair left a new cosign.key behind")
	}
}

func TestGenerateKeyPairPasswordError(t *testing.T) {
	t.Setenv("COSIGN_PASSWORD", "")
	os.Unsetenv("COSIGN_PASSWORD")
	dir := t.TempDir()
	_, _, err := GenerateKeyPair(dir, PasswordFromEnv())
	if err == nil || !strings.Contains(err.Error(), "COSIGN_PASSWORD is not set") {
		t.Fatalf("err = %v, want COSIGN_PASSWORD is not set", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("a failed GenerateKeyPair left files: %v", ents)
	}
}

func TestLoadSignerErrors(t *testing.T) {
	ctx := context.Background()
	priv, pub := newKeys(t, testPassword)
	keyPEM, _ := os.ReadFile(priv)
	t.Setenv("SCRATCHKIT_TEST_KEY", string(keyPEM))

	unreadable := filepath.Join(t.TempDir(), "cosign.key")
	if err := os.WriteFile(unreadable, keyPEM, 0o000); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.key")
	if err := os.WriteFile(garbage, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		opts Options
		want string // substring of the error; "" means success
	}{
		{"ok", Options{Key: priv, Password: passwordFunc(testPassword)}, ""},
		{"env key", Options{Key: "env://SCRATCHKIT_TEST_KEY", Password: passwordFunc(testPassword)}, ""},
		{"wrong password", Options{Key: priv, Password: passwordFunc("wrong-" + testPassword)}, "decrypt " + priv + ": wrong password (COSIGN_PASSWORD)"},
		{"wrong password env key", Options{Key: "env://SCRATCHKIT_TEST_KEY", Password: passwordFunc("wrong-" + testPassword)}, "decrypt env://SCRATCHKIT_TEST_KEY: wrong password (COSIGN_PASSWORD)"},
		{"no password", Options{Key: priv}, "wrong password"},
		{"missing", Options{Key: filepath.Join(t.TempDir(), "cosign.key"), Password: passwordFunc(testPassword)}, "does not exist: create one with the Keygen target"},
		{"unset env", Options{Key: "env://SCRATCHKIT_NO_SUCH_VAR", Password: passwordFunc(testPassword)}, "SCRATCHKIT_NO_SUCH_VAR"},
		{"public key given", Options{Key: pub, Password: passwordFunc(testPassword)}, "is a public key"},
		{"garbage", Options{Key: garbage, Password: passwordFunc(testPassword)}, "is not a cosign private key"},
		{"no key", Options{}, "no signing key"},
		{"unlinked kms", Options{Key: "awskms:///alias/scratchkit"}, "no KMS provider"},
	}
	if os.Geteuid() != 0 { // root reads mode-0000 files
		tests = append(tests, struct {
			name string
			opts Options
			want string
		}{"unreadable", Options{Key: unreadable, Password: passwordFunc(testPassword)}, "not readable"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadSigner(ctx, &tt.opts)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			noSecret(t, err.Error())
		})
	}
}

func TestPublicKeyOfAnotherKeyRefusedBeforeSigning(t *testing.T) {
	priv, _ := newKeys(t, testPassword)
	_, otherPub := newKeys(t, testPassword)
	dir := t.TempDir()
	blob := filepath.Join(dir, "SHA256SUMS")
	if err := os.WriteFile(blob, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := SignBlob(context.Background(), Options{Key: priv, Password: passwordFunc(testPassword), PublicKey: otherPub}, blob)
	if err == nil || !strings.Contains(err.Error(), "public key "+otherPub+" does not belong to signing key "+priv) {
		t.Fatalf("err = %v, want a key pair mismatch naming both keys", err)
	}
	if _, err := os.Stat(blob + ".sig"); err == nil {
		t.Fatal("a signature was written although the key pair does not match")
	}
}

func TestWriteChecksumsMatchesSha256sum(t *testing.T) {
	sha256sum, err := exec.LookPath("sha256sum")
	if err != nil {
		t.Skip("sha256sum (coreutils) not installed")
	}
	dist := t.TempDir()
	files := map[string]string{
		"app_linux_amd64":              "binary one",
		"app_linux_arm64":              "binary two",
		"sbom/app.spdx.json":           `{"spdxVersion":"SPDX-2.3"}`,
		"with space/app_linux_riscv64": "binary three",
	}
	var list []string
	for rel, content := range files {
		p := filepath.Join(dist, rel)
		testenv.WriteFile(t, p, content)
		list = append(list, p) // absolute
	}
	list = append(list, "app_linux_amd64") // relative, duplicate: listed once
	out := filepath.Join(dist, "SHA256SUMS")
	if err := WriteChecksums(dist, list, out); err != nil {
		t.Fatal(err)
	}
	sums, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSuffix(string(sums), "\n"), "\n")
	if len(lines) != len(files) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(files), sums)
	}
	for i := 1; i < len(lines); i++ {
		if lines[i-1][66:] >= lines[i][66:] {
			t.Errorf("not sorted by path:\n%s", sums)
		}
	}
	cmd := exec.Command(sha256sum, "--check", "--strict", "SHA256SUMS")
	cmd.Dir = dist
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum --check rejects our SHA256SUMS: %v\n%s\n%s", err, out, sums)
	}
	// And sha256sum notices a changed binary.
	if err := os.WriteFile(filepath.Join(dist, "app_linux_arm64"), []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(sha256sum, "--check", "--strict", "SHA256SUMS")
	cmd.Dir = dist
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "app_linux_arm64: FAILED") {
		t.Fatalf("sha256sum --check accepted a changed binary: %v\n%s", err, out)
	}

	if err := WriteChecksums(dist, []string{filepath.Join(t.TempDir(), "elsewhere")}, out); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("a file outside dist: err = %v", err)
	}
	if err := WriteChecksums(dist, nil, out); err == nil {
		t.Fatal("no files: no error")
	}
}

func TestSignBlobVerifyBlob(t *testing.T) {
	ctx := context.Background()
	priv, pub := newKeys(t, testPassword)
	_, otherPub := newKeys(t, "other")
	dir := t.TempDir()
	blob := filepath.Join(dir, "SHA256SUMS")
	if err := os.WriteFile(blob, []byte("abc  app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	got, err := SignBlob(ctx, Options{Key: priv, Password: passwordFunc(testPassword), Log: func(f string, a ...any) { fmt.Fprintf(&logs, f+"\n", a...) }}, blob)
	if err != nil {
		t.Fatal(err)
	}
	// Both formats by default; cosign's older bundle only with a transparency log entry.
	if got.Signature != blob+".sig" || got.Bundle != blob+".sigstore.json" || got.LegacyBundle != "" || got.SHA256 != "sha256:"+mustSHA(t, blob) {
		t.Fatalf("BlobSignature = %+v", got)
	}
	var bundle struct {
		MediaType        string
		MessageSignature struct {
			MessageDigest struct{ Algorithm, Digest string }
		}
	}
	if b, err := os.ReadFile(got.Bundle); err != nil || json.Unmarshal(b, &bundle) != nil ||
		bundle.MediaType != BundleMediaType || bundle.MessageSignature.MessageDigest.Algorithm != "SHA2_256" {
		t.Fatalf("bundle %s: %+v, %v", got.Bundle, bundle, err)
	}
	if err := VerifyBlobBundle(ctx, pub, blob, got.Bundle, false); err != nil {
		t.Fatal(err)
	}
	if err := VerifyBlobBundle(ctx, otherPub, blob, got.Bundle, false); err == nil || !strings.Contains(err.Error(), "was not signed with public key "+otherPub) {
		t.Fatalf("bundle, wrong key: err = %v", err)
	}
	sig, _ := os.ReadFile(blob + ".sig")
	if _, err := base64.StdEncoding.DecodeString(string(sig)); err != nil {
		t.Fatalf("signature file is not base64: %q", sig)
	}
	noSecret(t, logs.String())
	if err := VerifyBlob(ctx, pub, blob, blob+".sig"); err != nil {
		t.Fatal(err)
	}
	if err := VerifyBlob(ctx, otherPub, blob, blob+".sig"); err == nil || !strings.Contains(err.Error(), "does not verify with public key "+otherPub) {
		t.Fatalf("wrong key: err = %v", err)
	}
	if err := os.WriteFile(blob, []byte("abd  app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := VerifyBlob(ctx, pub, blob, blob+".sig"); err == nil {
		t.Fatal("a changed SHA256SUMS verified")
	}
	if err := VerifyBlobBundle(ctx, pub, blob, got.Bundle, false); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("a changed SHA256SUMS, bundle: err = %v", err)
	}

	// One format alone writes its file alone.
	for _, f := range []Format{FormatBundle, FormatLegacy} {
		dir := t.TempDir()
		blob := filepath.Join(dir, "SHA256SUMS")
		if err := os.WriteFile(blob, []byte("abc  app\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := SignBlob(ctx, Options{Key: priv, Password: passwordFunc(testPassword), Format: f}, blob)
		if err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		if (f == FormatBundle) != (got.Signature == "" && got.Bundle != "") || len(entries) != 2 {
			t.Errorf("%s: %+v, %d files", f, got, len(entries))
		}
	}
	if _, err := SignBlob(ctx, Options{Key: priv, Password: passwordFunc(testPassword), Format: "sigstore"}, blob); err == nil || !strings.Contains(err.Error(), "want one of bundle, legacy, both") {
		t.Fatalf("unknown format: err = %v", err)
	}
}

func mustSHA(t *testing.T, p string) string {
	t.Helper()
	s, err := fileSHA256(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeJWT is an unsigned token with a subject: enough for the client to build its request.
func fakeJWT() string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`{"sub":"ci@example.com","iss":"https://example.com"}`)) + ".sig"
}

func clearAmbientTokens(t *testing.T) {
	for _, v := range []string{"SIGSTORE_ID_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	if _, err := os.Stat("/var/run/sigstore/cosign/oidc-token"); err == nil {
		t.Skip("an ambient sigstore token file exists on this machine")
	}
}

func TestKeylessWithoutNetworkSaysWhatItNeeds(t *testing.T) {
	clearAmbientTokens(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fulcio := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
	rekor := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
	dir := t.TempDir()
	blob := filepath.Join(dir, "SHA256SUMS")
	if err := os.WriteFile(blob, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := Options{Keyless: true, FulcioURL: fulcio, RekorURL: rekor, IdentityToken: fakeJWT()}
	_, err := SignBlob(ctx, opts, blob)
	want := "keyless signing needs " + fulcio + " and " + rekor + ": "
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to start with %q", err, want)
	}
	for _, f := range []string{blob + ".sig", blob + ".sigstore.json"} {
		if _, err := os.Stat(f); err == nil {
			t.Fatalf("%s was written although keyless signing failed", f)
		}
	}

	// The default URLs are the public Sigstore instances.
	opts = Options{Keyless: true}
	_, err = SignBlob(ctx, opts, blob)
	if err == nil || !strings.Contains(err.Error(), "keyless signing needs an OIDC identity token") ||
		!strings.Contains(err.Error(), "https://fulcio.sigstore.dev and https://rekor.sigstore.dev") {
		t.Fatalf("no token: err = %v", err)
	}

	opts = Options{Keyless: true, Key: "cosign.key"}
	if _, err := SignBlob(ctx, opts, blob); err == nil || !strings.Contains(err.Error(), "choose one") {
		t.Fatalf("key and keyless: err = %v", err)
	}
}

func TestTLogWithoutNetworkSaysWhatItNeeds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	priv, _ := newKeys(t, testPassword)
	rekor := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
	dir := t.TempDir()
	blob := filepath.Join(dir, "SHA256SUMS")
	if err := os.WriteFile(blob, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := SignBlob(ctx, Options{Key: priv, Password: passwordFunc(testPassword), TLog: true, RekorURL: rekor}, blob)
	if err == nil || !strings.Contains(err.Error(), "transparency log upload (sign.tlog) needs "+rekor) {
		t.Fatalf("err = %v", err)
	}
	noSecret(t, err.Error())
	for _, f := range []string{blob + ".sig", blob + ".sigstore.json"} {
		if _, err := os.Stat(f); err == nil {
			t.Fatalf("%s was written although the upload failed", f)
		}
	}
}

func TestProvenanceStatement(t *testing.T) {
	d, err := name.NewDigest("127.0.0.1:5000/app@sha256:" + strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := &Provenance{
		BuilderID:  "https://github.com/org/app/.github/workflows/release.yml@refs/heads/main",
		Parameters: map[string]any{"platforms": []string{"linux/amd64"}, "ldflags": "-s -w"},
		SourceRepo: "git+https://github.com/org/app",
		SourceRef:  "refs/heads/main",
		Commit:     "0123456789abcdef0123456789abcdef01234567",
		GoVersion:  "go1.26.0",
		Deps: []Dependency{
			{Path: "golang.org/x/sys", Version: "v0.47.0", Sum: "h1:Khu2En+0gcYPZ2kuIihfswbzxv/mIHXgzPZ018Oty48="},
			{Path: "example.com/nosum", Version: "v1.0.0"},
		},
		StartedOn: started,
	}
	st, err := provenanceStatement(d, p)
	if err != nil {
		t.Fatal(err)
	}
	if st.predicateType != "https://slsa.dev/provenance/v1" {
		t.Fatalf("predicate type %s", st.predicateType)
	}
	var got struct {
		Type          string `json:"_type"`
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Name   string
			Digest map[string]string
		}
		Predicate struct {
			BuildDefinition struct {
				BuildType          string
				ExternalParameters struct {
					Config map[string]any
					Source map[string]any
				}
				InternalParameters   map[string]any
				ResolvedDependencies []struct {
					URI    string
					Name   string
					Digest map[string]string
				}
			}
			RunDetails struct {
				Builder  struct{ ID string }
				Metadata struct{ StartedOn string }
			}
		}
	}
	if err := json.Unmarshal(st.payload, &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != "https://in-toto.io/Statement/v1" {
		t.Errorf("_type %s", got.Type)
	}
	if len(got.Subject) != 1 || got.Subject[0].Digest["sha256"] != strings.Repeat("ab", 32) || got.Subject[0].Name != "127.0.0.1:5000/app" {
		t.Errorf("subject %+v", got.Subject)
	}
	pr := got.Predicate
	if pr.RunDetails.Builder.ID != p.BuilderID || pr.BuildDefinition.BuildType != DefaultBuildType {
		t.Errorf("builder %q build type %q", pr.RunDetails.Builder.ID, pr.BuildDefinition.BuildType)
	}
	if pr.BuildDefinition.ExternalParameters.Config["ldflags"] != "-s -w" {
		t.Errorf("config parameters %v", pr.BuildDefinition.ExternalParameters.Config)
	}
	if pr.BuildDefinition.InternalParameters["goVersion"] != "go1.26.0" {
		t.Errorf("internal parameters %v", pr.BuildDefinition.InternalParameters)
	}
	if pr.RunDetails.Metadata.StartedOn != "2026-01-02T03:04:05Z" {
		t.Errorf("startedOn %q", pr.RunDetails.Metadata.StartedOn)
	}
	deps := map[string]map[string]string{}
	for _, rd := range pr.BuildDefinition.ResolvedDependencies {
		deps[rd.URI] = rd.Digest
	}
	if deps["git+https://github.com/org/app"]["gitCommit"] != p.Commit {
		t.Errorf("source dependency %v", deps)
	}
	if _, ok := deps["pkg:golang/stdlib@go1.26.0"]; !ok {
		t.Errorf("no Go toolchain in %v", deps)
	}
	// The in-toto spec's own example: h1:Khu2En… is dirHash 2a1bb612….
	if deps["pkg:golang/golang.org/x/sys@v0.47.0"]["dirHash"] != "2a1bb6127fb481c60f67692e22285fb306f3c6ffe62075e0ccf674d7c3adcb8f" {
		t.Errorf("module dependency %v", deps)
	}
	if _, ok := deps["pkg:golang/example.com/nosum@v1.0.0"]; !ok {
		t.Errorf("module without sum missing: %v", deps)
	}

	if _, err := provenanceStatement(d, &Provenance{}); err == nil || !strings.Contains(err.Error(), "builder id") {
		t.Fatalf("empty builder id: err = %v", err)
	}
}

func TestSBOMStatementRejectsNonSPDX(t *testing.T) {
	d, _ := name.NewDigest("127.0.0.1:5000/app@sha256:" + strings.Repeat("ab", 32))
	p := filepath.Join(t.TempDir(), "sbom.json")
	if err := os.WriteFile(p, []byte(`{"bomFormat":"CycloneDX"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := sbomStatement(d, p); err == nil || !strings.Contains(err.Error(), "not an SPDX JSON document") {
		t.Fatalf("err = %v", err)
	}
	if _, err := sbomStatement(d, p+".missing"); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing SBOM: err = %v", err)
	}
}

func TestRefusesTagsAndEmptyInput(t *testing.T) {
	ctx := context.Background()
	if _, err := SignImages(ctx, Options{Key: "unused"}, nil); !errors.Is(err, ErrNoImages) {
		t.Fatalf("no subjects: err = %v", err)
	}
	if _, err := VerifyImages(ctx, VerifyOptions{PublicKey: "unused"}, nil); !errors.Is(err, ErrNoImages) {
		t.Fatalf("no subjects: err = %v", err)
	}
	_, err := SignImages(ctx, Options{Key: "unused"}, []Subject{{Ref: "127.0.0.1:5000/app:latest"}})
	if err == nil || !strings.Contains(err.Error(), "is a tag, not a digest") {
		t.Fatalf("tag: err = %v", err)
	}
}
