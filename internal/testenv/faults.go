package testenv

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// FaultProxy is a plain-HTTP reverse proxy on 127.0.0.1 in front of a real registry that
// misbehaves on the requests a test chooses: it hangs them, answers them with an error status,
// or drops the connection part way through their body. Every other request passes through.
type FaultProxy struct {
	Host string // 127.0.0.1:PORT

	mu      sync.Mutex
	faults  []*Fault
	release chan struct{} // closed at cleanup: hung requests return
}

// Action is what a Fault does to a request it matches.
type Action int

// The misbehaviours a FaultProxy can inject.
const (
	// Hang never answers: the request waits until the client gives up or the test ends.
	Hang Action = iota
	// Status answers Fault.Status with a registry error body.
	Status
	// Drop reads Fault.After bytes of the request body, then closes the connection.
	Drop
	// Observe passes the request through and records the SHA-256 of its body (Fault.Bodies).
	Observe
)

// Fault is one misbehaviour, applied to the requests Match accepts.
type Fault struct {
	Match  func(*http.Request) bool
	Action Action
	Status int // for Status
	// Message is the registry error's message for Status; default a note that the proxy injected it.
	Message string
	After   int64 // for Drop: body bytes read before the connection is closed

	mu     sync.Mutex
	hits   int
	bodies []string
}

// Bodies are the sha256:<hex> digests of the bodies of the requests an Observe fault passed.
func (f *Fault) Bodies() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bodies...)
}

// Hits is how many requests the fault has been applied to.
func (f *Fault) Hits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits
}

// StartFaultProxy puts a FaultProxy in front of r for the duration of t.
func StartFaultProxy(t testing.TB, r *Registry) *FaultProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{Host: l.Addr().String(), release: make(chan struct{})}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: r.Host})
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if f := p.match(req); f != nil {
			if f.Action != Observe {
				p.apply(f, w, req)
				return
			}
			body, _ := io.ReadAll(req.Body)
			sum := sha256.Sum256(body)
			f.mu.Lock()
			f.bodies = append(f.bodies, "sha256:"+hex.EncodeToString(sum[:]))
			f.mu.Unlock()
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		proxy.ServeHTTP(w, req)
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		close(p.release)
		_ = srv.Close()
	})
	return p
}

// Inject adds f; it applies from the next request on, before the faults added earlier.
func (p *FaultProxy) Inject(f *Fault) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append([]*Fault{f}, p.faults...)
	return f
}

// Clear removes every fault: requests pass through again.
func (p *FaultProxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

func (p *FaultProxy) match(req *http.Request) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.faults {
		if f.Match(req) {
			f.mu.Lock()
			f.hits++
			f.mu.Unlock()
			return f
		}
	}
	return nil
}

func (p *FaultProxy) apply(f *Fault, w http.ResponseWriter, req *http.Request) {
	switch f.Action {
	case Hang:
		select {
		case <-req.Context().Done():
		case <-p.release:
		}
	case Status:
		_, _ = io.Copy(io.Discard, req.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		msg := f.Message
		if msg == "" {
			msg = "injected by the test's fault proxy"
		}
		body, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": "UNKNOWN", "message": msg}}})
		_, _ = w.Write(body)
	case Drop:
		_, _ = io.CopyN(io.Discard, req.Body, f.After)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic("fault proxy: hijack: " + err.Error())
		}
		// Unread bytes in the receive buffer make the close a reset, as a crashed peer's is.
		_ = conn.Close()
	}
}

// UploadStart matches the POST that opens a blob upload in any repository.
func UploadStart(req *http.Request) bool {
	return req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/blobs/uploads/")
}

// UploadBody matches the PATCH that sends a blob's bytes.
func UploadBody(req *http.Request) bool {
	return req.Method == http.MethodPatch && strings.Contains(req.URL.Path, "/blobs/uploads/")
}

// ManifestPut matches the PUT of a manifest under ref (a tag or a digest) in any repository.
func ManifestPut(ref string) func(*http.Request) bool {
	return func(req *http.Request) bool {
		return req.Method == http.MethodPut && strings.HasSuffix(req.URL.Path, "/manifests/"+ref)
	}
}

// AfterFirst matches the requests match accepts but the first: a tag's second PUT, the move,
// after the write of its own manifest that checks the registry lets it be written.
func AfterFirst(match func(*http.Request) bool) func(*http.Request) bool {
	var mu sync.Mutex
	seen := 0
	return func(req *http.Request) bool {
		if !match(req) {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		seen++
		return seen > 1
	}
}
