// Command vulnapp calls greet.Hello and (*greet.Greeter).Greet, and not greet.Unused.
package main

import (
	"fmt"
	"os"

	"example.com/vulnmod/greet"
)

func main() {
	g := &greet.Greeter{Prefix: "hi "}
	fmt.Println(greet.Hello(os.Args[0]), g.Greet("there"))
}
