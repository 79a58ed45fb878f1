// Package redact keeps secrets out of what scratchkit records: URLs lose their credentials.
package redact

import (
	"net/url"
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
