// Package image assembles OCI images the ko way from binaries that are already built and verified.
//
// An image is a base (the built-in static base, an empty scratch base, or a registry image pinned
// by digest) plus a layer holding the binary at /ko-app/<name> and, optionally, a layer holding a
// data directory at /var/run/ko (ko's kodata convention). Several platforms give one OCI image
// index; one platform gives a single image manifest. Everything uses OCI media types, and every
// time stamp that scratchkit writes comes from the caller's creation time (SOURCE_DATE_EPOCH or
// the commit time), never the wall clock, so two builds of the same commit give the same digest.
//
// Platform images built in separate runs (one runner per platform) are joined by Join into the
// index one Build of every platform makes, digest for digest; MergeIndex is the index builder
// both use.
//
// Each platform image comes with an SPDX 2.3 JSON SBOM read from the binary's build information.
//
// Layers are standard gzip written with klauspost/compress. Given Spec.CacheDir, they are kept by
// content (see internal/layercache), so a Build whose binary, data and base have not changed
// compresses nothing; entries are checked before use and rebuilt when damaged.
//
// The package does not publish: its results are go-containerregistry v1.Image and v1.ImageIndex
// values that a publisher (registry, daemon, tarball, OCI layout) writes out.
package image
