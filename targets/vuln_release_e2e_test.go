package targets_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// TestReleaseAttestsVulns is `mage release` of the example for two platforms against a real
// registry and a local database: each platform's manifest carries a vuln attestation of its own
// binary's check, which the cosign CLI verifies with --type vuln and mage verifySignatures
// checks; every verification command docs/sign.md prints runs, as printed, with the CLI it
// names (cosign v3 and v2.6, the newest of each, offline); sign.attest asking for vuln where
// Verify recorded no check fails naming it.
func TestReleaseAttestsVulns(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	cosign := testenv.Tool(t, "cosign")
	cosign3 := testenv.Tool(t, "cosign3")
	dir := project(t, map[string]string{"scratchkit.yaml": `
platforms: [linux/amd64, linux/arm64]
smoke:
  runtime: none
`})
	repo := reg.Host + "/team"
	env := []string{"DOCKER_CONFIG=" + reg.DockerConfig(t), "KO_DOCKER_REPO=" + repo, "COSIGN_PASSWORD=pw", "SCRATCHKIT_VERIFY_VULNDB=" + helloVulnDB(t)}
	mustRun(t, dir, env, "keygen")
	out := mustRun(t, dir, env, "release")
	if !strings.Contains(out, "attestation vuln") {
		t.Errorf("release output lists no vuln attestation:\n%s", out)
	}
	rec := record(t, dir)
	var manifests []struct{ ref, platform string }
	for _, img := range rec.Images {
		if img.Destination == "registry" {
			for _, m := range img.Manifests {
				manifests = append(manifests, struct{ ref, platform string }{repo + "/hello@" + m.Digest, m.Platform.String()})
			}
		}
	}
	if len(manifests) != 2 {
		t.Fatalf("registry image manifests: %+v", rec.Images)
	}
	for _, m := range manifests {
		recorded := false
		for _, a := range rec.Attestations {
			recorded = recorded || (a.Subject == m.ref && a.PredicateType == "https://cosign.sigstore.dev/attestation/vuln/v1")
		}
		if !recorded {
			t.Errorf("no vuln attestation of %s (%s) in artifacts.json: %+v", m.ref, m.platform, rec.Attestations)
		}
		cmd := testenv.Run(t, cosign3, "verify-attestation", "--key", filepath.Join(dir, "cosign.pub"), "--insecure-ignore-tlog", "--type", "vuln", m.ref)
		pred := string(testenv.Predicate(t, cmd, "https://cosign.sigstore.dev/attestation/vuln/v1"))
		for _, want := range []string{`"platform":"` + m.platform + `"`, `"version":"2026-03-31T00:00:00Z"`, `"GO-2099-0101"`, `"net/http.Server.ListenAndServe"`, `"GO-2099-0102"`, `"uri":"pkg:golang/golang.org/x/vuln@`} {
			if !strings.Contains(pred, want) {
				t.Errorf("%s (%s): the vuln predicate lacks %s:\n%s", m.ref, m.platform, want, pred)
			}
		}
	}
	if out := mustRun(t, dir, env, "verifySignatures"); !strings.Contains(out, "vuln") {
		t.Errorf("verifySignatures checked no vuln attestation:\n%s", out)
	}

	// The docs' commands, as printed: sign.format both (the default) for cosign v3 and v2.6 ...
	if rec.TrustedRoot != "dist/trusted_root.json" {
		t.Errorf("artifacts.json trusted_root = %q, want dist/trusted_root.json", rec.TrustedRoot)
	}
	index := ""
	for _, img := range rec.Images {
		if img.Destination == "registry" {
			index = img.Ref
		}
	}
	docs := docCommands(t, "## Verify with the cosign CLI")
	clis := map[string][]string{"cosign v3": {cosign3}, "cosign v2.6": {cosign}, "any cosign": {cosign, cosign3}}
	ran := 0
	for group, lines := range docs {
		if group == "any cosign, sign.format: legacy" {
			continue
		}
		for prefix, bins := range clis {
			if !strings.HasPrefix(group, prefix) {
				continue
			}
			for _, bin := range bins {
				for _, line := range lines {
					runDocCommand(t, bin, dir, nil, line, index, manifests[0].ref)
					ran++
				}
			}
		}
	}
	// ... and sign.format legacy, for any cosign, on an image of its own.
	legacyEnv := append(env, "KO_DOCKER_REPO="+repo+"/legacy", "SCRATCHKIT_SIGN_FORMAT=legacy")
	mustRun(t, dir, legacyEnv, "sign")
	lrec := record(t, dir)
	if lrec.TrustedRoot != "" {
		t.Errorf("a legacy-format signing recorded trusted_root %q: it has no bundle to check", lrec.TrustedRoot)
	}
	for _, img := range lrec.Images {
		if img.Destination == "registry" {
			index = img.Ref
		}
	}
	for _, line := range docs["any cosign, sign.format: legacy"] {
		for _, bin := range []string{cosign, cosign3} {
			runDocCommand(t, bin, dir, nil, line, index, "")
			ran++
		}
	}
	if ran != 5+6+2*3 {
		t.Errorf("ran %d of the docs' commands, want 17: docs/sign.md's blocks changed (%v)", ran, docs)
	}

	testenv.WriteFile(t, filepath.Join(dir, "scratchkit.yaml"), "platforms: [linux/amd64]\nverify:\n  vulncheck: off\nsmoke:\n  runtime: none\nsign:\n  attest: [sbom, vuln]\n")
	out, err := run(t, dir, env, "sign")
	if err == nil || !strings.Contains(out, "scratchkit.yaml:7: sign.attest lists vuln, but hello (linux/"+runtime.GOARCH+") has no vulnerability check to attest: verify.vulncheck is off for it") {
		t.Errorf("sign.attest vuln without a check: %v\n%s", err, out)
	}
	// With vuln only there by default, Sign goes on and says which attestation it skipped and why.
	testenv.WriteFile(t, filepath.Join(dir, "scratchkit.yaml"), "platforms: [linux/amd64]\nverify:\n  vulncheck: off\nsmoke:\n  runtime: none\n")
	out = mustRun(t, dir, env, "sign")
	if !strings.Contains(out, "hello (linux/"+runtime.GOARCH+"): vuln attestation skipped, no vulnerability check to attest: verify.vulncheck is off for it") {
		t.Errorf("Sign does not say it skipped the vuln attestation:\n%s", out)
	}
}

// docCommands returns the cosign commands of the ```sh blocks in the section of docs/sign.md
// headed heading, grouped under the comment line that precedes them ("# cosign v3: …").
func docCommands(t *testing.T, heading string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "docs", "sign.md"))
	if err != nil {
		t.Fatal(err)
	}
	section, ok := strings.CutPrefix(string(data)[strings.Index(string(data), "\n"+heading+"\n")+1:], heading+"\n")
	if !ok {
		t.Fatalf("docs/sign.md has no section %q", heading)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	out := map[string][]string{}
	group, inBlock := "", false
	for _, line := range strings.Split(section, "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			inBlock = !inBlock && strings.TrimPrefix(line, "```") == "sh"
		case !inBlock:
		case strings.HasPrefix(line, "# "):
			group = strings.TrimPrefix(line, "# ")
		case strings.HasPrefix(line, "cosign "):
			if group == "" {
				t.Fatalf("docs/sign.md: %q comes before any comment naming its CLI", line)
			}
			out[group] = append(out[group], line)
		}
	}
	return out
}

// runDocCommand runs one command line as docs/sign.md prints it with the CLI bin, in dir, its
// example reference replaced: a line about --type vuln names a platform manifest (platform),
// every other the image (image).
func runDocCommand(t *testing.T, bin, dir string, env []string, line, image, platform string) {
	t.Helper()
	const example = "registry.example/team/hello@sha256:…"
	cmdline, comment, _ := strings.Cut(line, "#")
	ref := image
	if strings.Contains(cmdline, "--type vuln") {
		if !strings.Contains(comment, "platform manifest") {
			t.Errorf("docs/sign.md: %q does not say it takes a platform manifest's digest", line)
		}
		ref = platform
	}
	args := strings.Fields(strings.Replace(cmdline, example, ref, 1))[1:]
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("docs/sign.md, with %s: %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}
