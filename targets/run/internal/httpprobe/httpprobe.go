// Package httpprobe is the GET loop of scratchkit's http smoke probe. The run package uses it to
// probe a service from this process (through the host's network, or a connection opened inside
// the container's network namespace), and the prober program, which runs in a container joined to
// the service's network namespace, uses it from there: the probe means the same either way.
//
// It uses the standard library only: the prober is built from its source on the user's machine.
package httpprobe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"time"
)

const (
	// Attempt is the deadline of one GET.
	Attempt = 2 * time.Second
	// Interval is the pause between GETs.
	Interval = 100 * time.Millisecond
	// MaxLast bounds Result.Last: a hostile service chooses its status line, body and errors.
	MaxLast = 512
	// MaxBody is how much of an answer's body is read (and matched) before the connection is
	// closed.
	MaxBody = 1 << 20
)

// Expect says which answer passes. The zero value passes any 2xx.
type Expect struct {
	// Status is the status the answer must have; 0 means any 2xx. A 3xx is checked itself:
	// redirects are followed only when no 3xx is expected.
	Status int
	// Body is a regular expression the body (its first MaxBody bytes) must match; nil: any.
	Body *regexp.Regexp
	// Host is the Host header to send; empty: the URL's.
	Host string
}

// want describes the expected answer: "a 2xx", "status 404", with the body pattern.
func (e Expect) want() string {
	s := "a 2xx"
	if e.Status != 0 {
		s = "status " + strconv.Itoa(e.Status)
	}
	if e.Body != nil {
		s += " with a body matching " + strconv.Quote(e.Body.String())
	}
	return s
}

// Result is how a probe ended.
type Result struct {
	// Status is the status of the answer that passed; 0 when none did.
	Status int `json:"status"`
	// Attempts is how many GETs were sent.
	Attempts int `json:"attempts"`
	// Last says why the last GET failed ("last answer 503 Service Unavailable, want a 2xx",
	// "last attempt: ... connection refused"), when Status is 0.
	Last string `json:"last,omitempty"`
}

// Dial opens a connection to the service; nil means this process's network.
type Dial func(ctx context.Context, network, addr string) (net.Conn, error)

// Until GETs url until the answer is as expected, deadline passes or ctx ends, one GET per
// Interval. Proxies are not used.
func Until(ctx context.Context, url string, e Expect, deadline time.Time, dial Dial) Result {
	tr := &http.Transport{DisableKeepAlives: true, Proxy: nil, DialContext: dial}
	client := &http.Client{Transport: tr}
	if e.Status >= 300 && e.Status < 400 {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	var r Result
	for {
		r.Attempts++
		actx, cancel := context.WithTimeout(ctx, Attempt)
		status, last := get(actx, client, url, e)
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

// get sends one GET: the status of an answer as expected, or why there was none.
func get(ctx context.Context, client *http.Client, url string, e Expect) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	if e.Host != "" {
		req.Host = e.Host
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "last attempt: " + err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Sprintf("last answer %s, but its body could not be read: %v", resp.Status, err)
	}
	switch {
	case e.Status == 0 && (resp.StatusCode < 200 || resp.StatusCode > 299),
		e.Status != 0 && resp.StatusCode != e.Status:
		return 0, fmt.Sprintf("last answer %s, want %s", resp.Status, e.want())
	case e.Body != nil && !e.Body.Match(body):
		return 0, fmt.Sprintf("last answer %s, but its body does not match %q: %q", resp.Status, e.Body.String(), head(body))
	}
	return resp.StatusCode, ""
}

// head is the start of a body, for a message.
func head(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "..."
	}
	return string(b)
}

func bound(s string) string {
	if len(s) > MaxLast {
		return s[:MaxLast] + "..."
	}
	return s
}
