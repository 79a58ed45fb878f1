// Package regtransport is how scratchkit reaches registries: one rule for plain HTTP and
// credentials, and one set of timeouts, shared by base pulls, publishing, smoke read-backs and
// signing.
//
// go-containerregistry speaks plain HTTP to loopback, *.local and RFC 1918 addresses and to any
// registry named with name.Insecure, and its authenticating transport then sends
// `Authorization: Basic …` over it. scratchkit allows plain HTTP only to this machine, or to a
// registry the user marked insecure; and it never sends credentials over plain HTTP to another
// machine, insecure or not.
package regtransport

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// PlainHTTPError is returned when a request would speak plain HTTP to a registry that is neither
// on this machine (localhost, *.localhost, a loopback address) nor marked insecure.
type PlainHTTPError struct{ Host string }

func (e *PlainHTTPError) Error() string {
	return fmt.Sprintf("refusing plain HTTP to %s: only registries on this machine may skip TLS unless image.insecure is set", e.Host)
}

// CredentialsError is returned when a request to another machine over plain HTTP carries
// credentials: the registry is insecure, but its password or token must not cross the network
// in the clear.
type CredentialsError struct{ Host string }

func (e *CredentialsError) Error() string {
	return fmt.Sprintf("refusing to send credentials to %s over plain HTTP: they would cross the network unencrypted; use https", e.Host)
}

// New returns the transport for registries: next (remote.DefaultTransport when nil) behind the
// plain-HTTP rule, with every request bounded by Timeouts (the defaults unless WithTimeouts
// says otherwise). With insecure, TLS certificates are not verified and plain HTTP is allowed,
// without credentials, to registries on other machines.
//
// A request that reaches a bound, or whose connection drops, fails with an *Error naming the
// registry and the operation.
func New(next http.RoundTripper, insecure bool, opts ...Option) http.RoundTripper {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if next == nil {
		next = remote.DefaultTransport
	}
	if insecure {
		if ht, ok := next.(*http.Transport); ok {
			ht = ht.Clone()
			if ht.TLSClientConfig == nil {
				ht.TLSClientConfig = &tls.Config{}
			}
			ht.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // asked for with image.insecure
			next = ht
		}
	}
	return Guard(&bounded{next: next, t: o.timeouts.orDefaults()}, insecure)
}

// Guard wraps next with the plain-HTTP rule alone: plain HTTP to another machine only when
// plainOK, and credentials (an Authorization header or URL userinfo) over plain HTTP only to
// this machine.
func Guard(next http.RoundTripper, plainOK bool) http.RoundTripper {
	return &guard{next: next, insecure: plainOK}
}

// NameOptions are the go-containerregistry name options for the same rule: name.Insecure lets
// a reference fall back to plain HTTP, which the transport then polices.
func NameOptions(insecure bool) []name.Option {
	if insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// guard refuses plain-HTTP requests to other machines unless insecure, and credentials over
// plain HTTP to other machines always.
type guard struct {
	next     http.RoundTripper
	insecure bool
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !IsLocalHost(req.URL.Host) {
		var err error
		switch {
		case !g.insecure:
			err = &PlainHTTPError{Host: req.URL.Host}
		case req.Header.Get("Authorization") != "" || req.URL.User != nil:
			err = &CredentialsError{Host: req.URL.Host}
		}
		if err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
	}
	return g.next.RoundTrip(req)
}

// IsLocalHost reports whether host (with or without port) names this machine: localhost,
// *.localhost, or a loopback address.
func IsLocalHost(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
