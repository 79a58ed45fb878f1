// Command sbomprobe is a tiny program with module dependencies, built by the SBOM tests.
package main

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

func main() {
	n := 0
	for range bundle.Roots() {
		n++
	}
	ref, err := name.ParseReference("example.com/probe:v1")
	fmt.Println(ref, err, n)
}
