// Command prober is the http probe of scratchkit's smoke test when the service runs under docker.
// It runs in a container of its own that joins the service container's network namespace
// (docker --network container:<id>), so that it reaches the service on that namespace's loopback
// without the host's network and without root. It GETs -url until the answer is as expected (a
// 2xx, or -status, with a body matching -body; sending -host as the Host header) or -timeout
// passes (httpprobe.Until), then prints the result as one JSON line and exits 0 on an expected
// answer, 1 without one, 2 on bad arguments.
//
// scratchkit embeds its source, builds it with the go on PATH (CGO_ENABLED=0, linux/<host arch>)
// and caches the binary under the user cache dir.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/targets/run/internal/httpprobe"
)

func main() {
	url := flag.String("url", "", "the URL to GET, http://127.0.0.1:<port><path>")
	timeout := flag.Duration("timeout", 20*time.Second, "how long the service has to answer as expected")
	status := flag.Int("status", 0, "the status the answer must have; 0: any 2xx")
	body := flag.String("body", "", "a regular expression the answer's body must match")
	host := flag.String("host", "", "the Host header to send")
	flag.Parse()
	var e httpprobe.Expect
	var err error
	if *body != "" {
		e.Body, err = regexp.Compile(*body)
	}
	e.Status, e.Host = *status, *host
	if !strings.HasPrefix(*url, "http://") || *timeout <= 0 || flag.NArg() > 0 || err != nil {
		fmt.Fprintln(os.Stderr, "usage: prober -url http://127.0.0.1:PORT/PATH [-timeout 20s] [-status N] [-body REGEXP] [-host NAME]")
		os.Exit(2)
	}
	r := httpprobe.Until(context.Background(), *url, e, time.Now().Add(*timeout), nil)
	out, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "prober:", err)
		os.Exit(2)
	}
	fmt.Println(string(out))
	if r.Status == 0 {
		os.Exit(1)
	}
}
