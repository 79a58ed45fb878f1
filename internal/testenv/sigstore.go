package testenv

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/internal/netns"
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

// StartTSA starts timestamp-server for the duration of t, in a network namespace of its own
// (timestamp-server v2.1 serves Prometheus metrics on :2112, every interface, a port no flag
// moves): only a forwarder on 127.0.0.1 reaches it, and its metrics port never touches the
// host's interfaces. It fetches the authority's certificate chain. It needs root (unshare,
// setns).
func StartTSA(t testing.TB) *TSA {
	t.Helper()
	bin := Tool(t, "timestamp-server")
	addr, logs := startConfined(t, "timestamp-server", "127.0.0.1:3000", bin, "serve", "--host", "127.0.0.1", "--port", "3000",
		"--timestamp-signer", "memory", "--disable-ntp-monitoring", "--log-type", "prod")
	base := "http://" + addr
	var chain []byte
	var err error
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

// startConfined starts a service in a new network namespace with only a loopback interface
// (unshare --net, then lo up, then exec: the service keeps the pid), listening at inner there,
// and returns host:port of a forwarder on 127.0.0.1 that carries each connection into it, and
// the service's output so far.
func startConfined(t testing.TB, what, inner, bin string, args ...string) (string, func() string) {
	t.Helper()
	Root(t)
	Tool(t, "unshare")
	Tool(t, "ip")
	var buf syncBuffer
	cmd := exec.Command("unshare", append([]string{"--net", "--", "sh", "-c", `ip link set lo up && exec "$0" "$@"`, bin}, args...)...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		l.Close()
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s's output:\n%s", what, buf.String())
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s, err := netns.Dial(ctx, cmd.Process.Pid, inner)
				if err != nil {
					return
				}
				defer s.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(s, c); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, s); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return l.Addr().String(), buf.String
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
