package regtransport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A server that takes a request's body and then never answers: the answer clock starts once
// the body is sent, and the error says which bound was reached for which request.
func TestBoundsNameTheRequestThatTimedOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, c := range []struct {
		name     string
		method   string
		path     string
		body     []byte
		timeouts Timeouts
		kind     Kind
		says     string
	}{
		{"answer", http.MethodPost, "/v2/x/app/blobs/uploads/", nil, Timeouts{Response: 200 * time.Millisecond, Request: time.Minute}, NoAnswer,
			"registry " + host + " did not answer the blob upload within 200ms"},
		{"whole", http.MethodPatch, "/v2/x/app/blobs/uploads/u-1", bytes.Repeat([]byte("x"), 1000), Timeouts{Response: time.Minute, Request: 300 * time.Millisecond}, Unfinished,
			"registry " + host + " did not complete the blob upload within 300ms (1000 of 1000 bytes sent)"},
		{"manifest", http.MethodPut, "/v2/x/app/manifests/v1", []byte("{}"), Timeouts{Response: 200 * time.Millisecond}, NoAnswer,
			"registry " + host + " did not answer the manifest push for tag v1 within 200ms"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader
			if c.body != nil {
				body = bytes.NewReader(c.body)
			}
			req, _ := http.NewRequest(c.method, srv.URL+c.path+"?_state=SECRET", body)
			start := time.Now()
			_, err := (&http.Client{Transport: New(nil, false, WithTimeouts(c.timeouts))}).Do(req)
			took := time.Since(start)
			var e *Error
			if !errors.As(err, &e) || e.Kind != c.kind || e.Error() != c.says {
				t.Fatalf("got %v, want an Error %q", err, c.says)
			}
			if !e.Timeout() || e.Temporary() {
				t.Errorf("Timeout %v, Temporary %v: want a timeout that is not retried", e.Timeout(), e.Temporary())
			}
			if limit := min(c.timeouts.orDefaults().Response, c.timeouts.orDefaults().Request); took < limit || took > limit+2*time.Second {
				t.Errorf("took %s with a %s bound", took, limit)
			}
		})
	}
}

// The overall bound keeps running while the answer's body is read, and a body that stops
// coming is cut off with an Error too.
func TestRequestBoundCoversTheAnswerBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := &http.Client{Transport: New(nil, false, WithTimeouts(Timeouts{Request: 300 * time.Millisecond}))}
	resp, err := c.Get(srv.URL + "/v2/x/app/blobs/sha256:abc")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	var e *Error
	if !errors.As(err, &e) || e.Kind != Unfinished || !strings.Contains(e.Error(), "did not complete the blob download of sha256:abc within 300ms") {
		t.Fatalf("got %v", err)
	}
}

// A request that completes in time leaves nothing running: its context ends with its body.
func TestBoundedRequestsSucceed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	c := &http.Client{Transport: New(nil, false, WithTimeouts(Timeouts{Response: time.Second, Request: time.Second}))}
	for range 3 {
		resp, err := c.Post(srv.URL+"/v2/x/app/blobs/uploads/", "text/plain", strings.NewReader("hello"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != "hello" {
			t.Fatalf("got %q, %v", b, err)
		}
	}
	time.Sleep(1500 * time.Millisecond) // past both bounds: nothing fires late
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v2/", nil)
	if _, err := c.Do(req); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled request: %v, want context.Canceled passed through", err)
	}
}

func TestOperation(t *testing.T) {
	for _, c := range []struct{ method, url, want string }{
		{"GET", "https://r.example/v2/", "API version check"},
		{"GET", "https://auth.example/token?scope=repository:x:pull&service=r", "token request"},
		{"HEAD", "https://r.example/v2/team/app/blobs/sha256:ab", "blob check of sha256:ab"},
		{"GET", "https://r.example/v2/team/app/blobs/sha256:ab", "blob download of sha256:ab"},
		{"POST", "https://r.example/v2/team/app/blobs/uploads/", "blob upload"},
		{"POST", "https://r.example/v2/team/app/blobs/uploads/?mount=sha256:ab&from=base", "blob mount of sha256:ab"},
		{"PATCH", "https://r.example/v2/team/app/blobs/uploads/uuid?_state=x", "blob upload"},
		{"PUT", "https://r.example/v2/team/app/blobs/uploads/uuid?_state=x&digest=sha256:ab", "blob upload of sha256:ab"},
		{"PUT", "https://r.example/v2/team/app/manifests/v1", "manifest push for tag v1"},
		{"PUT", "https://r.example/v2/team/app/manifests/sha256:ab", "manifest push for sha256:ab"},
		{"HEAD", "https://r.example/v2/team/app/manifests/latest", "manifest check of tag latest"},
		{"GET", "https://r.example/v2/team/app/referrers/sha256:ab", "referrers lookup of sha256:ab"},
		{"GET", "https://r.example/v2/team/app/tags/list", "tag list"},
	} {
		req, _ := http.NewRequest(c.method, c.url, nil)
		if got := Operation(req); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.method, c.url, got, c.want)
		}
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		60 * time.Second: "60s", 90 * time.Second: "90s", 30 * time.Minute: "30m", 90 * time.Minute: "1h30m",
		2 * time.Hour: "2h", 1500 * time.Millisecond: "1.5s", 200 * time.Millisecond: "200ms",
	} {
		if got := Human(d); got != want {
			t.Errorf("Human(%s) = %q, want %q", d, got, want)
		}
	}
}

// A connection closed in the middle of an upload is an Error naming the request and how far
// its body got, not the transport's bare "EOF" or "connection reset by peer".
func TestDroppedConnection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.CopyN(io.Discard, r.Body, 1000)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	req, _ := http.NewRequest(http.MethodPatch, srv.URL+"/v2/x/app/blobs/uploads/u-1?_state=SECRET", bytes.NewReader(make([]byte, 8<<20)))
	_, err := (&http.Client{Transport: New(nil, false)}).Do(req)
	var e *Error
	if !errors.As(err, &e) || e.Kind != Dropped || e.Timeout() {
		t.Fatalf("got %v, want a dropped-connection Error", err)
	}
	if want := "the connection to registry " + host + " dropped during the blob upload ("; !strings.HasPrefix(e.Error(), want) || !strings.Contains(e.Error(), " of 8388608 bytes sent)") {
		t.Errorf("got %q, want it to start %q and say how much was sent", e.Error(), want)
	}
	if e.Sent < 1000 || e.Sent > 8<<20 {
		t.Errorf("sent %d", e.Sent)
	}
	t.Log(e)
}
