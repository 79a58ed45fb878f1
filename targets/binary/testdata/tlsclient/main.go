// Command tlsclient is a test fixture: an HTTPS client that embeds its CA roots and zone data,
// so its binary links crypto/tls, golang.org/x/crypto/x509roots/fallback and time/tzdata.
package main

import (
	"fmt"
	"net/http"
	"os"

	_ "golang.org/x/crypto/x509roots/fallback"
	_ "time/tzdata"
)

func main() {
	resp, err := http.Get(os.Args[1])
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Status)
}
