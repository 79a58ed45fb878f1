// Command hello is a small real service scratchkit builds in its examples and tests: an HTTP
// server with a health check, a time-zone lookup, an outgoing TLS client and net/http/pprof on a
// separate debug port.
package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux, served on -debug-addr only
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"syscall"
	"time"
)

var version = "devel" // set with -ldflags "-X main.version=..."

func main() {
	addr := flag.String("addr", ":8080", "address of the service")
	debugAddr := flag.String("debug-addr", "", "address of the pprof debug server (e.g. 127.0.0.1:6060); empty: off")
	showVersion := flag.Bool("version", false, "print the version and exit")
	check := flag.String("check", "", "run one self-check and exit: tz, roots, user, all")
	flag.Parse()

	if *showVersion {
		fmt.Printf("hello %s\n", version)
		return
	}
	if *check != "" {
		if err := selfCheck(*check); err != nil {
			fmt.Fprintln(os.Stderr, "hello:", err)
			os.Exit(1)
		}
		return
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/time", timeHandler)
	mux.HandleFunc("/fetch", fetchHandler)
	mux.HandleFunc("/work", workHandler)

	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if *debugAddr != "" {
		go func() {
			// http.DefaultServeMux carries net/http/pprof's handlers.
			log.Printf("pprof on %s", *debugAddr)
			if err := http.ListenAndServe(*debugAddr, http.DefaultServeMux); err != nil {
				log.Printf("debug server: %v", err)
			}
		}()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Printf("hello %s listening on %s", version, *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	log.Print("stopped")
}

// timeHandler answers the current time in the zone named by ?tz= (default UTC).
func timeHandler(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("tz")
	if name == "" {
		name = "UTC"
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, time.Now().In(loc).Format(time.RFC3339))
}

// fetchHandler GETs ?url= and reports its status: the outgoing TLS client.
func fetchHandler(w http.ResponseWriter, r *http.Request) {
	target := r.URL.Query().Get("url")
	if target == "" {
		http.Error(w, "missing ?url=", http.StatusBadRequest)
		return
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(target)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	fmt.Fprintln(w, resp.Status)
}

// workHandler burns CPU in a way a profile can see: ?n= rounds of hashing.
func workHandler(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	if n <= 0 {
		n = 2000
	}
	fmt.Fprintln(w, digest(n))
}

func digest(rounds int) string {
	sum := sha256.Sum256([]byte("scratchkit"))
	for i := 0; i < rounds; i++ {
		sum = sha256.Sum256(sum[:])
	}
	return hex.EncodeToString(sum[:8])
}

// selfCheck exercises what a scratch image typically lacks, so a smoke test can run it.
func selfCheck(what string) error {
	checks := map[string]func() error{
		"tz": func() error {
			loc, err := time.LoadLocation("Europe/Berlin")
			if err != nil {
				return err
			}
			fmt.Println("tz:", loc)
			return nil
		},
		"roots": func() error {
			pool, err := x509.SystemCertPool()
			if err != nil {
				return err
			}
			if n := len(pool.Subjects()); n == 0 { //nolint:staticcheck // only counting
				return errors.New("x509: the system root pool is empty (certificate signed by unknown authority would follow)")
			} else {
				fmt.Println("roots:", n)
			}
			return nil
		},
		"user": func() error {
			u, err := user.Current()
			if err != nil {
				return err
			}
			fmt.Printf("user: %s uid=%s home=%s\n", u.Username, u.Uid, u.HomeDir)
			return nil
		},
	}
	if what == "all" {
		for _, name := range []string{"tz", "roots", "user"} {
			if err := checks[name](); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		return nil
	}
	c, ok := checks[what]
	if !ok {
		return fmt.Errorf("unknown check %q (want tz, roots, user or all)", what)
	}
	return c()
}
