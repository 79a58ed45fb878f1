// Package binary_test benchmarks the Verify engine (targets/binary) on a ~100 MB Go binary.
//
//	go test -run='^$' -bench=. -benchtime=10x ./bench/binary
//
// The binary is built once per run, into a temporary directory, from a generated program:
// net/http and crypto, 40 generated packages of 500 functions each (so the function table is
// large, as in a real big service), and the Go toolchain's own executables embedded as data
// (so the bulk of the bytes look like real machine code and tables, not zeros). The first run
// compiles it (a minute or two on a small machine); the build cache makes later runs quick.
// SCRATCHKIT_BENCH_BINARY=/path/to/binary benchmarks that file instead (Verify must pass it).
package binary_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/render"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/platform"
)

const (
	targetSize = 100 << 20
	genPkgs    = 40
	genFuncs   = 500
)

var (
	bigOnce sync.Once
	bigPath string
	bigErr  error
	workDir string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if workDir != "" {
		os.RemoveAll(workDir)
	}
	os.Exit(code)
}

// bigBinary builds the ~100 MB binary (stripped, -trimpath, static: a binary that passes).
func bigBinary(b *testing.B) string {
	if p := os.Getenv("SCRATCHKIT_BENCH_BINARY"); p != "" {
		return p
	}
	bigOnce.Do(func() {
		workDir, bigErr = os.MkdirTemp("", "scratchkit-bench-binary-")
		if bigErr != nil {
			return
		}
		bigPath, bigErr = buildBig(workDir)
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigPath
}

func buildBig(dir string) (string, error) {
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	write := func(rel, content string) error {
		p := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(content), 0o644)
	}
	if err := write("go.mod", "module example.com/big\n\ngo 1.24\n"); err != nil {
		return "", err
	}
	var imports, calls strings.Builder
	for p := 0; p < genPkgs; p++ {
		var g strings.Builder
		fmt.Fprintf(&g, "package p%02d\n\n", p)
		for f := 0; f < genFuncs; f++ {
			fmt.Fprintf(&g, "func F%d(x int) int {\n\tswitch x %% 5 {\n", f)
			fmt.Fprintf(&g, "\tcase 0:\n\t\treturn x*%d + %d\n", f+3, p)
			fmt.Fprintf(&g, "\tcase 1:\n\t\treturn len(\"p%02d.F%d handles case one\") + x\n", p, f)
			fmt.Fprintf(&g, "\tcase 2:\n\t\treturn (x << %d) ^ %d\n", f%13+1, f*p+7)
			fmt.Fprintf(&g, "\tcase 3:\n\t\ts := 0\n\t\tfor i := 0; i < x%%%d; i++ {\n\t\t\ts += i * %d\n\t\t}\n\t\treturn s\n", f%11+2, p+1)
			fmt.Fprintf(&g, "\t}\n\treturn x - %d\n}\n\n", f)
		}
		g.WriteString("// Funcs keeps every function reachable.\nvar Funcs = []func(int) int{")
		for f := 0; f < genFuncs; f++ {
			fmt.Fprintf(&g, "F%d, ", f)
		}
		g.WriteString("}\n")
		if err := write(fmt.Sprintf("p%02d/p.go", p), g.String()); err != nil {
			return "", err
		}
		fmt.Fprintf(&imports, "\t\"example.com/big/p%02d\"\n", p)
		fmt.Fprintf(&calls, "\tfor _, f := range p%02d.Funcs {\n\t\tn += f(len(os.Args))\n\t}\n", p)
	}

	// Real machine code as bulk data: the toolchain's executables, concatenated.
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOROOT: %w", err)
	}
	goroot := strings.TrimSpace(string(out))
	var blob bytes.Buffer
	tools, _ := filepath.Glob(filepath.Join(goroot, "pkg", "tool", runtime.GOOS+"_"+runtime.GOARCH, "*"))
	bins, _ := filepath.Glob(filepath.Join(goroot, "bin", "*"))
	want := targetSize - 20<<20 // leave room for the code
	for blob.Len() < want {
		n := blob.Len()
		for _, t := range append(tools, bins...) {
			data, err := os.ReadFile(t)
			if err == nil {
				blob.Write(data[:min(len(data), want-blob.Len())])
			}
			if blob.Len() >= want {
				break
			}
		}
		if blob.Len() == n {
			return "", fmt.Errorf("no toolchain executables found under %s to embed", goroot)
		}
	}
	if err := write("blob.bin", blob.String()); err != nil {
		return "", err
	}
	main := `package main

import (
	_ "embed"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"

` + imports.String() + `)

//go:embed blob.bin
var blob []byte

func main() {
	n := len(blob)
` + calls.String() + `	if len(os.Args) > 5 {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}
		resp, err := c.Get(os.Args[1])
		json.NewEncoder(os.Stdout).Encode(map[string]any{"resp": resp, "err": fmt.Sprint(err)})
	}
	fmt.Println(n)
}
`
	if err := write("main.go", main); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "big")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the big binary: %v\n%s", err, msg)
	}
	return bin, nil
}

func sha(b *testing.B, path string) string {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		b.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// BenchmarkVerify100MB is what the Verify target does per binary: inspect (one streaming pass
// for sha256 and the build-path scan, ELF headers, build info, the function table) and check,
// with a size breakdown.
func BenchmarkVerify100MB(b *testing.B) {
	path := bigBinary(b)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	work := filepath.Join(filepath.Dir(path), "src") // where buildBig ran go build
	if os.Getenv("SCRATCHKIT_BENCH_BINARY") != "" {
		work = "."
	}
	leaks, err := binary.BuildPaths(ctx, "go", work, nil)
	if err != nil {
		b.Fatal(err)
	}
	exp := binary.Expect{
		Name: "big", Platform: platform.MustParse("linux/" + runtime.GOARCH), SHA256: sha(b, path), MaxSize: 2 * targetSize,
		LeakPaths: leaks, Breakdown: true,
	}
	rep := binary.Verify(ctx, path, exp)
	if rep.Failed() {
		render.VerifyTable(os.Stderr, []binary.Report{rep}, false)
		b.Fatal("the benchmark binary does not pass verification")
	}
	info, _ := binary.Inspect(ctx, path)
	b.Logf("%s: %.1f MB, %d functions in %d packages", path, float64(st.Size())/1e6, info.Go.Funcs, len(info.Packages))

	b.SetBytes(st.Size())
	b.ResetTimer()
	for b.Loop() {
		if rep := binary.Verify(ctx, path, exp); rep.Failed() {
			b.Fatal("verification failed")
		}
	}
}

// BenchmarkInspect100MB is Inspect alone, without the path scan.
func BenchmarkInspect100MB(b *testing.B) {
	path := bigBinary(b)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ResetTimer()
	for b.Loop() {
		if _, err := binary.Inspect(context.Background(), path); err != nil {
			b.Fatal(err)
		}
	}
}
