// Command docs is a small CPU-bound service where profile-guided optimisation pays: each request
// lexes a batch of documents, runs every value through a chain of transforms and encodes the
// result as JSON, all through interfaces (Lexer, Transform, Sink), whose hot call sites PGO can
// devirtualize and inline. net/http/pprof is served on a separate debug port.
//
//	docs -addr :8080 -debug-addr 127.0.0.1:6060
//	curl 'localhost:8080/transform?n=8'
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux, served on -debug-addr only
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

var version = "devel" // set with -ldflags "-X main.version=..."

func main() {
	addr := flag.String("addr", ":8080", "address of the service")
	debugAddr := flag.String("debug-addr", "", "address of the pprof debug server (e.g. 127.0.0.1:6060); empty: off")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Printf("docs %s\n", version)
		return
	}

	corpus := makeCorpus(64)
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/transform", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 1 || n > 1000 {
			n = 1
		}
		start, _ := strconv.Atoi(r.URL.Query().Get("from"))
		var out buffer
		for i := 0; i < n; i++ {
			transform(corpus[(start+i)%len(corpus)], defaultChain, &out)
		}
		fmt.Fprintf(w, "documents=%d bytes=%d sum=%08x\n", n, len(out.b), out.sum())
	})

	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if *debugAddr != "" {
		go func() {
			log.Printf("pprof on %s", *debugAddr)
			if err := http.ListenAndServe(*debugAddr, http.DefaultServeMux); err != nil {
				log.Printf("debug server: %v", err)
			}
		}()
	}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	log.Printf("docs %s on %s", version, *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
