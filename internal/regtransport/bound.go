package regtransport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/scratchkit/scratchkit/internal/defaults"
)

// The default bounds of one registry request.
const (
	// DefaultResponseTimeout is how long a registry has to start answering a request once it
	// is sent: a healthy registry answers in well under a second, one committing a large
	// upload in seconds.
	DefaultResponseTimeout = 60 * time.Second
	// DefaultRequestTimeout bounds a whole request, body and answer included: a 1 GB layer
	// still fits at 5 Mbit/s.
	DefaultRequestTimeout = 30 * time.Minute
)

// Timeouts bound each request to a registry. A zero field takes its default.
type Timeouts struct {
	// Response is how long the registry has to answer once the request is sent: for an
	// upload, the clock starts when its last byte is handed to the connection, so a large
	// upload over a slow link is never cut short by it.
	Response time.Duration
	// Request bounds the whole request, from its start to the last byte of its answer's body.
	// It is a hard bound: it also ends an upload or a download still making progress.
	Request time.Duration
}

func (t Timeouts) orDefaults() Timeouts {
	t.Response, t.Request = defaults.Positive(t.Response, DefaultResponseTimeout), defaults.Positive(t.Request, DefaultRequestTimeout)
	return t
}

// Option configures New.
type Option func(*options)

type options struct{ timeouts Timeouts }

// WithTimeouts sets the bounds of each request (see Timeouts); without it, the defaults apply.
func WithTimeouts(t Timeouts) Option { return func(o *options) { o.timeouts = t } }

// Kind is what went wrong with a request an Error reports.
type Kind string

// The request failures an Error tells apart.
const (
	NoAnswer   Kind = "no-answer"  // the registry did not answer within Timeouts.Response
	Unfinished Kind = "unfinished" // the request did not complete within Timeouts.Request
	Dropped    Kind = "dropped"    // the connection closed or reset before the request completed
)

// Error is one registry request that timed out or lost its connection. Its message names the
// registry and the operation, never the request's URL: an upload URL carries the session's
// state token in its query.
type Error struct {
	Kind  Kind
	Host  string        // the registry, host[:port]
	Op    string        // what the request was for, e.g. "blob upload" or "manifest push for tag v1"
	Limit time.Duration // the bound that was reached (NoAnswer, Unfinished)
	// Sent is how many bytes of the request's body were handed to the connection, of Size
	// (0: the request has no body; -1: its length was not known).
	Sent, Size int64
	// Err is what the HTTP transport reported for a dropped connection, and
	// context.DeadlineExceeded for a bound that was reached.
	Err error
}

func (e *Error) Error() string {
	var s string
	switch e.Kind {
	case NoAnswer:
		s = fmt.Sprintf("registry %s did not answer the %s within %s", e.Host, e.Op, Human(e.Limit))
	case Unfinished:
		s = fmt.Sprintf("registry %s did not complete the %s within %s", e.Host, e.Op, Human(e.Limit))
	default:
		s = fmt.Sprintf("the connection to registry %s dropped during the %s", e.Host, e.Op)
	}
	if p := e.Progress(); p != "" && e.Kind != NoAnswer {
		s += " (" + p + ")"
	}
	if e.Kind == Dropped && e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Progress says how much of the request's body was sent, e.g. "65536 of 4194304 bytes sent";
// "" for a request without a body.
func (e *Error) Progress() string {
	switch {
	case e.Size > 0:
		return fmt.Sprintf("%d of %d bytes sent", e.Sent, e.Size)
	case e.Size < 0 && e.Sent > 0:
		return fmt.Sprintf("%d bytes sent", e.Sent)
	}
	return ""
}

// Unwrap gives the transport's error.
func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether a bound was reached.
func (e *Error) Timeout() bool { return e.Kind != Dropped }

// Temporary tells go-containerregistry's default retry predicate whether to try again: never
// after a bound was reached (each attempt would wait as long again), and after a dropped
// connection when the transport's own error says so.
func (e *Error) Temporary() bool {
	if e.Timeout() {
		return false
	}
	var t interface{ Temporary() bool }
	return errors.As(e.Err, &t) && t.Temporary()
}

// Human writes a duration the way a person would: 1.5s, 60s, 30m, 1h30m.
func Human(d time.Duration) string {
	switch {
	case d >= 2*time.Minute && d%time.Minute == 0:
		h, m := d/time.Hour, d%time.Hour/time.Minute
		s := ""
		if h > 0 {
			s = fmt.Sprintf("%dh", h)
		}
		if m > 0 || h == 0 {
			s += fmt.Sprintf("%dm", m)
		}
		return s
	case d >= time.Second && d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// bounded applies Timeouts to every request and reports timeouts and dropped connections as
// Errors.
type bounded struct {
	next http.RoundTripper
	t    Timeouts
}

func (b *bounded) RoundTrip(req *http.Request) (*http.Response, error) {
	hasBody := req.Body != nil && req.Body != http.NoBody
	var size int64 // 0: no body; -1: unknown length
	if hasBody {
		size = req.ContentLength
		if size == 0 {
			size = -1
		}
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	r := &request{host: req.URL.Host, op: Operation(req), size: size, cancel: cancel}
	r.overall = time.AfterFunc(b.t.Request, func() { cancel(r.failure(Unfinished, b.t.Request)) })
	startAnswerClock := func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.answer == nil && !r.answered {
			r.answer = time.AfterFunc(b.t.Response, func() { cancel(r.failure(NoAnswer, b.t.Response)) })
		}
	}
	out := req.Clone(ctx)
	if hasBody {
		out.Body = &sentBody{rc: req.Body, sent: &r.sent, done: startAnswerClock}
		if req.GetBody != nil {
			out.GetBody = func() (io.ReadCloser, error) {
				rc, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.sent.Store(0)
				return &sentBody{rc: rc, sent: &r.sent, done: startAnswerClock}, nil
			}
		}
	} else {
		startAnswerClock()
	}
	resp, err := b.next.RoundTrip(out)
	r.mu.Lock()
	r.answered = true
	late := r.answer != nil && !r.answer.Stop()
	r.mu.Unlock()
	if late && err == nil {
		// The answer came as the clock ran out: the request's context is being cancelled,
		// so its body could not be read. It timed out.
		resp.Body.Close()
		err = r.failure(NoAnswer, b.t.Response)
	}
	if err != nil {
		err = r.explain(ctx, err)
		r.finish()
		return nil, err
	}
	resp.Body = &answerBody{rc: resp.Body, r: r, ctx: ctx}
	return resp, nil
}

// request is the state of one bounded request.
type request struct {
	host, op   string
	size       int64 // set before the timers start, read-only after
	sent       atomic.Int64
	cancel     context.CancelCauseFunc
	overall    *time.Timer
	mu         sync.Mutex
	answer     *time.Timer
	answered   bool
	finishOnce sync.Once
}

func (r *request) failure(k Kind, limit time.Duration) *Error {
	return &Error{Kind: k, Host: r.host, Op: r.op, Limit: limit, Size: r.size}
}

func (r *request) finish() {
	r.finishOnce.Do(func() {
		r.overall.Stop()
		r.cancel(nil)
	})
}

// explain turns err into an Error when a bound of this request was reached or its connection
// dropped; other errors (refused connections, TLS, a cancelled context) pass unchanged.
func (r *request) explain(ctx context.Context, err error) error {
	var e *Error
	switch {
	case errors.As(context.Cause(ctx), &e):
		// A bound was reached: the transport returns the cause itself, or an error of its own.
	case errors.As(err, &e) && e.Err == nil:
		// r.failure's, for an answer that came too late.
	case errors.As(err, &e) || ctx.Err() != nil || !droppedConnection(err):
		return err
	default:
		d := r.failure(Dropped, 0)
		d.Sent, d.Err = r.sent.Load(), err
		return d
	}
	c := *e
	c.Sent, c.Err = r.sent.Load(), context.DeadlineExceeded
	return &c
}

// droppedConnection reports whether err says the connection closed or reset under a request.
func droppedConnection(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, net.ErrClosed)
}

// sentBody counts the bytes of a request body the transport takes, and starts the answer clock
// once it has taken them all.
type sentBody struct {
	rc   io.ReadCloser
	sent *atomic.Int64
	done func()
}

func (s *sentBody) Read(p []byte) (int, error) {
	n, err := s.rc.Read(p)
	s.sent.Add(int64(n))
	if err == io.EOF {
		s.done()
	}
	return n, err
}

func (s *sentBody) Close() error {
	s.done()
	return s.rc.Close()
}

// answerBody keeps the request's overall bound running while its answer is read, and ends the
// request when it is closed.
type answerBody struct {
	rc  io.ReadCloser
	r   *request
	ctx context.Context
}

func (a *answerBody) Read(p []byte) (int, error) {
	n, err := a.rc.Read(p)
	if err != nil && err != io.EOF {
		err = a.r.explain(a.ctx, err)
	}
	return n, err
}

func (a *answerBody) Close() error {
	err := a.rc.Close()
	a.r.finish()
	return err
}

// BlobUpload is the Operation of the requests that open and send a blob upload.
const BlobUpload = "blob upload"

// Operation names what a registry request is for, in the words of the distribution API: "blob
// upload", "blob check of sha256:…", "manifest push for tag v1", "token request".
func Operation(req *http.Request) string {
	p := req.URL.Path
	q := req.URL.Query()
	i := strings.Index(p, "/v2/")
	if i < 0 || q.Has("scope") || q.Has("service") {
		return "token request"
	}
	p = p[i+len("/v2/"):]
	last := p[strings.LastIndex(p, "/")+1:]
	switch {
	case p == "":
		return "API version check"
	case strings.Contains(p, "/blobs/uploads/"):
		switch {
		case req.Method == http.MethodPost && q.Get("mount") != "":
			return "blob mount of " + q.Get("mount")
		case req.Method == http.MethodPut && q.Get("digest") != "":
			return BlobUpload + " of " + q.Get("digest")
		case req.Method == http.MethodGet:
			return "blob upload status check"
		case req.Method == http.MethodDelete:
			return "blob upload cancel"
		}
		return BlobUpload
	case strings.Contains(p, "/blobs/"):
		switch req.Method {
		case http.MethodHead:
			return "blob check of " + last
		case http.MethodDelete:
			return "blob delete of " + last
		}
		return "blob download of " + last
	case strings.Contains(p, "/manifests/"):
		ref := last
		if !strings.Contains(ref, ":") {
			ref = "tag " + ref
		}
		switch req.Method {
		case http.MethodPut:
			return "manifest push for " + ref
		case http.MethodDelete:
			return "manifest delete of " + ref
		case http.MethodHead:
			return "manifest check of " + ref
		}
		return "manifest read of " + ref
	case strings.HasSuffix(p, "/tags/list"):
		return "tag list"
	case strings.Contains(p, "/referrers/"):
		return "referrers lookup of " + last
	case p == "_catalog":
		return "catalog read"
	}
	return req.Method + " request"
}
