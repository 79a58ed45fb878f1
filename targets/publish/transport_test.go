package publish

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

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
