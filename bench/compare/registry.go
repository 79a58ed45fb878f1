package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// startRegistry starts the Debian docker-registry (CNCF distribution) on a free loopback port
// with its storage under the temporary directory, and stops it on Close.
func (b *bench) startRegistry(ctx context.Context) (host string, err error) {
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		return "", fmt.Errorf("the image comparison needs the Debian docker-registry: apt-get install docker-registry (%w)", err)
	}
	dir := filepath.Join(b.tmp, "registry")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	host = fmt.Sprintf("127.0.0.1:%d", port)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
`, filepath.Join(dir, "data"), host)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return "", err
	}
	var logBuf bytes.Buffer
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start docker-registry: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	b.onClose(func() error {
		select {
		case <-exited:
			return nil
		default:
		}
		_ = cmd.Process.Kill()
		<-exited
		return nil
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			return "", fmt.Errorf("docker-registry exited: %v\n%s", err, logBuf.String())
		case <-ctx.Done():
			return "", ctx.Err()
		default:
		}
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return host, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("docker-registry on %s did not answer in 20s:\n%s", host, logBuf.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// proxy is a reverse proxy in front of the registry that counts what a tool uploads: the
// request bodies of blob uploads (POST, PATCH and PUT under /blobs/uploads/) and of manifest
// PUTs. It keeps the Host header, so the registry's upload locations point back at the proxy.
type proxy struct {
	host      string
	blobs     atomic.Int64
	manifests atomic.Int64
}

func (b *bench) startProxy(registry string) (*proxy, error) {
	target, err := url.Parse("http://" + registry)
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &proxy{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && (r.Method == http.MethodPut || r.Method == http.MethodPatch || r.Method == http.MethodPost) {
			switch {
			case strings.Contains(r.URL.Path, "/blobs/uploads/"):
				r.Body = &countingBody{ReadCloser: r.Body, n: &p.blobs}
			case strings.Contains(r.URL.Path, "/manifests/"):
				r.Body = &countingBody{ReadCloser: r.Body, n: &p.manifests}
			}
		}
		rp.ServeHTTP(w, r)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(l) }()
	b.onClose(func() error {
		if err := srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	p.host = l.Addr().String()
	return p, nil
}

// reset zeroes the counters before a run; uploaded reads them after.
func (p *proxy) reset() { p.blobs.Store(0); p.manifests.Store(0) }

func (p *proxy) uploaded() int64 { return p.blobs.Load() + p.manifests.Load() }

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}
