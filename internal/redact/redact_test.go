package redact

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://gitlab-ci-token:glcbt-64_SECRET@gitlab.example.com/group/project.git": "https://gitlab.example.com/group/project.git",
		"https://x-access-token:ghs_SECRET@github.com/acme/app":                        "https://github.com/acme/app",
		"https://github.com/acme/app?token=SECRET#frag":                                "https://github.com/acme/app",
		"ssh://git@github.com/acme/app.git":                                            "ssh://github.com/acme/app.git",
		"git@github.com:acme/app.git":                                                  "https://github.com/acme/app.git",
		"deploy:SECRET@host.example:acme/app":                                          "https://host.example/acme/app",
		"https://github.com/acme/app":                                                  "https://github.com/acme/app",
		"":                                                                             "",
		"/srv/git/app":                                                                 "",
		"https://user:SECRET@%zz":                                                      "",
	} {
		got := URL(in)
		if got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(got, "SECRET") {
			t.Errorf("URL(%q) = %q keeps the secret", in, got)
		}
	}
}

func TestErrorCutsRequestURLs(t *testing.T) {
	const token = "jGdsUIxM1_SECRET"
	upload := &url.Error{Op: "Patch", URL: "http://127.0.0.1:5000/v2/x/app/blobs/uploads/28841bd9-b9e8?_state=" + token, Err: io.EOF}
	token2 := &url.Error{Op: "Get", URL: "https://alice:SECRET@auth.example/token?scope=x&account=alice", Err: io.ErrUnexpectedEOF}
	err := fmt.Errorf("push: %w", errors.Join(upload, fmt.Errorf("token: %w", token2)))
	cut := Error(err)
	msg := cut.Error()
	for _, secret := range []string{token, "28841bd9", "SECRET", "alice", "?"} {
		if strings.Contains(msg, secret) {
			t.Errorf("%q left in %s", secret, msg)
		}
	}
	for _, kept := range []string{`Patch "http://127.0.0.1:5000/v2/x/app/blobs/uploads/": EOF`, `Get "https://auth.example/token"`} {
		if !strings.Contains(msg, kept) {
			t.Errorf("%q missing from %s", kept, msg)
		}
	}
	if !errors.Is(cut, io.EOF) || !errors.Is(cut, io.ErrUnexpectedEOF) {
		t.Error("the chain lost its errors")
	}
	if strings.Contains(upload.Error(), token) || strings.Contains(token2.Error(), "SECRET") {
		t.Errorf("the *url.Errors in the chain still hold secrets: %v; %v", upload, token2)
	}
}

func TestErrorKeepsPlainURLs(t *testing.T) {
	for in, want := range map[string]string{
		"needs http://127.0.0.1:44883: upload failed":        "needs http://127.0.0.1:44883: upload failed",
		"see https://rekor.example/api/v1/log.":              "see https://rekor.example/api/v1/log.",
		"at http://u:pw@[bad:host/x?t=1: refused":            "at http://[bad:host/x: refused",
		`Put "https://r.example/v2/a/manifests/v1?x=1": EOF`: `Put "https://r.example/v2/a/manifests/v1": EOF`,
	} {
		if got := Error(errors.New(in)).Error(); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}
