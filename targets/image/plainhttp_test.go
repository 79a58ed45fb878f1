package image

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/scratchkit/scratchkit/internal/regtransport"
	"github.com/scratchkit/scratchkit/internal/testenv"
)

// A base on a registry at a private (RFC 1918) address over plain HTTP, with credentials: the
// pull is refused, and no request carries the password in the clear, insecure or not.
func TestBasePullNeverSendsCredentialsOverPlainHTTP(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{User: "ci", Password: "s3cret"})
	kc := userKeychain{reg.User, reg.Password}
	base := staticImage(t, "linux/amd64")
	ref, err := name.ParseReference(reg.Host + "/base:v1")
	must(t, err)
	must(t, remote.Write(ref, base, remote.WithAuthFromKeychain(kc)))
	d, err := base.Digest()
	must(t, err)
	tap := testenv.StartWiretap(t, reg)
	pinned := tap.Host + "/base@" + d.String()

	for _, insecure := range []bool{false, true} {
		s := spec(t, "linux/amd64")
		s.Base, s.Keychain, s.Insecure = pinned, kc, insecure
		_, err := Build(context.Background(), s)
		var phe *regtransport.PlainHTTPError
		var cre *regtransport.CredentialsError
		switch {
		case err == nil:
			t.Fatalf("insecure %v: pulled %s over plain HTTP with credentials", insecure, pinned)
		case !insecure && !errors.As(err, &phe):
			t.Errorf("insecure false: want a plain-HTTP refusal, got %v", err)
		case insecure && !errors.As(err, &cre):
			t.Errorf("insecure true: want a credentials refusal, got %v", err)
		}
		if !strings.Contains(err.Error(), tap.Host) {
			t.Errorf("insecure %v: the error does not name the registry %s: %v", insecure, tap.Host, err)
		}
		if _, creds := tap.Seen(); creds != 0 {
			t.Fatalf("insecure %v: %d requests carried credentials over plain HTTP to %s", insecure, creds, tap.Host)
		}
	}
	if n, _ := tap.Seen(); n == 0 {
		t.Fatal("with image.insecure the registry was never asked: the test proves nothing")
	}
}
