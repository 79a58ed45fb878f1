// Package redact keeps secrets out of what scratchkit records: URLs lose their credentials.
package redact

import (
	"io"
	"net/url"
	"regexp"
	"strings"
)

// URL returns a repository or service URL fit to record in a manifest, an attestation or
// artifacts.json: without userinfo (a CI clone URL such as
// https://gitlab-ci-token:<token>@gitlab.example.com/group/project.git carries a token there),
// query or fragment. An scp-like git remote (git@host:org/repo) becomes https://host/org/repo.
// A ".git" suffix is kept; the caller decides. What does not parse as a URL is dropped, since
// it cannot be checked for credentials.
func URL(raw string) string {
	s := strings.TrimSpace(raw)
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		// scp-like syntax: [user[:password]@]host:path
		head := s
		if i := strings.Index(head, "/"); i >= 0 {
			head = head[:i]
		}
		if i := strings.LastIndex(head, "@"); i >= 0 {
			s = s[i+1:]
		}
		host, path, ok := strings.Cut(s, ":")
		if !ok || host == "" || strings.Contains(host, "/") {
			return ""
		}
		s = "https://" + host + "/" + strings.TrimPrefix(path, "/")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return ""
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// Error returns err with every URL in its message cut down to scheme://host/path: no
// credentials, no query, and for a blob upload no session id either, since a registry's upload
// URL is the key to the upload (distribution signs its state into the query as _state=…, other
// registries put a session id in the path). The method and the registry stay readable. The
// result unwraps to err, whose *url.Errors are cut the same way in place; messages that
// wrappers inside err built earlier keep what they hold, so print the result, not the chain.
func Error(err error) error {
	if err == nil {
		return nil
	}
	var walk func(error)
	walk = func(e error) {
		for e != nil {
			if ue, ok := e.(*url.Error); ok {
				ue.URL = requestURL(ue.URL)
			}
			switch x := e.(type) {
			case interface{ Unwrap() []error }:
				for _, c := range x.Unwrap() {
					walk(c)
				}
				return
			case interface{ Unwrap() error }:
				e = x.Unwrap()
			default:
				return
			}
		}
	}
	walk(err)
	if s, ok := err.(*cutError); ok {
		return s
	}
	return &cutError{msg: Text(err.Error()), err: err}
}

// Text returns s with what could be a credential cut out wherever it appears — in a registry's
// or a proxy's message body as in a URL: every URL cut down as Error cuts it (no userinfo, no
// query, no upload session), user:password@ before a host without a scheme, and the value of
// every query parameter that signs a URL or carries a token (X-Amz-Signature, X-Amz-Credential,
// X-Goog-Signature, sig, token, access_token, …) outside a URL too. It is the one redactor of
// what scratchkit prints and records.
func Text(s string) string {
	s = urlRE.ReplaceAllStringFunc(s, requestURL)
	s = cutUserinfo(s)
	return signedRE.ReplaceAllString(s, "${1}=REDACTED")
}

// cutUserinfo removes user:password@ before a host; name:tag@sha256:… (an image reference by tag
// and digest) is not userinfo and stays.
func cutUserinfo(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range userinfoRE.FindAllStringSubmatchIndex(s, -1) {
		if rest := s[m[1]:]; strings.HasPrefix(rest, "sha256:") || strings.HasPrefix(rest, "sha512:") {
			continue
		}
		b.WriteString(s[last:m[3]]) // up to the end of the delimiter
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// userinfoRE is user:password@ before a host name, without a scheme (proxy messages quote them
// so: "proxy user:pw@proxy.corp:3128 refused").
var userinfoRE = regexp.MustCompile(`(^|[\s"'(=,;])[^\s"'(@/:]+:[^\s"'@/]+@`)

// signedRE is a query parameter that signs a URL or carries a credential, and its value.
var signedRE = regexp.MustCompile(`(?i)\b(X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|X-Goog-Signature|X-Goog-Credential|Signature|sig|sv|se|skoid|sktid|token|access_token|refresh_token|id_token|client_secret|password|passwd|_state|Key-Pair-Id|Policy)=[^&\s"'<>;,]+`)

var urlRE = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+`)

type cutError struct {
	msg string
	err error
}

func (e *cutError) Error() string { return e.msg }
func (e *cutError) Unwrap() error { return e.err }

// requestURL is raw without userinfo, query and fragment, its path cut after /blobs/uploads/.
// Punctuation ending a sentence (a colon after the URL) stays outside it.
func requestURL(raw string) string {
	trimmed := strings.TrimRight(raw, ".,;:)]")
	tail := raw[len(trimmed):]
	u, err := url.Parse(trimmed)
	if err != nil || u.Host == "" {
		// Not a URL Go parses: cut what could be secret by hand.
		s := trimmed
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			s = s[:i]
		}
		if scheme, rest, ok := strings.Cut(s, "://"); ok {
			if at := strings.LastIndex(rest, "@"); at >= 0 && !strings.Contains(rest[:at], "/") {
				rest = rest[at+1:]
			}
			s = scheme + "://" + rest
		}
		return s + tail
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	if i := strings.Index(u.Path, "/blobs/uploads/"); i >= 0 {
		u.Path, u.RawPath = u.Path[:i+len("/blobs/uploads/")], ""
	}
	return u.String() + tail
}

// Writer passes everything written to it through Text: what a person reads is redacted however
// it was printed. Each Write is redacted whole (a line printed at once stays whole).
func Writer(w io.Writer) io.Writer { return textWriter{w} }

type textWriter struct{ w io.Writer }

func (t textWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(t.w, Text(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
