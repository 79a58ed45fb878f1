// Command dyn is a cgo program that links the C library dynamically (os/user and net through
// cgo), as a CGO_ENABLED=1 build does by default: it cannot start in a scratch image.
package main

import (
	"fmt"
	"net"
	"os/user"
)

func main() {
	u, err := user.Current()
	fmt.Println("user:", u, err)
	addrs, err := net.LookupHost("localhost")
	fmt.Println("localhost:", addrs, err)
}
