package gobuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/scratchkit/scratchkit/internal/secrets"
)

// Info is what ldflags templates see: {{.Version}} {{.Commit}} {{.Date}} {{.Env.NAME}}, and ko's
// {{.Git.ShortCommit}} and friends so ko users' ldflags keep working.
type Info struct {
	Version     string
	Commit      string
	ShortCommit string
	// Date is RFC 3339 in UTC: SOURCE_DATE_EPOCH, else the commit time, else the Unix epoch.
	// Never the wall clock, so two builds of one commit are identical.
	Date      string
	Timestamp int64
	Env       map[string]string
	Git       Git
}

// Git is ko's template view of the repository.
type Git struct {
	Branch, Tag, ShortCommit, FullCommit, CommitDate string
	CommitTimestamp                                  int64
	IsDirty, IsClean                                 bool
	TreeState                                        string
}

// Time returns Date as a time.
func (i Info) Time() time.Time { return time.Unix(i.Timestamp, 0).UTC() }

// Describe computes Info for the repository holding dir. version overrides .Version;
// sourceDateEpoch (SOURCE_DATE_EPOCH), when set, fixes .Date.
func Describe(ctx context.Context, dir string, env []string, version, sourceDateEpoch string) (Info, error) {
	info := Info{Env: map[string]string{}}
	for _, e := range secrets.Env(env) { // a template never reads a signing secret into a binary
		if k, v, ok := strings.Cut(e, "="); ok {
			info.Env[k] = v
		}
	}
	git := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir, cmd.Env = dir, secrets.Environ()
		out, err := cmd.Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	// Three git commands, run at once: Describe is on every build's path.
	var head, describe, branch string
	var wg sync.WaitGroup
	for _, c := range []struct {
		out  *string
		args []string
	}{
		{&head, []string{"log", "-1", "--format=%H %h %ct"}},
		{&describe, []string{"describe", "--tags", "--always", "--dirty"}},
		{&branch, []string{"rev-parse", "--abbrev-ref", "HEAD"}},
	} {
		wg.Add(1)
		go func() { defer wg.Done(); *c.out = git(c.args...) }()
	}
	wg.Wait()
	if f := strings.Fields(head); len(f) == 3 {
		info.Git.FullCommit, info.Git.ShortCommit, info.Git.Branch = f[0], f[1], branch
		if ts, err := strconv.ParseInt(f[2], 10, 64); err == nil {
			info.Git.CommitTimestamp = ts
			info.Git.CommitDate = time.Unix(ts, 0).UTC().Format(time.RFC3339)
		}
		// describe --dirty looks at tracked files only, as `git status --untracked-files=no`.
		clean, dirty := strings.CutSuffix(describe, "-dirty")
		info.Git.IsDirty, info.Git.IsClean = dirty, !dirty
		info.Git.TreeState = map[bool]string{true: "dirty", false: "clean"}[dirty]
		// --always prints a tag itself when HEAD is tagged, else tag-N-g<hash> or the hash.
		if clean != "" && !strings.HasPrefix(info.Git.FullCommit, clean) && !describedRE.MatchString(clean) {
			info.Git.Tag = clean
		}
		info.Version = describe
	}
	info.Commit, info.ShortCommit = info.Git.FullCommit, info.Git.ShortCommit
	if version != "" {
		info.Version = version
	}
	if info.Version == "" {
		info.Version = "devel"
	}
	info.Timestamp = info.Git.CommitTimestamp
	if sourceDateEpoch != "" {
		ts, err := strconv.ParseInt(strings.TrimSpace(sourceDateEpoch), 10, 64)
		if err != nil || ts < 0 {
			return info, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a Unix time in seconds; set it to e.g. $(git log -1 --format=%%ct)", sourceDateEpoch)
		}
		info.Timestamp = ts
	}
	info.Date = time.Unix(info.Timestamp, 0).UTC().Format(time.RFC3339)
	return info, nil
}

// describedRE matches git describe's <tag>-<commits>-g<hash> form.
var describedRE = regexp.MustCompile(`-[0-9]+-g[0-9a-f]+$`)

var envKeyRE = regexp.MustCompile(`map has no entry for key "([^"]+)"`)

// Render executes one ldflags template. A reference to an unset .Env variable or an unknown
// field is an error, never an empty string.
func Render(text string, info Info) (string, error) {
	t, err := template.New("ldflags").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid template: %v", text, strings.TrimPrefix(err.Error(), "template: ldflags:"))
	}
	var out bytes.Buffer
	if err := t.Execute(&out, info); err != nil {
		if m := envKeyRE.FindStringSubmatch(err.Error()); m != nil {
			return "", fmt.Errorf("%q uses .Env.%s, but %s is not set in the environment; set it, or remove it from ldflags", text, m[1], m[1])
		}
		var ee template.ExecError
		msg := err.Error()
		if errors.As(err, &ee) {
			msg = ee.Err.Error()
		}
		return "", fmt.Errorf("%q: %s; templates know .Version .Commit .ShortCommit .Date .Timestamp .Env.NAME and .Git.{Branch,Tag,ShortCommit,FullCommit,CommitDate,CommitTimestamp,IsDirty,IsClean,TreeState}", text, msg)
	}
	return out.String(), nil
}
