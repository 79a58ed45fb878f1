package pgo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scratchkit/scratchkit/internal/defaults"
)

// LoadOptions configures GenerateLoad.
type LoadOptions struct {
	URLs        []string          // requested in turn
	Rate        int               // requests per second over all workers; 0: as fast as Concurrency allows
	Concurrency int               // concurrent requests; 0: 4
	Duration    time.Duration     // 0: until ctx is done
	Timeout     time.Duration     // per request; 0: 10s
	Headers     map[string]string // sent with every request
}

// LoadResult counts what GenerateLoad did.
type LoadResult struct {
	Requests   int64         // requests completed with a 2xx answer
	Errors     int64         // requests that failed or answered non-2xx
	Elapsed    time.Duration // from the first request to the last answer
	FirstError string        // the first failure, for messages
}

// Throughput is completed requests per second.
func (r LoadResult) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// GenerateLoad sends GET requests to the URLs in turn, from Concurrency workers, at Rate requests
// per second (an open schedule: request i is due at start+i/Rate; a worker that falls behind
// sends at once) or as fast as the workers go, until Duration has passed or ctx is done. It
// returns an error only for bad options; failed requests are counted.
func GenerateLoad(ctx context.Context, opts LoadOptions) (LoadResult, error) {
	if len(opts.URLs) == 0 {
		return LoadResult{}, fmt.Errorf("load: no URLs")
	}
	reqs, err := loadRequests(opts)
	if err != nil {
		return LoadResult{}, err
	}
	workers := defaults.Positive(opts.Concurrency, 4)
	timeout := defaults.Positive(opts.Timeout, 10*time.Second)
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Duration)
		defer cancel()
	}
	tr := newTransport()
	tr.MaxIdleConnsPerHost = workers
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: timeout}

	var (
		next     atomic.Int64
		ok, bad  atomic.Int64
		firstErr sync.Once
		first    string
		wg       sync.WaitGroup
	)
	var interval time.Duration
	if opts.Rate > 0 {
		interval = time.Second / time.Duration(opts.Rate)
	}
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if interval > 0 && !waitUntil(ctx, start.Add(time.Duration(i)*interval)) {
					return
				}
				err := get(ctx, client, reqs[int(i)%len(reqs)])
				switch {
				case err == nil:
					ok.Add(1)
				case ctx.Err() != nil:
					return // cut off by the end of the run, not a failure
				default:
					bad.Add(1)
					firstErr.Do(func() { first = err.Error() })
				}
			}
		}()
	}
	wg.Wait()
	return LoadResult{Requests: ok.Load(), Errors: bad.Load(), Elapsed: time.Since(start), FirstError: first}, nil
}

// loadRequests are the requests of the load: a GET of each URL, with the headers.
func loadRequests(opts LoadOptions) ([]*http.Request, error) {
	reqs := make([]*http.Request, len(opts.URLs))
	for i, u := range opts.URLs {
		r, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		for k, v := range opts.Headers {
			r.Header.Set(k, v)
		}
		reqs[i] = r
	}
	return reqs, nil
}

// waitUntil waits until the time a request is due (not at all when it is past) and reports
// whether it came before ctx was done.
func waitUntil(ctx context.Context, due time.Time) bool {
	d := time.Until(due)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	select {
	case <-ctx.Done():
		t.Stop()
		return false
	case <-t.C:
		return true
	}
}

func get(ctx context.Context, client *http.Client, r *http.Request) error {
	resp, err := client.Do(r.WithContext(ctx))
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s", r.URL, resp.Status)
	}
	return err
}
