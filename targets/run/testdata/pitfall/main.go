// Command pitfall misbehaves in the ways scratchkit's smoke tests must catch: it writes to the
// image's filesystem, allocates more memory than a container allows, or ignores SIGTERM.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	write := flag.String("write", "", "create this file, as a program keeping state next to itself does, and exit")
	allocMB := flag.Int("alloc-mb", 0, "allocate and touch this many MiB, then exit")
	serve := flag.String("serve", "", "serve HTTP on this address")
	ignoreTerm := flag.Bool("ignore-term", false, "ignore SIGTERM")
	flag.Parse()

	if *ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	}
	switch {
	case *write != "":
		if err := os.WriteFile(*write, []byte("state\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "pitfall:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", *write)
	case *allocMB > 0:
		var keep [][]byte
		for i := 0; i < *allocMB; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			keep = append(keep, b)
		}
		fmt.Println("allocated", len(keep), "MiB")
	case *serve != "":
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
		fmt.Println("serving on", *serve)
		if err := http.ListenAndServe(*serve, nil); err != nil {
			fmt.Fprintln(os.Stderr, "pitfall:", err)
			os.Exit(1)
		}
	default:
		fmt.Println("pitfall: nothing to do")
	}
}
