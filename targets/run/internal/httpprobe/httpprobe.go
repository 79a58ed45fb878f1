// Package httpprobe is the GET loop of scratchkit's http smoke probe. The run package uses it to
// probe a service from this process (through the host's network, or a connection opened inside
// the container's network namespace), and the prober program, which runs in a container joined to
// the service's network namespace, uses it from there: the probe means the same either way.
//
// It uses the standard library only: the prober is built from its source on the user's machine.
package httpprobe

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"
)

const (
	// Attempt is the deadline of one GET.
	Attempt = 2 * time.Second
	// Interval is the pause between GETs.
	Interval = 100 * time.Millisecond
	// MaxLast bounds Result.Last: a hostile service chooses its status line and its errors.
	MaxLast = 512
	// maxBody is how much of an answer's body is read before the connection is closed.
	maxBody = 1 << 20
)

// Result is how a probe ended.
type Result struct {
	// Status is the 2xx status the service answered; 0 when it did not.
	Status int `json:"status"`
	// Attempts is how many GETs were sent.
	Attempts int `json:"attempts"`
	// Last says why the last GET failed ("last answer 503 Service Unavailable", "last attempt:
	// ... connection refused"), when Status is 0.
	Last string `json:"last,omitempty"`
}

// Dial opens a connection to the service; nil means this process's network.
type Dial func(ctx context.Context, network, addr string) (net.Conn, error)

// Until GETs url until the service answers 2xx, deadline passes or ctx ends, one GET per
// Interval. Redirects are followed; proxies are not used.
func Until(ctx context.Context, url string, deadline time.Time, dial Dial) Result {
	tr := &http.Transport{DisableKeepAlives: true, Proxy: nil, DialContext: dial}
	client := &http.Client{Transport: tr}
	var r Result
	for {
		r.Attempts++
		actx, cancel := context.WithTimeout(ctx, Attempt)
		status, last := get(actx, client, url)
		cancel()
		if status != 0 {
			return Result{Status: status, Attempts: r.Attempts}
		}
		r.Last = bound(last)
		if ctx.Err() != nil || time.Now().After(deadline) {
			return r
		}
		select {
		case <-ctx.Done():
			return r
		case <-time.After(Interval):
		}
	}
}

// get sends one GET: the 2xx status, or why there was none.
func get(ctx context.Context, client *http.Client, url string) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "last attempt: " + err.Error()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, ""
	}
	return 0, "last answer " + resp.Status
}

func bound(s string) string {
	if len(s) > MaxLast {
		return s[:MaxLast] + "..."
	}
	return s
}
