package signstage

import (
	"reflect"
	"slices"
	"testing"

	"github.com/scratchkit/scratchkit/targets/config"
	"github.com/scratchkit/scratchkit/targets/config/load"
	"github.com/scratchkit/scratchkit/targets/sign"
)

// sign.format accepts exactly the formats the sign package knows, and defaults to both.
func TestSignFormatsAreTheSignPackages(t *testing.T) {
	var formats []string
	for _, f := range sign.Formats {
		formats = append(formats, string(f))
	}
	if !slices.Equal(formats, load.SignFormats) {
		t.Errorf("load.SignFormats %v, sign.Formats %v", load.SignFormats, formats)
	}
	f, _ := reflect.TypeFor[config.Sign]().FieldByName("Format")
	if f.Tag.Get("default") != string(sign.FormatBoth) {
		t.Errorf("sign.format defaults to %q, want %q", f.Tag.Get("default"), sign.FormatBoth)
	}
}
