package load

import (
	"reflect"
	"testing"

	"github.com/scratchkit/scratchkit/targets/config"
	"github.com/scratchkit/scratchkit/targets/image"
)

// The defaults of image.base and image.user are image's own, which a struct tag cannot name.
func TestImageDefaultsAreImages(t *testing.T) {
	it := reflect.TypeFor[config.Image]()
	for field, want := range map[string]string{"Base": image.BaseStatic, "User": image.DefaultUser} {
		f, _ := it.FieldByName(field)
		if got := f.Tag.Get("default"); got != want {
			t.Errorf("config.Image.%s defaults to %q, image's default is %q", field, got, want)
		}
	}
}
