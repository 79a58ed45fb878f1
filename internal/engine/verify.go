package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fatih/color"

	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/binary"
)

// Verify checks every binary Build recorded and marks the ones that pass in artifacts.json,
// after Build.
func (e *Run) Verify(ctx context.Context) error {
	if err := e.Build(ctx); err != nil {
		return err
	}
	return e.Stage(ctx, StageVerify, e.verify)
}

func (e *Run) verify(ctx context.Context) error {
	rec, err := e.Record()
	if err != nil {
		return err
	}
	prev := previousSizes(e.DistDir())
	leaks, err := binary.BuildPaths(ctx, "go", e.Dir, nil)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	var reports []binary.Report
	failed := 0
	for i := range rec.Binaries {
		b := &rec.Binaries[i]
		v := e.Config.VerifyOf(e.BuildConfig(b.Name))
		exp := binary.Expect{
			Name: b.Name, Platform: b.Platform, Linkage: binary.Linkage(b.Linkage), SHA256: b.SHA256,
			MaxSize: int64(v.MaxSize), LeakPaths: leaks, Report: v.Report, Enforce: v.Enforce,
			Breakdown: v.Breakdown, ImagePath: "/ko-app/" + b.Name,
		}
		if p, ok := prev[b.Name+" "+b.Platform]; ok {
			exp.Prev = p
		}
		info, err := binary.Inspect(ctx, e.Abs(b.Path), binary.WithLeakPaths(leaks...))
		var rep binary.Report
		if err != nil {
			rep = binary.Verify(ctx, e.Abs(b.Path), exp) // reports why the file cannot be inspected
		} else {
			rep = binary.Check(info, exp)
			sizes := info.Sizes()
			b.Sizes = &sizes
		}
		rep.Path = b.Path
		b.Verified = !rep.Failed()
		if rep.Failed() {
			failed++
		}
		reports = append(reports, rep)
	}
	e.UI.Heading("Verify")
	if err := binary.WriteTable(e.UI.Out, reports, !color.NoColor); err != nil {
		return err
	}
	if err := e.Save(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("verify: %s of %d would break in a scratch or distroless image; the diagnosis of each failure is above", plural(failed, "binary", "binaries"), len(rec.Binaries))
	}
	return nil
}

// previousSizes reads the sizes the previous run recorded, by "name platform".
func previousSizes(dist string) map[string]*binary.Sizes {
	out := map[string]*binary.Sizes{}
	data, err := os.ReadFile(filepath.Join(dist, artifacts.PrevFileName))
	if err != nil {
		return out
	}
	var prev artifacts.Artifacts
	if json.Unmarshal(data, &prev) != nil {
		return out
	}
	for _, b := range prev.Binaries {
		if b.Sizes != nil {
			out[b.Name+" "+b.Platform] = b.Sizes
		} else if b.Size > 0 {
			out[b.Name+" "+b.Platform] = &binary.Sizes{Total: b.Size}
		}
	}
	return out
}

// VerifyFiles checks binaries that did not come from Build, with the top-level verify settings:
// linkage, stripping, leaked paths, packing, size and hardening. paths is a space- or
// comma-separated list.
func (e *Run) VerifyFiles(ctx context.Context, paths string) error {
	return e.Stage(ctx, "verifyFiles "+paths, func(ctx context.Context) error { return e.verifyFiles(ctx, paths) })
}

func (e *Run) verifyFiles(ctx context.Context, paths string) error {
	list := strings.FieldsFunc(paths, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
	if len(list) == 0 {
		return fmt.Errorf("verifyFiles: no paths given; run e.g. mage verifyFiles \"bin/app bin/worker\"")
	}
	leaks, err := binary.BuildPaths(ctx, "go", e.Dir, nil)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	v := e.Config.Verify
	var reports []binary.Report
	failed := 0
	for _, p := range list {
		rep := binary.Verify(ctx, e.Abs(p), binary.Expect{
			Name: filepath.Base(p), MaxSize: int64(v.MaxSize), LeakPaths: leaks,
			Report: v.Report, Enforce: v.Enforce, Breakdown: v.Breakdown,
		})
		rep.Path = p
		if rep.Failed() {
			failed++
		}
		reports = append(reports, rep)
	}
	e.UI.Heading("Verify")
	if err := binary.WriteTable(e.UI.Out, reports, !color.NoColor); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("verify: %s of %d would break in a scratch or distroless image; the diagnosis of each failure is above", plural(failed, "file", "files"), len(list))
	}
	return nil
}
