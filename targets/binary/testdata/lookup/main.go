// Command lookup looks up a host and a user, as a service resolving its database and dropping
// privileges does: with cgo and without the netgo and osusergo tags, Go calls glibc's getaddrinfo
// and getpwnam for it.
package main

import (
	"fmt"
	"net"
	"os/user"
)

func main() {
	addrs, err := net.LookupHost("localhost")
	fmt.Println(addrs, err)
	u, err := user.Lookup("root")
	fmt.Println(u, err)
}
