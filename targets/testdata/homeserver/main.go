// Command hello (a stand-in for examples/hello in end-to-end tests) is a server the way many real
// ones are: before it listens, it keeps its state under its home directory
// ($HOME/.local/state/<name>, the name from STATE_NAME), and /healthz answers with that name. Under
// a read-only root it fails with "mkdir /home/nonroot/.local: read-only file system" unless the
// home directory is mounted writable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

var version = "devel"

func main() {
	addr := flag.String("addr", ":8080", "address of the service")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Printf("hello %s\n", version)
		return
	}
	name := os.Getenv("STATE_NAME")
	if name == "" {
		name = "hello"
	}
	home, err := os.UserHomeDir()
	if err != nil {
		log.Fatal(err)
	}
	state := filepath.Join(home, ".local", "state", name)
	if err := os.MkdirAll(state, 0o700); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "started"), []byte(time.Now().UTC().Format(time.RFC3339)), 0o600); err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "ok %s\n", name) })
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Printf("hello %s listening on %s, state in %s", version, *addr, state)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
