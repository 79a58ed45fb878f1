package resolve

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Expand turns one entry of a file list into files, in a deterministic order: a file is itself;
// a directory is walked recursively for *.yaml and *.yml files in lexical order, leaving out
// directories whose names start with a dot (.git, .github); a glob (filepath.Match syntax, no **)
// gives its matches, sorted, each a file or a directory as above. A relative entry is taken from
// dir. skip names outputs that must not be read back (the resolved stream, the folder holding
// it): they are left out of walks and globs, and naming one exactly is an error.
// An entry that names nothing, or a directory or glob that yields no file, is an error.
func Expand(dir, entry string, skip func(path string) bool) ([]string, error) {
	if skip == nil {
		skip = func(string) bool { return false }
	}
	p := entry
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	if !hasMeta(entry) {
		fi, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s does not exist", entry)
			}
			return nil, err
		}
		if !fi.IsDir() {
			if skip(p) {
				return nil, fmt.Errorf("%s is where the resolved stream is written; it cannot also be read", entry)
			}
			return []string{p}, nil
		}
		files, err := walk(dir, p, skip)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("the directory %s holds no *.yaml or *.yml file", entry)
		}
		return files, nil
	}
	matches, err := filepath.Glob(p)
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid pattern: %v", entry, err)
	}
	sort.Strings(matches)
	var files []string
	for _, m := range matches {
		if skip(m) {
			continue
		}
		if err := inside(dir, m); err != nil {
			return nil, err
		}
		fi, err := os.Stat(m)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, m)
			continue
		}
		found, err := walk(dir, m, skip)
		if err != nil {
			return nil, err
		}
		files = append(files, found...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s matches no file", entry)
	}
	return files, nil
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// inside checks that p, found by a walk or a glob, is not a symbolic link resolving outside dir:
// following it would copy a file from elsewhere on the machine into the resolved stream. A file
// named exactly is read wherever it is: its name says what it is.
func inside(dir, p string) error {
	li, err := os.Lstat(p)
	if err != nil || li.Mode()&fs.ModeSymlink == 0 {
		return err
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return fmt.Errorf("%s is a symbolic link that does not resolve: %w", p, err)
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	if rel, err := filepath.Rel(root, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%s is a symbolic link to %s, outside %s: a walk or glob does not follow it out; name the file itself in resolve.files to read it", p, real, dir)
	}
	return nil
}

// walk lists the *.yaml and *.yml files under root in lexical order, symbolic links to files
// inside dir among them.
func walk(dir, root string, skip func(string) bool) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (strings.HasPrefix(d.Name(), ".") || skip(p)) {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml":
			if skip(p) {
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 {
				if err := inside(dir, p); err != nil {
					return err
				}
				if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
					return err
				}
				files = append(files, p)
			} else if d.Type().IsRegular() {
				files = append(files, p)
			}
		}
		return nil
	})
	return files, err
}

// Read reads files, each at most opts.MaxFileSize bytes, naming each relative to dir (with
// forward slashes) when it is inside dir.
func Read(dir string, paths []string, opts Options) ([]File, error) {
	opts = opts.withDefaults()
	out := make([]File, 0, len(paths))
	for _, p := range paths {
		name := p
		if r, err := filepath.Rel(dir, p); err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			name = filepath.ToSlash(r)
		}
		data, size, err := readBounded(p, opts.MaxFileSize)
		if errors.Is(err, ErrTooLarge) {
			return nil, tooLarge(name, size, opts.MaxFileSize)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		out = append(out, File{Name: name, Data: data})
	}
	return out, nil
}

// readBounded reads at most max bytes of a file; more is ErrTooLarge, with the file's size
// (for a device or a pipe, which do not say it: what was read, max+1).
func readBounded(p string, max int64) ([]byte, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > max {
		return nil, fi.Size(), ErrTooLarge
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, 0, err
	}
	if int64(len(data)) > max {
		return nil, int64(len(data)), ErrTooLarge
	}
	return data, int64(len(data)), nil
}
