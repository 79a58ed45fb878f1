package publish

import (
	"crypto/tls"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/scratchkit/scratchkit/internal/regtransport"
)

// The statuses the real registry in the end-to-end tests cannot be made to answer.
func TestExplainRegistryStatuses(t *testing.T) {
	x := explainer{registry: "reg.example", repo: "reg.example/team/app", keys: Keys{}.orDefaults(), configured: "reg.example/team", attempts: 3}
	for _, c := range []struct {
		err     *transport.Error
		problem Problem
		starts  string
	}{
		{&transport.Error{StatusCode: 403, Errors: []transport.Diagnostic{{Code: transport.DeniedErrorCode}}}, Denied, "registry reg.example denied access to reg.example/team/app (403 Forbidden DENIED)"},
		{&transport.Error{StatusCode: 404, Errors: []transport.Diagnostic{{Code: transport.NameUnknownErrorCode}}}, NotFound, "registry reg.example has no repository reg.example/team/app"},
		{&transport.Error{StatusCode: 429}, ServerError, "registry reg.example kept failing with 429 Too Many Requests (3 attempts per request)"},
	} {
		err := x.explain("push", c.err)
		var re *RegistryError
		if !errors.As(err, &re) || re.Problem != c.problem || !strings.HasPrefix(err.Error(), c.starts) || !errors.Is(err, c.err) {
			t.Errorf("%v: got %q (%v), want %s starting %q", c.err, err, re, c.problem, c.starts)
		}
	}
}

// The advice names the settings as the caller calls them, and the options themselves when the
// caller names none.
func TestExplainNamesTheCallersSettings(t *testing.T) {
	scratchkit := Keys{Repo: "scratchkit.yaml:3: image.repo", Insecure: "image.insecure", ResponseTimeout: "image.response_timeout", RequestTimeout: "image.request_timeout"}
	for _, c := range []struct {
		keys Keys
		err  error
		says string
	}{
		{scratchkit, tls.RecordHeaderError{}, "registry reg.example does not speak TLS: if it is a plain-HTTP registry, set image.insecure (only registries on this machine are reached over HTTP without it)"},
		{scratchkit, &regtransport.Error{Kind: regtransport.NoAnswer, Op: "blob upload", Limit: time.Second},
			"registry reg.example did not answer the blob upload within 1s: check the registry's health and logs; if it is only slow, raise image.response_timeout"},
		{scratchkit, &regtransport.Error{Kind: regtransport.Unfinished, Op: "manifest push", Limit: time.Second},
			"registry reg.example did not complete the manifest push within 1s: on a slow link, raise image.request_timeout; otherwise check the registry's health and logs"},
		{scratchkit, syscall.ECONNREFUSED, "is the registry running, and is scratchkit.yaml:3: image.repo (reg.example/team) right?"},
		{Keys{}, tls.RecordHeaderError{}, "set RegistryOptions.Insecure (only"},
		{Keys{}, &regtransport.Error{Kind: regtransport.NoAnswer, Op: "blob upload", Limit: time.Second}, "raise RegistryOptions.ResponseTimeout"},
		{Keys{}, &regtransport.Error{Kind: regtransport.Unfinished, Op: "blob upload", Limit: time.Second}, "raise RegistryOptions.RequestTimeout;"},
		{Keys{}, syscall.ECONNREFUSED, "and is RegistryOptions.Repo (reg.example/team) right?"},
	} {
		x := explainer{registry: "reg.example", repo: "reg.example/team/app", keys: c.keys.orDefaults(), configured: "reg.example/team", attempts: 1}
		if got := x.explain("push", c.err).Error(); !strings.Contains(got, c.says) {
			t.Errorf("%v with keys %+v: %q, want it to say %q", c.err, c.keys, got, c.says)
		}
	}
}
