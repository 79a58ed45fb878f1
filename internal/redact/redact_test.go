package redact

import (
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
