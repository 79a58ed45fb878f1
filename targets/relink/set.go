package relink

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
)

// A Set keeps a Plan per binary (by a key of the caller's, such as its name and platform) for a
// loop that builds the same binaries again and again, and the files changed since each plan's
// binary was built. Its methods may be called from several goroutines.
type Set struct {
	ctx  context.Context // for the plans prepared in the background
	root string

	mu        sync.Mutex
	wg        sync.WaitGroup
	plans     map[string]*Plan
	dirty     map[string]map[string]bool // by key: the files changed since its plan's binary
	preparing map[string]int             // by key: the generation of the prepare under way
	failed    map[string]int             // by key: the prepares that failed in a row
	gen       int
	closed    bool
}

// NewSet returns an empty set for binaries of the packages under root (absolute). Plans are
// prepared in the background until ctx ends or Close.
func NewSet(ctx context.Context, root string) *Set {
	return &Set{ctx: ctx, root: root, plans: map[string]*Plan{}, dirty: map[string]map[string]bool{}, preparing: map[string]int{}, failed: map[string]int{}}
}

// Changed says the files (absolute paths) changed: the next Link of every binary compiles their
// packages, and so does every Link after it until one succeeds.
func (s *Set) Changed(files ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key := range s.plans {
		s.markLocked(key, files)
	}
	for key := range s.preparing {
		s.markLocked(key, files)
	}
}

func (s *Set) markLocked(key string, files []string) {
	if s.dirty[key] == nil {
		s.dirty[key] = map[string]bool{}
	}
	for _, f := range files {
		s.dirty[key][filepath.Clean(f)] = true
	}
}

// Link writes key's binary to out after the changes said since it was last built. Its error
// matches ErrNotApplicable when go build must run: no plan is ready, nothing changed, or the
// plan's Link refused.
func (s *Set) Link(ctx context.Context, key, out string) (string, error) {
	s.mu.Lock()
	p := s.plans[key]
	var changed []string
	for f := range s.dirty[key] {
		changed = append(changed, f)
	}
	s.mu.Unlock()
	if p == nil {
		return "", notFor("no plan is ready yet")
	}
	slices.Sort(changed)
	output, err := p.Link(ctx, changed, out)
	if err == nil {
		s.mu.Lock()
		if s.plans[key] == p {
			for _, f := range changed {
				delete(s.dirty[key], f)
			}
		}
		s.mu.Unlock()
	}
	return output, err
}

// maxFailures is how many prepares of one binary may fail in a row before the set stops trying:
// what makes one fail (a PGO profile, say) is usually there the next time.
const maxFailures = 2

// Built says go build just built key's binary with o: a new plan for it is prepared in the
// background, and replaces the one there is once ready.
func (s *Set) Built(key string, o Options) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.failed[key] >= maxFailures {
		return
	}
	o.Root = s.root
	s.gen++
	gen := s.gen
	s.preparing[key] = gen
	// What changed before this build is in its binary; what changes from now on is said again.
	s.dirty[key] = map[string]bool{}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		p, err := Prepare(s.ctx, o)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.preparing[key] != gen {
			if p != nil {
				p.Close() // a later build's plan is on its way
			}
			return
		}
		delete(s.preparing, key)
		if old := s.plans[key]; old != nil {
			old.Close()
			delete(s.plans, key)
		}
		if err != nil || s.closed {
			if err != nil {
				s.failed[key]++
			}
			if p != nil {
				p.Close()
			}
			return
		}
		s.failed[key] = 0
		s.plans[key] = p
	}()
}

// Close waits for the plans being prepared and removes every plan's directory.
func (s *Set) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for key, p := range s.plans {
		errs = append(errs, p.Close())
		delete(s.plans, key)
	}
	return errors.Join(errs...)
}
