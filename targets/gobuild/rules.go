package gobuild

import (
	"fmt"
	"strings"

	"github.com/scratchkit/scratchkit/internal/envvar"
	"github.com/scratchkit/scratchkit/targets/binary"
)

// CheckEnv checks one entry of a build's environment: NAME=VALUE; not GOOS, GOARCH or GOARM,
// which are chosen per platform; not a CGO_ENABLED that would make a static build dynamic.
// Configuration validation and Args both ask it.
func CheckEnv(kv string, l binary.Linkage) error {
	k, v, err := envvar.Split(kv)
	if err != nil {
		return err
	}
	switch k {
	case "GOOS", "GOARCH", "GOARM":
		return fmt.Errorf("%s is set per platform; list the platform under platforms instead", k)
	case "CGO_ENABLED":
		return checkCgo(v, l)
	}
	return nil
}

// checkCgo refuses a CGO_ENABLED value that would make a build of linkage l dynamic.
func checkCgo(v string, l binary.Linkage) error {
	if (l == binary.LinkageStatic || l == "") && v != "0" && v != "" {
		return fmt.Errorf("CGO_ENABLED=%s would make this static build dynamic: a cgo build asks for the dynamic loader and fails in scratch with \"no such file or directory\"; remove it (scratchkit sets CGO_ENABLED=0), or set linkage: cgo-static (cgo with musl) or static-pie for code that needs cgo", v)
	}
	return nil
}

// CheckFlag checks one of a build's extra go build flags: not one scratchkit chooses (-o) or
// one that has a key of its own (-ldflags, -buildmode, -tags, -pgo).
func CheckFlag(f string) error {
	flag, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "=")
	switch flag {
	case "o":
		return fmt.Errorf("-o is chosen by scratchkit (dist/<name>/<os>_<arch>/<name>); remove it")
	case "ldflags":
		return fmt.Errorf("use the ldflags key instead of -ldflags in flags")
	case "buildmode":
		return fmt.Errorf("use linkage: static-pie instead of -buildmode")
	case "tags":
		return fmt.Errorf("use the tags key instead of -tags in flags")
	case "pgo":
		return fmt.Errorf("use the pgo key (auto, off or a file) instead of -pgo in flags")
	}
	return nil
}
