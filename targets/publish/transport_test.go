package publish

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

type recorder struct{ called int }

func (r *recorder) RoundTrip(*http.Request) (*http.Response, error) {
	r.called++
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
}

func TestPlainHTTPOnlyToThisMachine(t *testing.T) {
	for _, c := range []struct {
		url      string
		insecure bool
		allowed  bool
	}{
		{"http://127.0.0.1:5000/v2/", false, true},
		{"http://localhost:5000/v2/", false, true},
		{"http://registry.localhost/v2/", false, true},
		{"http://[::1]:5000/v2/", false, true},
		{"http://10.1.2.3:5000/v2/", false, false}, // go-containerregistry would use HTTP here
		{"http://192.168.1.10/v2/", false, false},
		{"http://registry.example:5000/v2/", false, false},
		{"http://10.1.2.3:5000/v2/", true, true},
		{"https://10.1.2.3:5000/v2/", false, true},
	} {
		next := &recorder{}
		g := &httpGuard{next: next, insecure: c.insecure}
		req, _ := http.NewRequest(http.MethodGet, c.url, nil)
		_, err := g.RoundTrip(req)
		var phe *PlainHTTPError
		if c.allowed != (err == nil && next.called == 1) || (!c.allowed && !errors.As(err, &phe)) {
			t.Errorf("%s (insecure %v): err %v, sent %d; want allowed=%v", c.url, c.insecure, err, next.called, c.allowed)
		}
	}
}

// The statuses the real registry in the end-to-end tests cannot be made to answer.
func TestExplainRegistryStatuses(t *testing.T) {
	x := explainer{registry: "reg.example", repo: "reg.example/team/app", repoKey: DefaultRepoKey, configured: "reg.example/team", attempts: 3}
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
