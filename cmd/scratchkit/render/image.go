package render

import (
	"fmt"
	"io"
	"sync"
	"text/tabwriter"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scratchkit/scratchkit/internal/bytesize"
	"github.com/scratchkit/scratchkit/targets/publish"
)

// PushProgress returns a publish.RegistryOptions.Progress function printing one line per blob,
// per tenth of the bytes, and per pushed digest and tag, to w. It is safe for concurrent use.
func PushProgress(w io.Writer) func(publish.Event) {
	var mu sync.Mutex
	tenth := map[string]int64{}
	return func(e publish.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Kind {
		case publish.BlobSkipped:
			fmt.Fprintf(w, "%s: exists   %s (%s)\n", e.Image, short(e.Digest), bytesize.Format(e.Size))
		case publish.BlobUploaded:
			fmt.Fprintf(w, "%s: uploaded %s (%s)\n", e.Image, short(e.Digest), bytesize.Format(e.Size))
		case publish.Bytes:
			if e.Total <= 0 {
				return
			}
			t := e.Complete * 10 / e.Total
			if last, ok := tenth[e.Image]; ok && t <= last {
				return
			}
			tenth[e.Image] = t
			fmt.Fprintf(w, "%s: %s / %s\n", e.Image, bytesize.Format(e.Complete), bytesize.Format(e.Total))
		case publish.Pushed:
			delete(tenth, e.Image)
			fmt.Fprintf(w, "%s: pushed %s (%d blobs uploaded, %d already there, %s sent)\n",
				e.Image, e.Ref, e.Uploaded, e.Skipped, bytesize.Format(e.Sent))
		case publish.Tagged:
			fmt.Fprintf(w, "%s: tagged %s\n", e.Image, e.Ref)
		}
	}
}

// ImageTable writes what Image (and Index) published: per result its image, destination and
// digest, then one row per platform with the compressed size that platform pulls (its config and
// layers; not the sum over an index's platforms).
func ImageTable(w io.Writer, results []*publish.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tDESTINATION\tDIGEST\tPLATFORM\tSIZE")
	for _, r := range results {
		if r == nil {
			continue
		}
		if len(r.Platforms) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t%s\n", r.Name, r.Destination, r.Digest, bytesize.Format(r.Size))
			continue
		}
		for i, p := range r.Platforms {
			if i == 0 {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Destination, r.Digest, p, bytesize.Format(r.PlatformSize(p)))
			} else {
				fmt.Fprintf(tw, "\t\t\t%s\t%s\n", p, bytesize.Format(r.PlatformSize(p)))
			}
		}
	}
	return tw.Flush()
}

func short(h v1.Hash) string {
	s := h.String()
	if len(s) > len("sha256:")+12 {
		return s[:len("sha256:")+12]
	}
	return s
}
