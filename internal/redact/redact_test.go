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

// Text cuts credentials wherever a message holds them: URLs with userinfo and queries, signed
// query parameters without a URL, user:password@host without a scheme; image references by tag
// and digest, host:port pairs and times stay.
func TestText(t *testing.T) {
	for in, want := range map[string]string{
		`{"errors":[{"code":"DENIED","message":"see https://bob:hunter2@mirror.corp/v2/x?X-Amz-Signature=abc for details"}]}`: `{"errors":[{"code":"DENIED","message":"see https://mirror.corp/v2/x for details"}]}`,
		"redirected with X-Amz-Credential=AKIAXYZ%2F2026&X-Amz-Signature=deadbeef&X-Amz-Date=20261207":                        "redirected with X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Date=20261207",
		"blob at storage.example/b?sv=2024&se=2026&sig=c2VjcmV0":                                                              "blob at storage.example/b?sv=REDACTED&se=REDACTED&sig=REDACTED",
		"proxy bob:hunter2@proxy.corp:3128 refused":                                                                           "proxy proxy.corp:3128 refused",
		"upstream said token=abc123; retry":                                                                                   "upstream said token=REDACTED; retry",
		"pull alpine:3.20@sha256:0123abcd failed at 10:30 from 127.0.0.1:5000/team/hello":                                     "pull alpine:3.20@sha256:0123abcd failed at 10:30 from 127.0.0.1:5000/team/hello",
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}
