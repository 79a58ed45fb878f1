package publish

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// tagAll points every tag at t (digest), or, as far as a registry allows, none of them.
//
// The distribution API has no transaction, and it cannot remove a tag alone: DELETE takes a
// digest and removes the manifest with every tag naming it, the image just pushed included. So:
//
//  1. read where every tag points now; a tag that cannot be read fails the tagging before any
//     tag moves, since it could not be put back;
//  2. before any tag moves, write every existing tag's own manifest back to it (a write that
//     changes nothing): a registry that refuses writes to one of them (an immutable tag, a
//     per-tag permission) fails the tagging with no tag moved;
//  3. move the tags that exist first and create the new ones last, so that a failure among the
//     existing tags is undone completely;
//  4. on a failure, put every moved tag back on the manifest it named before (read by digest);
//  5. report where every tag points afterwards, read again from the registry.
//
// What remains is the window the distribution API leaves every client (ko and crane move tags
// one PUT at a time too): while the tags move, and after a process killed among the moves or the
// put-backs, some tags may name the new digest and others the old one; a new tag, once created,
// stays. Publishing again moves every tag.
//
// Tags that already name digest are left alone (no manifest rewrite). A single tag needs neither
// the probe of step 2 nor a put-back: when its move fails, no tag has moved. It returns the tags,
// all naming digest, or a *TagError.
func (r *RegistryPublisher) tagAll(ctx context.Context, x explainer, opts []remote.Option, repo name.Repository, t taggable, digest v1.Hash, tags []name.Tag) ([]name.Tag, error) {
	pusher, err := remote.NewPusher(opts...)
	if err != nil {
		return nil, err
	}
	type entry struct {
		tag     name.Tag
		before  *v1.Hash // nil: the tag did not exist
		moved   bool
		restore error // why putting it back failed
	}
	var exist, fresh []*entry
	all := make([]*entry, len(tags))
	for i, tag := range tags {
		e := &entry{tag: tag}
		all[i] = e
		d, err := remote.Head(tag, opts...)
		switch {
		case err == nil:
			e.before = &d.Digest
			if d.Digest != digest {
				exist = append(exist, e)
			}
		case notFound(err):
			fresh = append(fresh, e)
		default:
			return nil, &TagError{Image: repo.Digest(digest.String()).String(), New: digest, Failed: tag.TagStr(), Reading: true, Err: x.explain("read tag", err)}
		}
	}
	if len(all) == 1 && len(exist) == 1 {
		// One tag to move: a refusal moves nothing, so it needs no probe first.
		exist = nil
		fresh = all
	}
	// Each existing tag takes a write of what it already holds before anything moves.
	for _, e := range exist {
		cur, err := remote.Get(e.tag, opts...)
		if err == nil && cur.Digest != *e.before {
			err = fmt.Errorf("tag %s moved to %s while it was being read (another publisher?)", e.tag.TagStr(), cur.Digest)
		}
		if err == nil {
			err = pusher.Put(ctx, e.tag, cur)
		}
		if err != nil {
			return nil, &TagError{Image: repo.Digest(digest.String()).String(), New: digest, Failed: e.tag.TagStr(), Probing: true, Err: x.explain("write tag", err)}
		}
	}
	var failed *entry
	var ferr error
	for _, e := range append(exist, fresh...) {
		if err := pusher.Put(ctx, e.tag, t); err != nil {
			failed, ferr = e, err
			break
		}
		e.moved = true
	}
	if failed == nil {
		return tags, nil
	}

	// Undo, newest move first. A context already cancelled still gets the tags put back.
	undo := context.WithoutCancel(ctx)
	for i := len(exist) - 1; i >= 0; i-- {
		e := exist[i]
		if !e.moved {
			continue
		}
		prev, err := remote.Get(repo.Digest(e.before.String()), append(opts, remote.WithContext(undo))...)
		if err == nil {
			err = pusher.Put(undo, e.tag, prev)
		}
		e.restore = err
	}
	te := &TagError{Image: repo.Digest(digest.String()).String(), New: digest, Failed: failed.tag.TagStr(), Err: x.explain("tag", ferr)}
	for _, e := range all {
		s := TagState{Tag: e.tag.TagStr(), Before: e.before, Moved: e.moved}
		if e.restore != nil {
			s.Restore = x.explain("put back tag", e.restore)
		}
		if d, err := remote.Head(e.tag, append(opts, remote.WithContext(undo))...); err == nil {
			s.Now = &d.Digest
		} else if !notFound(err) {
			s.Unread = x.explain("read tag", err)
		}
		te.Tags = append(te.Tags, s)
	}
	return nil, te
}

// notFound reports whether err is the registry saying the manifest or tag does not exist.
func notFound(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	if terr.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range terr.Errors {
		if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return false
}
