package publish

import (
	"net/http"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blobCounter watches the registry protocol go by to count the blobs a push sends and those the
// registry already had: a HEAD on a blob answered 200 is a blob that is not sent again, a
// cross-repository mount answered 201 is one the registry copied itself, and a PUT committing
// an upload answered 201 is one that was sent.
type blobCounter struct {
	next  http.RoundTripper
	image string
	sizes map[v1.Hash]int64
	emit  func(Event)

	mu       sync.Mutex
	uploaded map[v1.Hash]bool
	seen     map[v1.Hash]bool
}

func newBlobCounter(next http.RoundTripper, image string, sizes map[v1.Hash]int64, emit func(Event)) *blobCounter {
	return &blobCounter{next: next, image: image, sizes: sizes, emit: emit, uploaded: map[v1.Hash]bool{}, seen: map[v1.Hash]bool{}}
}

func (c *blobCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil || resp == nil {
		return resp, err
	}
	p := req.URL.Path
	switch {
	case req.Method == http.MethodHead && resp.StatusCode == http.StatusOK && strings.Contains(p, "/blobs/sha256:"):
		c.record(p[strings.LastIndex(p, "/")+1:], false)
	case req.Method == http.MethodPost && resp.StatusCode == http.StatusCreated && strings.HasSuffix(p, "/blobs/uploads/"):
		c.record(req.URL.Query().Get("mount"), false)
	case req.Method == http.MethodPut && resp.StatusCode == http.StatusCreated && strings.Contains(p, "/blobs/uploads/"):
		c.record(req.URL.Query().Get("digest"), true)
	}
	return resp, err
}

func (c *blobCounter) record(digest string, sent bool) {
	h, err := v1.NewHash(digest)
	if err != nil {
		return
	}
	size, ours := c.sizes[h]
	if !ours {
		return
	}
	c.mu.Lock()
	first := !c.seen[h]
	c.seen[h] = true
	if sent {
		c.uploaded[h] = true
	}
	c.mu.Unlock()
	if !first {
		return
	}
	kind := BlobSkipped
	if sent {
		kind = BlobUploaded
	}
	c.emit(Event{Image: c.image, Kind: kind, Digest: h, Size: size})
}

// totals: every blob of the artifact is in the registry once the manifest is accepted, so all
// that were not sent were already there (ggcr does not even look at them when the manifest is).
func (c *blobCounter) totals() (uploaded, skipped int, sent int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h := range c.uploaded {
		uploaded++
		sent += c.sizes[h]
	}
	return uploaded, len(c.sizes) - uploaded, sent
}
