// Command hello is a test fixture: it looks up a user, a time zone and a host name, so its
// binary links os/user, time.LoadLocation and net, and with cgo on it links libc dynamically.
package main

import (
	"fmt"
	"net"
	"os/user"
	"time"
)

func main() {
	u, err := user.Current()
	fmt.Println(u, err)
	loc, err := time.LoadLocation("Europe/Paris")
	fmt.Println(loc, err)
	addrs, err := net.LookupHost("localhost")
	fmt.Println(addrs, err)
}
