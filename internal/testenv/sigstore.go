package testenv

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// A local Sigstore: the services a private Sigstore deployment runs, built by .ci/test from the
// Go module proxy at pinned versions into $SCRATCHKIT_TOOLS and started here on 127.0.0.1 for
// the duration of a test.

// TSA is a running sigstore timestamp-authority (timestamp-server) with an in-memory signer:
// an RFC 3161 timestamp authority whose certificate chain is made when it starts.
type TSA struct {
	// URL is its RFC 3161 endpoint, http://127.0.0.1:PORT/api/v1/timestamp (sign.timestamp).
	URL string
	// Chain is its certificate chain, leaf first, root last, as it serves it.
	Chain []*x509.Certificate
}

// tsaLock serializes timestamp-servers across test processes: timestamp-server v2.1 serves its
// Prometheus metrics on :2112, a port no flag moves, and exits when it is taken.
const tsaLock = "/tmp/scratchkit-timestamp-server.lock"

// StartTSA starts timestamp-server on a free loopback port for the duration of t and fetches
// its certificate chain. Only one runs on the machine at a time (see tsaLock): StartTSA waits
// for another test's to stop.
func StartTSA(t testing.TB) *TSA {
	t.Helper()
	bin := Tool(t, "timestamp-server")
	lock, err := os.OpenFile(tsaLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", tsaLock, err)
	}
	t.Cleanup(func() { lock.Close() }) // after the server's cleanup below: closing releases the lock
	base := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	port := base[len("http://127.0.0.1:"):]
	logs := startService(t, "timestamp-server", bin, "serve", "--host", "127.0.0.1", "--port", port,
		"--timestamp-signer", "memory", "--disable-ntp-monitoring", "--log-type", "prod")
	var chain []byte
	waitFor(t, "timestamp-server", logs, func() bool {
		chain, err = get(base + "/api/v1/timestamp/certchain")
		return err == nil
	})
	tsa := &TSA{URL: base + "/api/v1/timestamp"}
	for block, rest := pem.Decode(chain); block != nil; block, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("timestamp-server's certificate chain: %v", err)
		}
		tsa.Chain = append(tsa.Chain, c)
	}
	if len(tsa.Chain) < 2 {
		t.Fatalf("timestamp-server served a chain of %d certificates, want leaf … root:\n%s", len(tsa.Chain), chain)
	}
	return tsa
}

// Authority is the TSA as a trusted root names it.
func (a *TSA) Authority() root.TimestampingAuthority {
	n := len(a.Chain)
	return &root.SigstoreTimestampingAuthority{
		Leaf: a.Chain[0], Intermediates: a.Chain[1 : n-1], Root: a.Chain[n-1],
		ValidityPeriodStart: a.Chain[0].NotBefore, URI: a.URL,
	}
}

// TrustedRoot is what a private Sigstore deployment hands its users: a Sigstore trusted root
// naming its authorities and logs. Nil members are left out.
type TrustedRoot struct {
	TSAs []*TSA
}

// Write writes the trusted root as JSON into a new file and returns its path.
func (r TrustedRoot) Write(t testing.TB) string {
	t.Helper()
	var tsas []root.TimestampingAuthority
	for _, a := range r.TSAs {
		tsas = append(tsas, a.Authority())
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, nil, nil, tsas, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startService starts a long-running service for the duration of t and returns its output so
// far, for messages.
func startService(t testing.TB, what, bin string, args ...string) func() string {
	t.Helper()
	var buf syncBuffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	return buf.String
}

// waitFor polls up until it reports true, for at most 30 seconds.
func waitFor(t testing.TB, what string, logs func() string, up func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !up() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up in 30s:\n%s", what, logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func get(u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// syncBuffer is a bytes.Buffer a child's output and a test can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
