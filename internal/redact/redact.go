// Package redact keeps secrets out of what scratchkit records: URLs lose their credentials.
package redact

import (
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
	return &cutError{msg: urlRE.ReplaceAllStringFunc(err.Error(), requestURL), err: err}
}

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
