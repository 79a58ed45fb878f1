package image

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/targets/platform"
)

// The SBOM of an index names the index, each platform image and the binary in each, by digest.
func TestIndexSBOM(t *testing.T) {
	idx := "sha256:" + strings.Repeat("1", 64)
	platforms := []IndexPlatform{
		{Platform: platform.MustParse("linux/amd64"), Digest: "sha256:" + strings.Repeat("a", 64), BinarySHA256: strings.Repeat("b", 64)},
		{Platform: platform.MustParse("linux/arm/v7"), Digest: "sha256:" + strings.Repeat("c", 64), BinarySHA256: strings.Repeat("d", 64)},
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b, err := IndexSBOM("hello", "registry.example/team/hello", idx, platforms, created)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := IndexSBOM("hello", "registry.example/team/hello", idx, platforms, created)
	if string(again) != string(b) {
		t.Error("the same index gives another document")
	}
	var doc spdxDocument
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, p := range doc.Packages {
		for _, c := range p.Checksums {
			sums[c.ChecksumValue] = p.Name + " " + p.PrimaryPurpose + " " + p.Comment
		}
	}
	for sum, want := range map[string]string{
		strings.Repeat("1", 64): "hello CONTAINER",
		strings.Repeat("a", 64): "hello linux/amd64 CONTAINER",
		strings.Repeat("b", 64): "hello APPLICATION Go binary for linux/amd64",
		strings.Repeat("d", 64): "hello APPLICATION Go binary for linux/arm/v7",
	} {
		if !strings.HasPrefix(sums[sum], want) {
			t.Errorf("package with sha256 %s… is %q, want %q", sum[:8], sums[sum], want)
		}
	}
	if !strings.Contains(string(b), "pkg:oci/hello@sha256%3A"+strings.Repeat("c", 64)+"?arch=arm\u0026os=linux\u0026repository_url=registry.example%2Fteam%2Fhello\u0026variant=v7") {
		t.Errorf("no package URL of the arm/v7 image:\n%s", b)
	}
	if _, err := IndexSBOM("hello", "", "latest", platforms, created); err == nil {
		t.Error("a tag accepted as the index digest")
	}
}
