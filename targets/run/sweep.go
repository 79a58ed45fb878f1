package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// A smoke run removes its containers, image tags and runc bundles when it ends, but a run killed
// with SIGKILL (or by the OOM killer, or a cancelled CI job) cannot. Every such thing carries the
// owner token of the process that made it (owner.go), and the next smoke run removes those whose
// owner is dead before it starts its own. A live owner's, and any it cannot judge, are left alone.

var (
	// leftoverNameRE matches runc container ids and bundle directories: scratchkit-smoke-<owner>-...
	leftoverNameRE = regexp.MustCompile(`^scratchkit-smoke-` + ownerPattern + `-`)
	// leftoverTagRE matches the tags docker load gives images: <digest prefix>-<owner>-<random>.
	leftoverTagRE = regexp.MustCompile(`^[0-9a-f]{12}-` + ownerPattern + `-[0-9a-f]{10}$`)
)

// maxSwept bounds how many leftovers one sweep looks at, whatever a runtime lists.
const maxSwept = 1000

// sweep removes the containers (services and probers) and image tags of dead owners.
func (d *dockerEngine) sweep(ctx context.Context) error {
	var errs []error
	out, err := d.docker(ctx, nil, "ps", "--all", "--no-trunc", "--filter", "label="+ownerLabel,
		"--format", `{{.ID}} {{.Label "`+ownerLabel+`"}}`)
	if err != nil {
		return err
	}
	var dead []string
	for _, line := range firstLines(out, maxSwept) {
		id, token, _ := strings.Cut(line, " ")
		if ownerDead(token) {
			dead = append(dead, id)
		}
	}
	if len(dead) > 0 {
		if out, err := d.docker(ctx, nil, append([]string{"rm", "--force", "--volumes"}, dead...)...); err != nil && !strings.Contains(out, "No such container") {
			errs = append(errs, err)
		}
		d.opts.logf("smoke: removed %d container(s) left by smoke runs that died: %s", len(dead), shortIDs(dead))
	}

	out, err = d.docker(ctx, nil, "images", "--filter", "reference=scratchkit-smoke/*", "--format", "{{.Repository}}:{{.Tag}}")
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	dead = dead[:0]
	for _, ref := range firstLines(out, maxSwept) {
		_, tag, _ := strings.Cut(ref, ":")
		if m := leftoverTagRE.FindStringSubmatch(tag); m != nil && ownerDead(m[1]) {
			dead = append(dead, ref)
		}
	}
	if len(dead) > 0 {
		if out, err := d.docker(ctx, nil, append([]string{"rmi"}, dead...)...); err != nil && !strings.Contains(out, "No such image") {
			errs = append(errs, err)
		}
		d.opts.logf("smoke: removed %d image tag(s) left by smoke runs that died: %s", len(dead), strings.Join(dead, ", "))
	}
	return errors.Join(errs...)
}

// sweep deletes the runc containers of dead owners, with their bundles, and the bundle
// directories dead owners left in the temporary directory.
func (r *runcEngine) sweep(ctx context.Context) error {
	var errs []error
	out, err := runcCmd(ctx, r.cli, "list", "--format", "json")
	if err != nil {
		return err
	}
	var list []struct {
		ID     string `json:"id"`
		Bundle string `json:"bundle"`
	}
	if s := strings.TrimSpace(out); s != "" && s != "null" {
		if err := json.Unmarshal([]byte(s), &list); err != nil {
			return fmt.Errorf("runc list: %w", err)
		}
	}
	if len(list) > maxSwept {
		list = list[:maxSwept]
	}
	for _, c := range list {
		m := leftoverNameRE.FindStringSubmatch(c.ID)
		if m == nil || !ownerDead(m[1]) {
			continue
		}
		if out, err := runcCmd(ctx, r.cli, "delete", "--force", c.ID); err != nil && !strings.Contains(out, "does not exist") && !strings.Contains(out, "not found") {
			errs = append(errs, err)
			continue
		}
		r.opts.logf("smoke: deleted runc container %s, left by a smoke run that died", c.ID)
		// Its bundle lives in a directory of the same owner, wherever that run put it.
		if dir := filepath.Dir(c.Bundle); filepath.IsAbs(c.Bundle) && ownedBy(filepath.Base(dir), m[1]) {
			if err := os.RemoveAll(dir); err != nil {
				errs = append(errs, fmt.Errorf("remove runc bundle: %w", err))
			}
		}
	}

	tmp := r.opts.TempDir
	if tmp == "" {
		tmp = os.TempDir()
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list %s for runc bundles left behind: %w", tmp, err))...)
	}
	for _, e := range ents {
		m := leftoverNameRE.FindStringSubmatch(e.Name())
		if m == nil || !e.IsDir() || !ownerDead(m[1]) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(tmp, e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("remove runc bundle: %w", err))
			continue
		}
		r.opts.logf("smoke: removed runc bundle %s, left by a smoke run that died", filepath.Join(tmp, e.Name()))
	}
	return errors.Join(errs...)
}

// ownedBy reports whether a container or bundle name carries token.
func ownedBy(name, token string) bool {
	m := leftoverNameRE.FindStringSubmatch(name)
	return m != nil && m[1] == token
}

// firstLines splits out into its non-empty lines, at most n of them.
func firstLines(out string, n int) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" && len(lines) < n {
			lines = append(lines, l)
		}
	}
	return lines
}

// shortIDs abbreviates container ids as docker ps does.
func shortIDs(ids []string) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id[:min(12, len(id))]
	}
	return strings.Join(s, ", ")
}
