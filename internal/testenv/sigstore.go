package testenv

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
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
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
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

// startConfined starts a service in a network namespace of its own (see namespace) listening
// at inner there, and returns host:port of a forwarder on 127.0.0.1 that carries each
// connection into it, and the service's output so far.
func startConfined(t testing.TB, what, inner, bin string, args ...string) (string, func() string) {
	t.Helper()
	ns := newNamespace(t, what)
	logs := ns.start(t, what, bin, args...)
	return ns.forward(t, inner), logs
}

// namespace is a network namespace with only a loopback interface, held open by a process of
// its own (unshare --net, lo up, then sleep) for the duration of a test. Services run in it
// (nsenter, so each keeps its pid); a forwarder on 127.0.0.1 carries connections in, and a
// listener the test serves can be put into it (a Fulcio reaches its OIDC issuer so). Whatever
// binds fixed ports, all interfaces or abstract unix sockets there collides with nothing of the
// test machine's, and several can run at once. It needs root (unshare, setns).
type namespace struct {
	pid int
	ctx context.Context
}

func newNamespace(t testing.TB, what string) *namespace {
	t.Helper()
	Root(t)
	Tool(t, "unshare")
	Tool(t, "nsenter")
	Tool(t, "ip")
	cmd := exec.Command("unshare", "--net", "--", "sh", "-c", `ip link set lo up && echo up && exec sleep 86400`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errs SyncBuffer
	cmd.Stderr = &errs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start a network namespace for %s: %v", what, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make([]byte, 3)
	if _, err := io.ReadFull(out, line); err != nil || string(line) != "up\n" {
		t.Fatalf("a network namespace for %s: loopback did not come up: %v %s", what, err, errs.String())
	}
	return &namespace{pid: cmd.Process.Pid, ctx: ctx}
}

// start runs bin in the namespace until the test ends and returns its output so far.
func (n *namespace) start(t testing.TB, what, bin string, args ...string) func() string {
	t.Helper()
	var buf SyncBuffer
	cmd := exec.Command("nsenter", append([]string{fmt.Sprintf("--net=/proc/%d/ns/net", n.pid), "--", bin}, args...)...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s's output:\n%s", what, buf.String())
		}
	})
	return buf.String
}

// forward listens on 127.0.0.1 (a free port) and carries each connection to inner in the
// namespace; it returns host:port.
func (n *namespace) forward(t testing.TB, inner string) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s, err := netns.Dial(n.ctx, n.pid, inner)
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
	return l.Addr().String()
}

// serve serves h at addr inside the namespace until the test ends.
func (n *namespace) serve(t testing.TB, addr string, h http.Handler) {
	t.Helper()
	l, err := netns.Listen(n.pid, addr)
	if err != nil {
		t.Fatalf("listen on %s in a test namespace: %v", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
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
// naming its authorities and logs. Nil members are left out. It names no certificate
// transparency log (the tests' Fulcio has none).
type TrustedRoot struct {
	TSAs    []*TSA
	Fulcios []*Fulcio
	Rekors  []*Rekor
}

// Write writes the trusted root as JSON into a new file and returns its path.
func (r TrustedRoot) Write(t testing.TB) string {
	t.Helper()
	var tsas []root.TimestampingAuthority
	for _, a := range r.TSAs {
		tsas = append(tsas, a.Authority())
	}
	var cas []root.CertificateAuthority
	for _, f := range r.Fulcios {
		cas = append(cas, f.Authority())
	}
	logs := map[string]*root.TransparencyLog{}
	for _, l := range r.Rekors {
		id := l.LogID()
		logs[hex.EncodeToString(id)] = &root.TransparencyLog{
			BaseURL: l.URL, ID: id, ValidityPeriodStart: l.Started, HashFunc: crypto.SHA256,
			PublicKey: &l.Key.PublicKey, SignatureHashFunc: crypto.SHA256,
		}
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, cas, nil, tsas, logs)
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

// SigningConfig is the other half of what a private Sigstore deployment hands its signers: a
// Sigstore signing configuration (v0.2) naming the URLs of its Fulcio, OIDC issuer, Rekor (API
// version 2) and timestamp authority.
type SigningConfig struct {
	Fulcio *Fulcio
	Issuer *OIDCIssuer
	Rekor  *Rekor
	TSA    *TSA
}

// Write writes the signing config as JSON into a new file and returns its path.
func (c SigningConfig) Write(t testing.TB) string {
	t.Helper()
	start := time.Now().Add(-time.Hour)
	svc := func(url string, version uint32) []root.Service {
		return []root.Service{{URL: url, MajorAPIVersion: version, ValidityPeriodStart: start, Operator: "scratchkit-tests"}}
	}
	var fulcio, oidc, rekor, tsa []root.Service
	if c.Fulcio != nil {
		fulcio = svc(c.Fulcio.URL, 1)
	}
	if c.Issuer != nil {
		oidc = svc(c.Issuer.URL, 1)
	}
	if c.Rekor != nil {
		rekor = svc(c.Rekor.URL, 2)
	}
	if c.TSA != nil {
		tsa = svc(c.TSA.URL, 1)
	}
	any1 := root.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY}
	sc, err := root.NewSigningConfig(root.SigningConfigMediaType02, fulcio, oidc, rekor, any1, tsa, any1)
	if err != nil {
		t.Fatal(err)
	}
	data, err := sc.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "signing_config.json")
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

// SyncBuffer is a bytes.Buffer a child's output and a test can share.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
