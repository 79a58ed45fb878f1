package publish

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/scratchkit/scratchkit/internal/redact"
	"github.com/scratchkit/scratchkit/internal/regtransport"
)

// Problem classifies a registry failure.
type Problem string

// The registry failures RegistryError tells apart.
const (
	NoCredentials      Problem = "no-credentials"     // the registry wants credentials; none are configured for it
	BadCredentials     Problem = "bad-credentials"    // the registry refused the credentials
	Denied             Problem = "denied"             // authenticated, but not allowed to push there
	NotFound           Problem = "not-found"          // no such repository, or not a registry
	ServerError        Problem = "server-error"       // 5xx (or 429) after the retries
	ConnectionRefused  Problem = "connection-refused" // nothing listens at the address
	UnknownHost        Problem = "unknown-host"       // the host name does not resolve
	TLSProblem         Problem = "tls"                // TLS failed: plain-HTTP registry or untrusted certificate
	PlainHTTPRefused   Problem = "plain-http"         // plain HTTP to a non-local registry without insecure
	Timeout            Problem = "timeout"            // the registry did not answer, or a request did not complete, in time
	ConnectionDropped  Problem = "connection-dropped" // the connection closed or reset in the middle of a request
	OtherRegistryError Problem = "other"              // anything else the registry said
)

// RegistryError is a failed registry operation, explained in one sentence that names the
// registry and what to check. Unwrap gives the underlying error.
type RegistryError struct {
	Problem  Problem
	Registry string // host[:port]
	Repo     string // the repository the operation addressed
	Sentence string
	Err      error
}

func (e *RegistryError) Error() string { return e.Sentence }
func (e *RegistryError) Unwrap() error { return e.Err }

// TagError is an image that was pushed but whose tags could not all be moved to it; the tags
// moved were put back where possible (see RegistryPublisher.Publish). It says where every tag
// points now.
type TagError struct {
	Image  string  // what was pushed: <repo>/<name>@sha256:…
	New    v1.Hash // its digest
	Failed string  // the tag that could not be pushed, or read
	// Reading: where Failed points could not be read, so no tag was moved (it could not have
	// been put back).
	Reading bool
	// Probing: the registry refused a write of Failed's own manifest back to it, before any tag
	// moved, so none was moved.
	Probing bool
	Tags    []TagState // every tag, in the order given; empty with Reading or Probing
	Err     error      // why Failed failed, explained (a *RegistryError)
}

// TagState is where one tag pointed before a failed tagging and where it points after.
type TagState struct {
	Tag         string
	Before, Now *v1.Hash // nil: no such tag
	Moved       bool     // it was moved to the new image during the attempt
	Restore     error    // why putting it back failed
	Unread      error    // why reading it afterwards failed (Now is unknown)
}

func (e *TagError) Error() string {
	if e.Reading {
		return fmt.Sprintf("pushed %s, but could not read where tag %s points, so no tag was moved (it could not have been put back): %v", e.Image, e.Failed, e.Err)
	}
	if e.Probing {
		return fmt.Sprintf("pushed %s, but the registry refuses writes to tag %s (an immutable tag, or one this account may not move?), so no tag was moved: %v", e.Image, e.Failed, e.Err)
	}
	var states, stuck []string
	for _, s := range e.Tags {
		states = append(states, s.describe(e.New))
		if s.Before == nil && s.Now != nil && *s.Now == e.New {
			stuck = append(stuck, s.Tag)
		}
	}
	msg := fmt.Sprintf("pushed %s, but tag %s failed: %v. The tags now: %s", e.Image, e.Failed, e.Err, strings.Join(states, "; "))
	if len(stuck) > 0 {
		msg += fmt.Sprintf(". The registry API cannot remove a tag alone (deleting by digest would delete the image): publish again to move every tag, or delete %s in the registry's own interface", strings.Join(stuck, ", "))
	}
	return msg
}

func (e *TagError) Unwrap() error { return e.Err }

func (s TagState) describe(pushed v1.Hash) string {
	switch {
	case s.Unread != nil:
		return fmt.Sprintf("%s: unknown (%v)", s.Tag, s.Unread)
	case s.Now == nil && s.Before == nil:
		return s.Tag + ": not created"
	case s.Now == nil:
		return fmt.Sprintf("%s: gone (was at %s)", s.Tag, s.Before)
	case s.Before == nil && *s.Now == pushed:
		return fmt.Sprintf("%s: new, now at %s", s.Tag, s.Now)
	case s.Before != nil && *s.Now == *s.Before && s.Moved:
		return fmt.Sprintf("%s: back at %s", s.Tag, s.Now)
	case s.Before != nil && *s.Now == *s.Before:
		return fmt.Sprintf("%s: still at %s", s.Tag, s.Now)
	case s.Restore != nil:
		return fmt.Sprintf("%s: now at %s, was at %s; putting it back failed: %v", s.Tag, s.Now, s.Before, s.Restore)
	}
	return fmt.Sprintf("%s: now at %s", s.Tag, s.Now)
}

// explainer turns registry errors into RegistryErrors.
type explainer struct {
	registry, repo string
	keys           Keys   // the caller's names of the settings, for the advice
	configured     string // its value
	anonymous      bool   // no credentials were found for the registry
	attempts       int
	blobs          map[v1.Hash]int64 // the blobs being pushed, to name the one an upload was sending
}

func (x explainer) explain(op string, err error) error {
	if err == nil {
		return nil
	}
	var re *RegistryError
	if errors.As(err, &re) {
		return err
	}
	// The one place registry errors are made fit to print: an upload URL's query holds the
	// upload's state token (_state=…), which never reaches a message.
	err = redact.Error(err)
	var rte *regtransport.Error
	if errors.As(err, &rte) {
		return x.requestError(rte, err)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s %s: cancelled: %w", op, x.repo, err)
	}
	e := &RegistryError{Registry: x.registry, Repo: x.repo, Err: err}
	reg, repo := x.registry, x.repo
	var terr *transport.Error
	var phe *regtransport.PlainHTTPError
	var cre *regtransport.CredentialsError
	var dns *net.DNSError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cve *tls.CertificateVerificationError
	var rhe tls.RecordHeaderError
	var nerr net.Error
	switch {
	case errors.As(err, &terr):
		x.transportError(e, terr)
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Problem = ConnectionRefused
		e.Sentence = fmt.Sprintf("nothing listens at %s (connection refused, %s): is the registry running, and is %s (%s) right?", reg, x.tries(), x.keys.Repo, x.configured)
	case errors.As(err, &dns):
		e.Problem = UnknownHost
		e.Sentence = fmt.Sprintf("the registry host of %s does not resolve (%v): check %s and the network's DNS", repo, dns.Err, x.keys.Repo)
	case errors.As(err, &uae), errors.As(err, &hne), errors.As(err, &cve):
		e.Problem = TLSProblem
		e.Sentence = fmt.Sprintf("registry %s presented a certificate this machine does not accept (%v): install its CA in the system trust store, or set %s for a test registry", reg, err, x.keys.Insecure)
	case errors.As(err, &rhe):
		e.Problem = TLSProblem
		e.Sentence = fmt.Sprintf("registry %s does not speak TLS: if it is a plain-HTTP registry, set %s (only registries on this machine are reached over HTTP without it)", reg, x.keys.Insecure)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		e.Problem = Timeout
		e.Sentence = fmt.Sprintf("registry %s did not answer in time (%s): check that the address in %s is reachable from here", reg, x.tries(), x.keys.Repo)
	case errors.As(err, &phe):
		e.Problem = PlainHTTPRefused
		e.Sentence = fmt.Sprintf("registry %s could only be reached over plain HTTP, which scratchkit uses only for registries on this machine: set %s if %s may travel unencrypted, or give the registry TLS", reg, x.keys.Insecure, repo)
	case errors.As(err, &cre):
		e.Problem = PlainHTTPRefused
		e.Sentence = fmt.Sprintf("registry %s asks for credentials over plain HTTP, and scratchkit never sends them unencrypted to another machine: give the registry TLS (%s also accepts a self-signed certificate)", reg, x.keys.Insecure)
	default:
		e.Problem = OtherRegistryError
		e.Sentence = fmt.Sprintf("%s %s at registry %s failed: %v", op, repo, reg, err)
	}
	return e
}

// requestError explains a request that timed out or lost its connection, naming the
// registry, the request and, for an upload, the blob and how much of it was sent.
func (x explainer) requestError(rte *regtransport.Error, err error) error {
	e := &RegistryError{Registry: x.registry, Repo: x.repo, Err: err, Problem: Timeout}
	reg := x.registry
	switch rte.Kind {
	case regtransport.NoAnswer:
		e.Sentence = fmt.Sprintf("registry %s did not answer the %s within %s: check the registry's health and logs; if it is only slow, raise %s", reg, rte.Op, regtransport.Human(rte.Limit), x.keys.ResponseTimeout)
	case regtransport.Unfinished:
		e.Sentence = fmt.Sprintf("registry %s did not complete the %s within %s", reg, rte.Op, regtransport.Human(rte.Limit))
		if p := rte.Progress(); p != "" {
			e.Sentence += " (" + p + ")"
		}
		e.Sentence += ": on a slow link, raise " + x.keys.RequestTimeout + "; otherwise check the registry's health and logs"
	default:
		e.Problem = ConnectionDropped
		how := x.tries()
		if p := rte.Progress(); p != "" {
			how = p + ", " + how
		}
		what := "during the " + rte.Op
		if blob := x.uploadedBlob(rte); blob != "" {
			what = "while uploading " + blob
		}
		e.Sentence = fmt.Sprintf("the connection to registry %s dropped %s (%s): check the network and the registry's logs, then publish again", reg, what, how)
	}
	return e
}

// uploadedBlob names the blob an upload request was sending: "blob sha256:…", "a blob of N
// bytes" when its size does not tell, "" when the request was not an upload.
func (x explainer) uploadedBlob(rte *regtransport.Error) string {
	if d, ok := strings.CutPrefix(rte.Op, regtransport.BlobUpload+" of "); ok {
		return "blob " + d
	}
	if rte.Op != regtransport.BlobUpload || rte.Size <= 0 {
		return ""
	}
	var match []v1.Hash
	for h, size := range x.blobs {
		if size == rte.Size {
			match = append(match, h)
		}
	}
	if len(match) == 1 {
		return "blob " + match[0].String()
	}
	return fmt.Sprintf("a blob of %d bytes", rte.Size)
}

func (x explainer) transportError(e *RegistryError, terr *transport.Error) {
	reg, repo := x.registry, x.repo
	code := ""
	for _, d := range terr.Errors {
		if code == "" || d.Code == transport.UnauthorizedErrorCode || d.Code == transport.DeniedErrorCode {
			code = string(d.Code)
		}
	}
	status := fmt.Sprintf("%d %s", terr.StatusCode, http.StatusText(terr.StatusCode))
	if code != "" {
		status += " " + code
	}
	switch {
	case terr.StatusCode == http.StatusUnauthorized || code == string(transport.UnauthorizedErrorCode):
		if x.anonymous {
			e.Problem = NoCredentials
			e.Sentence = fmt.Sprintf("registry %s wants credentials for %s (%s) and the docker config (%s) has none for it: run `docker login %s` or point DOCKER_CONFIG at a config that has them", reg, repo, status, dockerConfigPath(), reg)
		} else {
			e.Problem = BadCredentials
			e.Sentence = fmt.Sprintf("registry %s refused the credentials for %s (%s): check `docker login %s` or the docker config at %s (DOCKER_CONFIG) and its credential helpers", reg, repo, status, reg, dockerConfigPath())
		}
	case terr.StatusCode == http.StatusForbidden || code == string(transport.DeniedErrorCode):
		e.Problem = Denied
		e.Sentence = fmt.Sprintf("registry %s denied access to %s (%s): the credentials were accepted but may not push there; check the account's permissions and %s", reg, repo, status, x.keys.Repo)
	case code == string(transport.ManifestUnknownErrorCode) || code == string(transport.BlobUnknownErrorCode):
		e.Problem = NotFound
		e.Sentence = fmt.Sprintf("registry %s does not have %s (%s): check that it was pushed there, and %s", reg, repo, status, x.keys.Repo)
	case terr.StatusCode == http.StatusNotFound || code == string(transport.NameUnknownErrorCode):
		e.Problem = NotFound
		e.Sentence = fmt.Sprintf("registry %s has no repository %s or is not a registry at that address (%s): check %s", reg, repo, status, x.keys.Repo)
	case terr.StatusCode >= 500 || terr.StatusCode == http.StatusTooManyRequests:
		e.Problem = ServerError
		e.Sentence = fmt.Sprintf("registry %s kept failing with %s (%s) while receiving %s: check the registry's health and logs, then publish again", reg, status, x.tries(), repo)
	default:
		e.Problem = OtherRegistryError
		e.Sentence = fmt.Sprintf("registry %s rejected %s (%s): %s", reg, repo, status, redact.Text(terr.Error()))
	}
}

func (x explainer) tries() string {
	if x.attempts <= 1 {
		return "no retries"
	}
	return fmt.Sprintf("%d attempts per request", x.attempts)
}

// dockerConfigPath is where authn.DefaultKeychain reads credentials from.
func dockerConfigPath() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".docker", "config.json")
	}
	return "~/.docker/config.json"
}
