package publish

import v1 "github.com/google/go-containerregistry/pkg/v1"

// EventKind says what an Event reports.
type EventKind int

// Kinds of progress events, in the order a push produces them.
const (
	// BlobSkipped: the registry already has the blob (layer or config); it is not sent.
	BlobSkipped EventKind = iota
	// BlobUploaded: the blob was sent and committed.
	BlobUploaded
	// Bytes: Complete of Total bytes of the image's blobs are done (sent or found present).
	Bytes
	// Pushed: the manifest (or index) is in the registry under its digest; Ref names it.
	Pushed
	// Tagged: a tag now points at the pushed digest; Ref names the tag.
	Tagged
)

// Event is one step of a push, reported to RegistryOptions.Progress.
type Event struct {
	Image  string // artifact name
	Kind   EventKind
	Digest v1.Hash // the blob (BlobSkipped, BlobUploaded) or the manifest (Pushed, Tagged)
	Size   int64   // blob size (BlobSkipped, BlobUploaded)
	// Complete and Total are bytes (Bytes).
	Complete, Total int64
	Ref             string // Pushed, Tagged
	// Uploaded, Skipped and Sent summarise the push so far (Pushed).
	Uploaded, Skipped int
	Sent              int64
}
