package dockerfile

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/targets/image"
)

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	cmd, args string
	line      int
}

// parse splits a Dockerfile into instructions the way the Dockerfile frontend does for the
// properties checked here: comments and blank lines dropped, backslash continuations joined.
func parse(t *testing.T, text string) (directive string, out []instruction) {
	t.Helper()
	lines := strings.Split(text, "\n")
	if !strings.HasPrefix(lines[0], "# syntax=") {
		t.Fatalf("first line %q is not a syntax directive", lines[0])
	}
	directive = strings.TrimPrefix(lines[0], "# syntax=")
	var cur strings.Builder
	start := 0
	for i, l := range lines {
		trimmed := strings.TrimSpace(l)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(l, `\`) {
			cur.WriteString(strings.TrimSuffix(l, `\`) + " ")
			continue
		}
		cur.WriteString(l)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args), start})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatalf("dangling continuation at the end")
	}
	return directive, out
}

var known = map[string]bool{"FROM": true, "WORKDIR": true, "COPY": true, "RUN": true, "ARG": true, "ENV": true, "LABEL": true, "EXPOSE": true, "VOLUME": true, "USER": true, "ENTRYPOINT": true, "CMD": true}

func generate(t *testing.T, o Options) []instruction {
	t.Helper()
	text, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	directive, ins := parse(t, text)
	if directive != "docker/dockerfile:1" {
		t.Errorf("syntax directive %q", directive)
	}
	for _, in := range ins {
		if !known[in.cmd] {
			t.Errorf("line %d: unknown instruction %q", in.line, in.cmd)
		}
	}
	return ins
}

func hello() Options {
	return Options{
		Builder: "golang:1.26.8-bookworm", Base: "scratch", Static: true,
		Builds:    []Build{{Name: "hello", Main: ".", Ldflags: []string{"-X main.version=v1.2.3"}, Linkage: "static"}},
		RunConfig: image.RunConfig{Args: []string{"-addr", ":8080"}, Ports: []string{"8080"}, Volumes: []string{"/var/lib/hello"}},
	}
}

func TestGenerateScratch(t *testing.T) {
	ins := generate(t, hello())
	var froms []instruction
	idx := map[string]int{}
	for i, in := range ins {
		if in.cmd == "FROM" {
			froms = append(froms, in)
		}
		if in.cmd == "COPY" && strings.Contains(in.args, "go.mod go.sum") {
			idx["modules"] = i
		}
		if in.cmd == "COPY" && in.args == ". ." {
			idx["source"] = i
		}
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			idx["build"] = i
			for _, want := range []string{"--mount=type=cache,target=/go/pkg/mod", "--mount=type=cache,target=/root/.cache/go-build", "CGO_ENABLED=0", "-trimpath", "-ldflags='-s -w -X main.version=v1.2.3'", "-pgo=auto", "GOARCH=$TARGETARCH"} {
				if !strings.Contains(in.args, want) {
					t.Errorf("build RUN lacks %q: %s", want, in.args)
				}
			}
		}
		if in.cmd == "RUN" && strings.Contains(in.args, "go mod download") && !strings.Contains(in.args, "--mount=type=cache,target=/go/pkg/mod") {
			t.Errorf("go mod download without a cache mount")
		}
	}
	if !(idx["modules"] < idx["source"] && idx["source"] < idx["build"]) {
		t.Errorf("go.mod/go.sum must be copied before the source, and the source before the build: %v", idx)
	}
	if len(froms) != 2 || !strings.Contains(froms[0].args, "golang:1.26.8-bookworm AS build") || froms[1].args != "scratch AS hello" {
		t.Fatalf("stages: %+v", froms)
	}
	final := ins[indexOf(ins, froms[1])+1:]
	var user, entry, volume string
	var copies []string
	for _, in := range final {
		switch in.cmd {
		case "VOLUME":
			volume = in.args
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entry = in.args
		case "COPY":
			copies = append(copies, in.args)
		}
	}
	if user != "65532:65532" {
		t.Errorf("USER %q, want non-root 65532:65532", user)
	}
	if entry != `["/ko-app/hello"]` {
		t.Errorf("ENTRYPOINT %s", entry)
	}
	if volume != `["/var/lib/hello"]` {
		t.Errorf("VOLUME %s", volume)
	}
	all := strings.Join(copies, "\n")
	for _, want := range []string{"ca-certificates.crt", "zoneinfo", "/out/etc/ /etc/", "/out/hello /ko-app/hello"} {
		if !strings.Contains(all, want) {
			t.Errorf("final stage does not copy %s:\n%s", want, all)
		}
	}
}

func indexOf(ins []instruction, x instruction) int {
	for i, in := range ins {
		if in == x {
			return i
		}
	}
	return -1
}

func TestGeneratePinnedDistroless(t *testing.T) {
	o := hello()
	o.Base = "gcr.io/distroless/static-debian12@sha256:" + strings.Repeat("a", 64)
	o.Static = false
	ins := generate(t, o)
	last := ""
	for _, in := range ins {
		if in.cmd == "FROM" {
			last = in.args
		}
	}
	if !strings.HasPrefix(last, "gcr.io/distroless/static-debian12@sha256:") {
		t.Errorf("final FROM %q", last)
	}
}

func TestRefusesFloatingAndCgo(t *testing.T) {
	for _, builder := range []string{"golang:latest", "golang", "golang:1.26", "golang:1-bookworm"} {
		o := hello()
		o.Builder = builder
		if _, err := Generate(o); err == nil || !strings.Contains(err.Error(), "not pinned") {
			t.Errorf("builder %s: %v", builder, err)
		}
	}
	o := hello()
	o.Base = "gcr.io/distroless/static-debian12:nonroot"
	if _, err := Generate(o); err == nil {
		t.Error("unpinned base accepted")
	}
	o = hello()
	o.Builds[0].Linkage = "cgo-static"
	if _, err := Generate(o); err == nil || !strings.Contains(err.Error(), "C toolchain") {
		t.Errorf("cgo linkage: %v", err)
	}
}

func TestWriteRefusesForeignDockerfile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "Dockerfile")
	mine, _ := Generate(hello())
	if err := os.WriteFile(p, []byte("FROM alpine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, mine); err == nil || !strings.Contains(err.Error(), "not written by scratchkit") {
		t.Fatalf("overwrote a foreign Dockerfile: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "FROM alpine\n" {
		t.Fatalf("foreign Dockerfile changed: %q", b)
	}
	os.Remove(p)
	if err := Write(p, mine); err != nil {
		t.Fatal(err)
	}
	// Its own file is regenerated in place.
	o := hello()
	o.Ports = []string{"9090"}
	again, _ := Generate(o)
	if err := Write(p, again); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); !regexp.MustCompile(`(?m)^EXPOSE 9090$`).Match(b) {
		t.Errorf("regenerated Dockerfile lacks the change:\n%s", b)
	}
}

// The entries keep dist, .git and keys out, and name a signing key by another name.
func TestIgnoreEntries(t *testing.T) {
	secrets := strings.Join(SecretPatterns, " ")
	got := strings.Join(IgnoreEntries("dist", "keys/release.pem", "cosign.key", "../outside.pem", "env-key"), " ")
	if want := ".git dist " + secrets + " keys/release.pem cosign.key env-key"; got != want {
		t.Errorf("IgnoreEntries = %q, want %q", got, want)
	}
	if got := strings.Join(IgnoreEntries("./out/"), " "); got != ".git out "+secrets {
		t.Errorf("IgnoreEntries(./out/) = %q", got)
	}
}

// Excluded reads a .dockerignore as docker does: every secret kind is out, example env files and
// sources are in, and the last matching line wins.
func TestExcluded(t *testing.T) {
	ignore := []byte(strings.Join(IgnoreEntries("dist", "#release"), "\n") + "\n")
	for rel, want := range map[string]bool{
		".env": true, "svc/.env.local": true, "prod.env": true, "tls/server.pem": true, "a/b/id_rsa.pub": true,
		".ssh/known_hosts": true, ".docker/config.json": true, ".aws/credentials": true, ".kube/config": true,
		"k8s/kubeconfig": true, ".netrc": true, "dist/hello": true, ".git/HEAD": true, "cosign.key": true,
		".env.example": false, "main.go": false, "go.mod": false, "docs/env.md": false, "#release": false,
	} {
		if got, err := Excluded(ignore, rel); err != nil || got != want {
			t.Errorf("Excluded(%s) = %v, %v; want %v", rel, got, err, want)
		}
	}
}

// A new .dockerignore holds the block; an existing one keeps its lines and gets the block at its
// end, replaced in place of an earlier one; a second run changes nothing.
func TestWriteIgnore(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".dockerignore")
	entries := IgnoreEntries("dist")
	if changed, err := WriteIgnore(p, entries); err != nil || !changed {
		t.Fatalf("new file: changed=%v err=%v", changed, err)
	}
	b, _ := os.ReadFile(p)
	block := ignoreBegin + "\n" + strings.Join(entries, "\n") + "\n" + ignoreEnd + "\n"
	if want := block; string(b) != want {
		t.Errorf("new .dockerignore:\n%s\nwant:\n%s", b, want)
	}

	// The owner's file, with a line that would re-include a key were it after the block.
	own := "node_modules\n!deploy/site.key\n" + ignoreBegin + "\nold-entry\n" + ignoreEnd + "\n*.log\n"
	if err := os.WriteFile(p, []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := WriteIgnore(p, entries); err != nil || !changed {
		t.Fatalf("existing file: changed=%v err=%v", changed, err)
	}
	b, _ = os.ReadFile(p)
	want := "node_modules\n!deploy/site.key\n*.log\n\n" + block
	if string(b) != want {
		t.Errorf("extended .dockerignore:\n%s\nwant:\n%s", b, want)
	}
	if changed, err := WriteIgnore(p, entries); err != nil || changed {
		t.Errorf("second run: changed=%v err=%v, want no change", changed, err)
	}
}
