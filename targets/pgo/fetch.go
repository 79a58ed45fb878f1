package pgo

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/internal/regtransport"
)

// ProfileURL turns an endpoint URL into the URL of its CPU profile: a base URL
// (http://host:6060) or the pprof index (.../debug/pprof/) gets /debug/pprof/profile; a URL with
// any other path is used as given. ?seconds= is added unless the URL has it. It returns the URL
// and the profile length it asks for.
func ProfileURL(raw string, seconds int) (string, int, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", 0, because(ErrConfig, "bad endpoint URL %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", 0, because(ErrConfig, "bad endpoint URL %q: want http:// or https://", raw)
	}
	if u.Host == "" {
		return "", 0, because(ErrConfig, "bad endpoint URL %q: no host", raw)
	}
	switch p := strings.TrimSuffix(u.Path, "/"); {
	case p == "":
		u.Path = "/debug/pprof/profile"
	case strings.HasSuffix(p, "/debug/pprof"):
		u.Path = p + "/profile"
	}
	q := u.Query()
	if s := q.Get("seconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return "", 0, because(ErrConfig, "bad endpoint URL %q: seconds=%q is not a positive number", raw, s)
		}
		seconds = n
	} else {
		q.Set("seconds", strconv.Itoa(seconds))
		u.RawQuery = q.Encode()
	}
	return u.String(), seconds, nil
}

// shown drops credentials from a URL for messages and reports.
func shown(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// newTransport is a fresh transport with net/http's defaults (proxy from the environment,
// timeouts, HTTP/2).
func newTransport() *http.Transport {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		return t.Clone()
	}
	return &http.Transport{Proxy: http.ProxyFromEnvironment}
}

// fetcher gets one profile over HTTP with the options of an endpoint.
type fetcher struct {
	url      string
	seconds  int
	header   http.Header
	tokenEnv string
	client   *http.Client
	retries  int
	backoff  time.Duration
	logf     func(string, ...any)
}

func newFetcher(ep Endpoint, opts *Options, seconds int) (*fetcher, error) {
	u, secs, err := ProfileURL(ep.URL, seconds)
	if err != nil {
		return nil, err
	}
	f := &fetcher{url: u, seconds: secs, header: http.Header{}, tokenEnv: ep.BearerTokenEnv,
		retries: opts.retries(), backoff: opts.backoff(), logf: opts.logf}
	for k, v := range ep.Headers {
		f.header.Set(k, v)
	}
	if ep.BearerTokenEnv != "" {
		tok := strings.TrimSpace(os.Getenv(ep.BearerTokenEnv))
		if tok == "" {
			return nil, because(ErrConfig, "the bearer token variable %s is empty or unset", ep.BearerTokenEnv)
		}
		f.header.Set("Authorization", "Bearer "+tok)
	}
	if pu, err := url.Parse(u); err == nil && pu.Scheme == "http" && !regtransport.IsLocalHost(pu.Host) && (f.header.Get("Authorization") != "" || pu.User != nil) {
		return nil, because(ErrConfig, "%s is plain HTTP to another machine and the endpoint has credentials (a bearer token, an Authorization header or a user in the URL), which would cross the network unencrypted: use https", shown(u))
	}
	tr := newTransport()
	if ep.CAFile != "" || ep.Insecure {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if ep.CAFile != "" {
			pem, err := os.ReadFile(ep.CAFile)
			if err != nil {
				return nil, because(ErrConfig, "CA file: %v", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, because(ErrConfig, "CA file %s holds no PEM certificate", ep.CAFile)
			}
			cfg.RootCAs = pool
		}
		if ep.Insecure {
			cfg.InsecureSkipVerify = true // asked for explicitly by Endpoint.Insecure
			opts.logf("pgo: %s: TLS certificate verification is off (insecure)", shown(u))
		}
		tr.TLSClientConfig = cfg
	}
	// The guard also holds for redirects: a profile endpoint may use plain HTTP, credentials not.
	f.client = &http.Client{Transport: regtransport.Guard(tr, true), Timeout: time.Duration(secs)*time.Second + opts.timeout()}
	return f, nil
}

// fetch gets the profile, retrying connection errors and 5xx answers with exponential backoff.
func (f *fetcher) fetch(ctx context.Context) ([]byte, error) {
	wait := f.backoff
	for attempt := 0; ; attempt++ {
		data, retry, err := f.once(ctx)
		if err == nil || !retry || attempt >= f.retries || ctx.Err() != nil {
			if err != nil && retry && attempt > 0 {
				err = fmt.Errorf("%w (after %d attempts)", err, attempt+1)
			}
			return data, err
		}
		f.logf("pgo: %s: %v; retrying in %s", shown(f.url), err, wait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// once does one request. retry says whether the failure is worth another attempt.
func (f *fetcher) once(ctx context.Context) (data []byte, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
	if err != nil {
		return nil, false, because(ErrConfig, "%v", err)
	}
	req.Header = f.header.Clone()
	resp, err := f.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, true, because(ErrUnreachable, "endpoint down or unreachable: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10)) // for the message only
		return nil, resp.StatusCode/100 == 5, f.statusError(resp, body)
	}
	too := because(ErrTooLarge, "the response is larger than %s (pgo.MaxProfileBytes), far larger than a CPU profile: is this a pprof endpoint?", mib(MaxProfileBytes))
	if resp.ContentLength > MaxProfileBytes {
		return nil, false, too
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength) + 1)
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, MaxProfileBytes+1)); err != nil {
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		return nil, true, because(ErrUnreachable, "reading the response: %v", err)
	}
	if buf.Len() > MaxProfileBytes {
		return nil, false, too
	}
	return buf.Bytes(), false, nil
}

func (f *fetcher) statusError(resp *http.Response, body []byte) error {
	msg := strings.TrimSpace(string(body[:min(len(body), 300)]))
	if isHTML(body) || !isPrintable(msg) {
		msg = ""
	}
	if msg != "" {
		msg = ": " + msg
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		hint := "set pgo.bearer_token_env (Endpoint.BearerTokenEnv) or headers for this endpoint"
		if f.tokenEnv != "" {
			hint = "the token in " + f.tokenEnv + " was refused; is it current and allowed to read /debug/pprof?"
		}
		return because(ErrUnauthorized, "%s — %s%s", resp.Status, hint, msg)
	case http.StatusNotFound:
		return because(ErrNotFound, "%s — no pprof handler here: import net/http/pprof in the service and give its debug address, or the full .../debug/pprof/profile URL", resp.Status)
	}
	return because(ErrHTTPStatus, "%s%s", resp.Status, msg)
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r == '\uFFFD' || (r < ' ' && r != '\n' && r != '\r' && r != '\t') {
			return false
		}
	}
	return true
}
