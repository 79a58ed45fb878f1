package sign

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/scratchkit/scratchkit/internal/regtransport"
	"github.com/scratchkit/scratchkit/internal/testenv"
)

// Signing and verifying an image on a registry at a private (RFC 1918) address over plain HTTP:
// refused, and no request carries the registry password in the clear, insecure or not.
func TestSignNeverSendsCredentialsOverPlainHTTP(t *testing.T) {
	e := setupE2E(t)
	d := e.pushImage(t, "app", "v1")
	tap := testenv.StartWiretap(t, e.reg)
	kc := authn.NewMultiKeychain(testKeychain{e.reg.User, e.reg.Password})
	ref := tap.Host + "/app@" + d.DigestStr()

	for _, insecure := range []bool{false, true} {
		o := e.keyOpts(nil)
		o.Keychain, o.Insecure = kc, insecure
		_, err := SignImages(context.Background(), o, []Subject{{Ref: ref}})
		_, verr := VerifyImages(context.Background(), VerifyOptions{PublicKey: e.pub, Keychain: kc, Insecure: insecure}, []Subject{{Ref: ref}})
		for what, err := range map[string]error{"sign": err, "verify": verr} {
			var phe *regtransport.PlainHTTPError
			var cre *regtransport.CredentialsError
			switch {
			case err == nil:
				t.Fatalf("%s, insecure %v: reached %s over plain HTTP with credentials", what, insecure, ref)
			case !insecure && !errors.As(err, &phe):
				t.Errorf("%s, insecure false: want a plain-HTTP refusal, got %v", what, err)
			case insecure && !errors.As(err, &cre) && !strings.Contains(err.Error(), "refusing to send credentials"):
				t.Errorf("%s, insecure true: want a credentials refusal, got %v", what, err)
			}
		}
		if _, creds := tap.Seen(); creds != 0 {
			t.Fatalf("insecure %v: %d requests carried credentials over plain HTTP to %s", insecure, creds, tap.Host)
		}
	}
	if n, _ := tap.Seen(); n == 0 {
		t.Fatal("with insecure the registry was never asked: the test proves nothing")
	}
}

// testKeychain answers every registry with one user's credentials.
type testKeychain struct{ user, pass string }

func (k testKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(authn.AuthConfig{Username: k.user, Password: k.pass}), nil
}
