package pgo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/pprof/profile"
	"github.com/scratchkit/scratchkit/internal/atomicfile"
)

// DefaultFile is the name `go build -pgo=auto` (the default) looks for in the main package's
// directory.
const DefaultFile = "default.pgo"

// Target is one build that should be compiled with the profile.
type Target struct {
	Build    string // the build's name, for reports and file names
	MainDir  string // directory of its main package
	InModule bool   // the main package is in the user's module (not in a dependency)
}

// PlaceOptions configures Place.
type PlaceOptions struct {
	// Dir receives BUILD.pgo for builds whose main package lives in a dependency, where
	// default.pgo cannot be committed; such builds are compiled with -pgo=FILE (e.g. dist/pgo).
	Dir string
	// MainModule is checked again by Validate before anything is written; see Options.MainModule.
	MainModule string
}

// Placement says where the profile went for one build.
type Placement struct {
	Build   string
	Path    string // the file written (or already holding these bytes)
	PGOFlag string // "" for default.pgo (go build's -pgo=auto finds it); "-pgo=PATH" otherwise
	Changed bool   // false when the file already held exactly these bytes and was left alone
	SHA256  string // hex digest of the profile file: a build input, for cache keys and records
}

// Encode writes p in pprof's gzipped protobuf format, the form default.pgo takes.
func Encode(p *profile.Profile) ([]byte, error) {
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		return nil, fmt.Errorf("encode profile: %w", err)
	}
	return buf.Bytes(), nil
}

// Place writes p as default.pgo into the main package directory of every InModule target, and as
// Dir/BUILD.pgo for the others. Nothing is written unless p validates (and its encoding parses
// back and validates too), so an existing good profile is never replaced by a bad one. Each file
// is written atomically (temporary file in the same directory, then rename) and left untouched
// when it already holds the same bytes, so its modification time and Go's build cache stay put.
// Builds sharing a main directory share one file.
func Place(p *profile.Profile, targets []Target, opts PlaceOptions) ([]Placement, error) {
	if len(targets) == 0 {
		return nil, fmt.Errorf("pgo: place: %w: no builds to place the profile for", ErrConfig)
	}
	if err := Validate(p, opts.MainModule); err != nil {
		return nil, fmt.Errorf("pgo: place: refusing to write the profile: %w", err)
	}
	data, err := Encode(p)
	if err != nil {
		return nil, fmt.Errorf("pgo: place: %w", err)
	}
	back, err := Parse(data)
	if err == nil {
		err = Validate(back, opts.MainModule)
	}
	if err != nil {
		return nil, fmt.Errorf("pgo: place: the encoded profile does not read back: %w", err)
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])

	var out []Placement
	for _, t := range targets {
		pl := Placement{Build: t.Build, SHA256: digest}
		if t.InModule {
			if t.MainDir == "" {
				return out, fmt.Errorf("pgo: place %s: %w: no main package directory", t.Build, ErrConfig)
			}
			if fi, err := os.Stat(t.MainDir); err != nil || !fi.IsDir() {
				return out, fmt.Errorf("pgo: place %s: %w: main package directory %s does not exist", t.Build, ErrConfig, t.MainDir)
			}
			pl.Path = filepath.Join(t.MainDir, DefaultFile)
		} else {
			if opts.Dir == "" {
				return out, fmt.Errorf("pgo: place %s: %w: its main package is outside the module and no directory for its profile is set", t.Build, ErrConfig)
			}
			abs, err := filepath.Abs(DependencyProfile(opts.Dir, t.Build))
			if err != nil {
				return out, fmt.Errorf("pgo: place %s: %w", t.Build, err)
			}
			pl.Path = abs
			pl.PGOFlag = "-pgo=" + abs
		}
		changed, err := writeIfChanged(pl.Path, data)
		if err != nil {
			return out, fmt.Errorf("pgo: place %s: %w", t.Build, err)
		}
		pl.Changed = changed
		out = append(out, pl)
	}
	return out, nil
}

// DependencyProfile is the file Place writes under dir for a build whose main package lives in a
// dependency: dir/BUILD.pgo, with characters other than letters, digits, '-', '_' and '.' in the
// build name replaced by '_'. Builds use it with -pgo=FILE.
func DependencyProfile(dir, build string) string {
	return filepath.Join(dir, fileName(build)+".pgo")
}

// fileName makes a build name safe as a file name.
func fileName(build string) string {
	if build == "" {
		return "default"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, build)
}

// writeIfChanged atomically replaces path with data unless it already holds data.
func writeIfChanged(path string, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return false, err
	}
	return true, nil
}
