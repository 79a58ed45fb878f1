// Package resolve rewrites Kubernetes YAML the way `ko resolve` does: every string value
// ko://<import path> becomes the reference of the image built from that main package, by digest
// (repo/name@sha256:…), or as a local cluster loads it (ko.local/name:<digest hex>).
//
// It works on yaml.v3 nodes, not on a round trip through Go values, so documents, comments, key
// order, anchors and scalar styles come through; only the references change. Every reference is
// known with its file and line before anything is built, so a caller can refuse an unknown import
// path at once.
//
// The package knows nothing of builds or registries: the caller says what each import path
// becomes. Input is bounded (file size, what YAML aliases expand to).
package resolve

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/module"
)

// Scheme prefixes an import path to resolve, as ko writes it: ko://example.com/app/cmd/server.
const Scheme = "ko://"

// Kinds of bad input. Every error Parse, Read and Resolve return for an input is an *Error that
// wraps one of these, so callers can test them with errors.Is.
var (
	// ErrTooLarge: a file is larger than Options.MaxFileSize.
	ErrTooLarge = errors.New("file too large")
	// ErrAliasBomb: a file's aliases expand to more than Options.MaxAliasNodes values, or an
	// alias contains itself.
	ErrAliasBomb = errors.New("aliases expand too far")
	// ErrSyntax: a file is not YAML.
	ErrSyntax = errors.New("invalid YAML")
	// ErrImportPath: ko:// is followed by something that is not an import path.
	ErrImportPath = errors.New("not an import path")
	// ErrUnresolved: Resolve was given no reference for an import path.
	ErrUnresolved = errors.New("no reference for the import path")
)

// Error is a problem at one place of a file.
type Error struct {
	File string
	Line int // 0: the file as a whole
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// File is one YAML file: its name, as messages and records give it, and its content.
type File struct {
	Name string
	Data []byte
}

// Reference is one ko:// reference in a file.
type Reference struct {
	File       string
	Line       int
	ImportPath string
}

// Where is file:line.
func (r Reference) Where() string { return fmt.Sprintf("%s:%d", r.File, r.Line) }

// String is the reference as written: ko://<import path>.
func (r Reference) String() string { return Scheme + r.ImportPath }

// Substitution is a reference and what it became.
type Substitution struct {
	Reference
	// Ref is the image reference written in its place.
	Ref string
}

// Stream is the parsed documents of files, in order, and the references in them.
type Stream struct {
	docs []*yaml.Node
	refs []found
}

type found struct {
	Reference
	node *yaml.Node
}

// Parse reads the YAML documents of files, in order, and finds the ko:// references in them:
// string scalars (values, list items, keys) whose value starts with ko://, as ko finds them.
// Scalars with another tag, and ko:// inside longer strings or comments, are left alone.
// A file that is not YAML, exceeds a bound, or has a ko:// that is not followed by an import path
// is an error naming the file and line; every such error is reported.
func Parse(files []File, opts Options) (*Stream, error) {
	opts = opts.withDefaults()
	s := &Stream{}
	var errs []error
	for _, f := range files {
		if int64(len(f.Data)) > opts.MaxFileSize {
			errs = append(errs, tooLarge(f.Name, int64(len(f.Data)), opts.MaxFileSize))
			continue
		}
		docs, err := decode(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := checkAliases(f.Name, docs, opts.MaxAliasNodes); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, d := range docs {
			errs = append(errs, s.find(f.Name, d)...)
		}
		s.docs = append(s.docs, docs...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

func tooLarge(name string, size, max int64) error {
	return &Error{File: name, Err: fmt.Errorf("%w: %d bytes, over the limit of %d (resolve.DefaultMaxFileSize); split it into several files (a directory in resolve.files takes them all)", ErrTooLarge, size, max)}
}

// decode reads every document of a file.
func decode(f File) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(f.Data))
	var docs []*yaml.Node
	for {
		var d yaml.Node
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, syntaxError(f, err)
		}
		docs = append(docs, &d)
	}
}

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// syntaxError turns yaml.v3's "yaml: line N: …" into an Error at that line. yaml.v3 names no
// line for a problem on the first line, nor for bytes that are not printable UTF-8: those are
// found here.
func syntaxError(f File, err error) error {
	msg := err.Error()
	line := 0
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else if line = unprintableLine(f.Data); line == 0 {
		line = 1
	}
	return &Error{File: f.Name, Line: line, Err: fmt.Errorf("%w: %s", ErrSyntax, strings.TrimPrefix(msg, "yaml: "))}
}

// unprintableLine is the line of the first byte YAML does not accept (invalid UTF-8, a control
// character), or 0.
func unprintableLine(data []byte) int {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == '\n':
			line++
		case r == utf8.RuneError && size <= 1,
			r < 0x20 && r != '\t' && r != '\r',
			r >= 0x7F && r <= 0x9F && r != 0x85,
			r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF,
			r == 0xFEFF && i > 0:
			return line
		}
		i += size
	}
	return 0
}

// find records the ko:// references under n. Aliases are not followed: an aliased value is
// found once, where its anchor is, and changing it there changes every alias of it.
func (s *Stream) find(file string, n *yaml.Node) []error {
	var errs []error
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && strings.HasPrefix(n.Value, Scheme) {
			path := strings.TrimPrefix(n.Value, Scheme)
			if err := checkImportPath(path); err != nil {
				errs = append(errs, &Error{File: file, Line: n.Line, Err: fmt.Errorf("%w: %q: %v", ErrImportPath, n.Value, err)})
				return
			}
			s.refs = append(s.refs, found{Reference{File: file, Line: n.Line, ImportPath: path}, n})
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return errs
}

func checkImportPath(p string) error {
	if p == "" || p == "." || strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") {
		return errors.New("write the main package's full import path, e.g. ko://example.com/app/cmd/server")
	}
	if err := module.CheckImportPath(p); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), fmt.Sprintf("malformed import path %q: ", p)))
	}
	return nil
}

// checkAliases refuses a file whose aliases expand, all uses counted, to more than limit values,
// or contain themselves. The count is computed once per anchored value, so the check is linear in
// the file however far the aliases would expand.
func checkAliases(file string, docs []*yaml.Node, limit int) error {
	size := map[*yaml.Node]int{} // values an anchored node stands for, capped at limit+1
	active := map[*yaml.Node]bool{}
	var cycle *yaml.Node
	var expand func(n *yaml.Node) int
	expand = func(n *yaml.Node) int {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if v, ok := size[n]; ok {
			return v
		}
		if active[n] {
			cycle = n
			return limit + 1
		}
		active[n] = true
		total := 1
		for _, c := range n.Content {
			if total += expand(c); total > limit {
				total = limit + 1
				break
			}
		}
		delete(active, n)
		size[n] = total
		return total
	}
	total := 0
	var err error
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if err != nil {
			return
		}
		if n.Kind == yaml.AliasNode {
			if n.Alias == nil {
				return
			}
			total += expand(n)
			switch {
			case cycle != nil:
				err = &Error{File: file, Line: n.Line, Err: fmt.Errorf("%w: the alias *%s is used inside the value it names (line %d), which never ends; write the value out", ErrAliasBomb, n.Value, cycle.Line)}
			case total > limit:
				err = &Error{File: file, Line: n.Line, Err: fmt.Errorf("%w: the alias *%s brings this file's aliases, expanded where they are used, to more than %d values (resolve.DefaultMaxAliasNodes): an alias bomb, or aliases nested deeper than a manifest needs; write the values out, or alias fewer of them", ErrAliasBomb, n.Value, limit)}
			}
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	for _, d := range docs {
		walk(d)
	}
	return err
}

// References returns the ko:// references in file and document order.
func (s *Stream) References() []Reference {
	out := make([]Reference, len(s.refs))
	for i, r := range s.refs {
		out[i] = r.Reference
	}
	return out
}

// ImportPaths returns the import paths referenced, sorted, each once.
func (s *Stream) ImportPaths() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range s.refs {
		if !seen[r.ImportPath] {
			seen[r.ImportPath] = true
			out = append(out, r.ImportPath)
		}
	}
	sort.Strings(out)
	return out
}

// Documents is how many documents the files hold.
func (s *Stream) Documents() int { return len(s.docs) }

// Resolve returns the documents as one multi-document YAML stream with every reference replaced
// by refs[import path], keeping each scalar's style, and the substitutions made, in order. An
// import path missing from refs is an error at each of its references, and nothing is returned.
// The stream is the same bytes for the same files and refs. s is left as it was.
func (s *Stream) Resolve(refs map[string]string) ([]byte, []Substitution, error) {
	var errs []error
	for _, r := range s.refs {
		if refs[r.ImportPath] == "" {
			errs = append(errs, &Error{File: r.File, Line: r.Line, Err: fmt.Errorf("%w: %s", ErrUnresolved, r)})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	subs := make([]Substitution, len(s.refs))
	for i, r := range s.refs {
		subs[i] = Substitution{Reference: r.Reference, Ref: refs[r.ImportPath]}
		r.node.Value = subs[i].Ref
	}
	defer func() {
		for _, r := range s.refs {
			r.node.Value = r.String()
		}
	}()
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, d := range s.docs {
		if err := enc.Encode(d); err != nil {
			return nil, nil, fmt.Errorf("write the resolved YAML: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, nil, fmt.Errorf("write the resolved YAML: %w", err)
	}
	// The encoder writes some things it read in a form it cannot read back (a tag written
	// percent-encoded, !%21, comes out as !!): what Resolve returns always parses.
	if err := decodesWhole(buf.Bytes()); err != nil {
		return nil, nil, fmt.Errorf("write the resolved YAML: the YAML encoder wrote what it cannot read back (%v); write the tags of the input plainly", err)
	}
	return buf.Bytes(), subs, nil
}

// decodesWhole reports whether every document of data parses.
func decodesWhole(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
