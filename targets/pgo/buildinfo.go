package pgo

import (
	"fmt"

	scbinary "github.com/scratchkit/scratchkit/targets/binary"
)

// BinaryProfile returns the profile a Go binary was built with, as its build info records it
// (the -pgo setting: "default.pgo" or a file name under -trimpath, a path otherwise), or "" when
// it was built without one.
func BinaryProfile(binary string) (string, error) {
	bi, err := scbinary.ReadBuildInfoFile(binary)
	if err != nil {
		return "", fmt.Errorf("pgo: build info of %s: %w", binary, err)
	}
	for _, s := range bi.Settings {
		if s.Key == "-pgo" {
			return s.Value, nil
		}
	}
	return "", nil
}
