package binary

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/targets/platform"
)

// A static binary linked with glibc whose lookups go through glibc's name service switch fails
// the nss check with the fix, naming what the linker warned about; the same build with Go's own
// resolver and user lookup (-tags netgo,osusergo) passes; a pure Go binary has nothing to check.
func TestNSSCheck(t *testing.T) {
	exp := Expect{Name: "lookup", Platform: platform.MustParse("linux/" + runtime.GOARCH), Linkage: LinkageCgoStatic, LinkWarnings: []string{"getaddrinfo", "getpwnam"}}
	rep := Verify(context.Background(), fixture(t, "glibc-nss"), exp)
	res, _ := rep.Result(CheckNSS)
	if res.Status != StatusFail || res.Value != "glibc" || !strings.Contains(res.Detail, "-tags netgo,osusergo") ||
		!strings.Contains(res.Detail, "musl") || !strings.Contains(res.Detail, "linker warned about getaddrinfo, getpwnam") {
		t.Errorf("glibc NSS: %+v", res)
	}
	exp.LinkWarnings = nil
	rep = Verify(context.Background(), fixture(t, "glibc-netgo"), exp)
	if res, _ := rep.Result(CheckNSS); res.Status != StatusPass {
		t.Errorf("netgo,osusergo: %+v", res)
	}
	rep = Verify(context.Background(), fixture(t, "static"), Expect{Name: "hello", Platform: platform.MustParse("linux/" + runtime.GOARCH)})
	if res, _ := rep.Result(CheckNSS); res.Status != StatusPass {
		t.Errorf("pure Go: %+v", res)
	}
	exp.Report = []string{CheckNSS}
	rep = Verify(context.Background(), fixture(t, "glibc-nss"), exp)
	if res, _ := rep.Result(CheckNSS); res.Status != StatusWarn {
		t.Errorf("verify.report: [nss] should accept it as a warning: %+v", res)
	}
}
