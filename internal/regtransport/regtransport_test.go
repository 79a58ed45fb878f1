package regtransport

import (
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/targets/config"
)

type recorder struct{ called int }

func (r *recorder) RoundTrip(*http.Request) (*http.Response, error) {
	r.called++
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
}

func TestPlainHTTPOnlyToThisMachine(t *testing.T) {
	for _, c := range []struct {
		url      string
		auth     bool
		insecure bool
		want     error // nil: sent
	}{
		{"http://127.0.0.1:5000/v2/", true, false, nil},
		{"http://localhost:5000/v2/", true, false, nil},
		{"http://registry.localhost/v2/", false, false, nil},
		{"http://[::1]:5000/v2/", true, false, nil},
		{"http://10.1.2.3:5000/v2/", false, false, &PlainHTTPError{}}, // go-containerregistry would use HTTP here
		{"http://192.168.1.10/v2/", false, false, &PlainHTTPError{}},
		{"http://registry.example:5000/v2/", false, false, &PlainHTTPError{}},
		{"http://10.1.2.3:5000/v2/", false, true, nil},
		{"http://10.1.2.3:5000/v2/", true, true, &CredentialsError{}}, // insecure, but never a password in the clear
		{"http://user:pw@10.1.2.3:5000/v2/", false, true, &CredentialsError{}},
		{"https://10.1.2.3:5000/v2/", true, false, nil},
	} {
		next := &recorder{}
		req, _ := http.NewRequest(http.MethodGet, c.url, nil)
		if c.auth {
			req.Header.Set("Authorization", "Basic dTpw")
		}
		_, err := New(next, c.insecure).RoundTrip(req)
		switch want := c.want.(type) {
		case nil:
			if err != nil || next.called != 1 {
				t.Errorf("%s (auth %v, insecure %v): err %v, sent %d; want it sent", c.url, c.auth, c.insecure, err, next.called)
			}
		case *PlainHTTPError:
			if !errors.As(err, &want) || next.called != 0 {
				t.Errorf("%s (auth %v, insecure %v): err %v, sent %d; want a PlainHTTPError and nothing sent", c.url, c.auth, c.insecure, err, next.called)
			}
		case *CredentialsError:
			if !errors.As(err, &want) || next.called != 0 {
				t.Errorf("%s (auth %v, insecure %v): err %v, sent %d; want a CredentialsError and nothing sent", c.url, c.auth, c.insecure, err, next.called)
			}
		}
	}
}

// The defaults scratchkit.yaml documents are the ones this package applies.
func TestConfigDefaultsAreOurs(t *testing.T) {
	for field, want := range map[string]time.Duration{"ResponseTimeout": DefaultResponseTimeout, "RequestTimeout": DefaultRequestTimeout} {
		f, ok := reflect.TypeFor[config.Image]().FieldByName(field)
		if !ok {
			t.Fatalf("config.Image has no %s", field)
		}
		d, err := config.ParseDuration(f.Tag.Get("default"))
		if err != nil || d.D() != want {
			t.Errorf("image.%s defaults to %q in targets/config, %s here", f.Tag.Get("yaml"), f.Tag.Get("default"), want)
		}
	}
}
