// Command pitfall misbehaves in the ways scratchkit's smoke tests must catch: it writes to the
// image's filesystem, allocates more memory than a container allows, ignores SIGTERM, starts more
// threads than a container allows, floods its output, or makes a system call containers refuse.
// It also behaves as real servers do, which smoke must let it: it keeps state under its home
// directory and a scratch directory under /tmp, reads its environment, and answers HTTP by path
// and Host.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	write := flag.String("write", "", "create this file, as a program keeping state next to itself does, and exit")
	writeMB := flag.Int("write-mb", 0, "with -write: write this many MiB into the file")
	state := flag.Bool("state", false, "first create $HOME/.local/state/pitfall and a scratch directory under $TMPDIR (or /tmp), as real servers do")
	printEnv := flag.String("print-env", "", "print this environment variable's value and exit")
	allocMB := flag.Int("alloc-mb", 0, "allocate and touch this many MiB, then exit")
	serve := flag.String("serve", "", "serve HTTP on this address")
	ignoreTerm := flag.Bool("ignore-term", false, "ignore SIGTERM")
	termExit := flag.Int("term-exit", -1, "on SIGTERM, exit with this code (as a server that does not handle SIGTERM gracefully)")
	threads := flag.Int("threads", 0, "start this many OS threads, then exit")
	spewMB := flag.Int("spew-mb", 0, "write this many MiB to stdout, then fail")
	privileges := flag.Bool("privileges", false, "print the process's uid, capability sets, no_new_privs, whether / is writable and the network interfaces, then exit")
	keyctl := flag.Bool("keyctl", false, "join a new kernel session keyring (keyctl(2), which docker's seccomp profile refuses)")
	flag.Parse()

	if *ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	}
	if *termExit >= 0 {
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		go func() { <-term; os.Exit(*termExit) }()
	}
	if *state {
		if err := makeState(); err != nil {
			fmt.Fprintln(os.Stderr, "pitfall:", err)
			os.Exit(1)
		}
	}
	switch {
	case *privileges:
		printPrivileges()
	case *printEnv != "":
		fmt.Println(os.Getenv(*printEnv))
	case *write != "":
		data := []byte("state\n")
		if *writeMB > 0 {
			data = make([]byte, *writeMB<<20)
		}
		if err := os.WriteFile(*write, data, 0o644); err != nil {
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
	case *threads > 0:
		started := make(chan bool)
		for i := 0; i < *threads; i++ {
			go func() {
				runtime.LockOSThread() // a parked locked goroutine keeps its thread
				started <- true
				select {}
			}()
		}
		for i := 0; i < *threads; i++ {
			<-started
		}
		fmt.Println("started", *threads, "threads")
	case *spewMB > 0:
		w := bufio.NewWriter(os.Stdout)
		line := strings.Repeat("x", 1023) + "\n"
		for i := 0; i < *spewMB*1024; i++ {
			w.WriteString(line)
		}
		fmt.Fprintf(w, "pitfall: wrote %d MiB\n", *spewMB)
		w.Flush()
		os.Exit(1)
	case *keyctl:
		id, err := unix.KeyctlJoinSessionKeyring("scratchkit-pitfall")
		if err != nil {
			fmt.Fprintln(os.Stderr, "pitfall: keyctl:", err)
			os.Exit(1)
		}
		fmt.Println("joined session keyring", id)
	case *serve != "":
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/missing":
				http.NotFound(w, r)
			case "/moved":
				http.Redirect(w, r, "/", http.StatusMovedPermanently)
			default:
				fmt.Fprintf(w, "ok, host %s\n", r.Host)
			}
		})
		fmt.Println("serving on", *serve)
		if err := http.ListenAndServe(*serve, nil); err != nil {
			fmt.Fprintln(os.Stderr, "pitfall:", err)
			os.Exit(1)
		}
	case *state:
		fmt.Println("pitfall: state made")
	default:
		fmt.Println("pitfall: nothing to do")
	}
}

// makeState creates what a real server keeps: its state under the home directory, and a scratch
// directory under the temporary directory.
func makeState() error {
	home, err := os.UserHomeDir()
	if err != nil {
		return err
	}
	dir := filepath.Join(home, ".local", "state", "pitfall")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "state"), []byte("state\n"), 0o600); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp("", "pitfall-")
	if err != nil {
		return err
	}
	fmt.Println("state in", dir, "scratch in", scratch)
	return nil
}

// printPrivileges prints what the container gave the process: its uid, the capability sets and
// NoNewPrivs from /proc/self/status, whether the root filesystem takes a file, and the network
// interfaces.
func printPrivileges() {
	fmt.Println("uid", os.Getuid())
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pitfall:", err)
		os.Exit(1)
	}
	for _, line := range strings.Split(string(status), "\n") {
		for _, k := range []string{"CapEff:", "CapPrm:", "CapBnd:", "NoNewPrivs:"} {
			if strings.HasPrefix(line, k) {
				fmt.Println(strings.Join(strings.Fields(line), " "))
			}
		}
	}
	if err := os.WriteFile("/root-writable", nil, 0o644); err != nil {
		fmt.Println("root read-only")
	} else {
		fmt.Println("root writable")
	}
	ifs, _ := net.Interfaces()
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	fmt.Println("interfaces", strings.Join(names, ","))
}
