package lint

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/scratchkit/scratchkit/targets/binary"
)

// findings runs Check and indexes the findings by check.
// findings runs Check and indexes the findings by check.
func findings(t testing.TB, img v1.Image, pol Policy) map[string]Finding {
	t.Helper()
	fs, err := Check(context.Background(), img, pol)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	m := map[string]Finding{}
	for _, f := range fs {
		if _, dup := m[f.Check]; dup {
			t.Errorf("check %s reported twice", f.Check)
		}
		m[f.Check] = f
	}
	return m
}

// wantFinding asserts a check's status and that its detail says each of the phrases.
func wantFinding(t testing.TB, m map[string]Finding, check string, st binary.Status, phrases ...string) {
	t.Helper()
	f, ok := m[check]
	if !ok {
		t.Errorf("no %s finding", check)
		return
	}
	if f.Status != st {
		t.Errorf("%s: status %s, want %s: %s", check, f.Status, st, f.Detail)
	}
	for _, p := range phrases {
		if !strings.Contains(f.Detail, p) {
			t.Errorf("%s: detail does not say %q: %s", check, p, f.Detail)
		}
	}
}
