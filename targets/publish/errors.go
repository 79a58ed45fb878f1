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
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
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
	Timeout            Problem = "timeout"            // the registry did not answer in time
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

// explainer turns registry errors into RegistryErrors.
type explainer struct {
	registry, repo string
	repoKey        string // the configuration key naming the repository, for the sentences
	configured     string // its value
	anonymous      bool   // no credentials were found for the registry
	attempts       int
}

func (x explainer) explain(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s %s: cancelled: %w", op, x.repo, err)
	}
	var re *RegistryError
	if errors.As(err, &re) {
		return err
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
		e.Sentence = fmt.Sprintf("nothing listens at %s (connection refused, %s): is the registry running, and is %s (%s) right?", reg, x.tries(), x.repoKey, x.configured)
	case errors.As(err, &dns):
		e.Problem = UnknownHost
		e.Sentence = fmt.Sprintf("the registry host of %s does not resolve (%v): check %s and the network's DNS", repo, dns.Err, x.repoKey)
	case errors.As(err, &uae), errors.As(err, &hne), errors.As(err, &cve):
		e.Problem = TLSProblem
		e.Sentence = fmt.Sprintf("registry %s presented a certificate this machine does not accept (%v): install its CA in the system trust store, or set image.insecure for a test registry", reg, err)
	case errors.As(err, &rhe):
		e.Problem = TLSProblem
		e.Sentence = fmt.Sprintf("registry %s does not speak TLS: if it is a plain-HTTP registry, set image.insecure (only registries on this machine are reached over HTTP without it)", reg)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		e.Problem = Timeout
		e.Sentence = fmt.Sprintf("registry %s did not answer in time (%s): check that the address in %s is reachable from here", reg, x.tries(), x.repoKey)
	case errors.As(err, &phe):
		e.Problem = PlainHTTPRefused
		e.Sentence = fmt.Sprintf("registry %s could only be reached over plain HTTP, which scratchkit uses only for registries on this machine: set image.insecure if %s may travel unencrypted, or give the registry TLS", reg, repo)
	case errors.As(err, &cre):
		e.Problem = PlainHTTPRefused
		e.Sentence = fmt.Sprintf("registry %s asks for credentials over plain HTTP, and scratchkit never sends them unencrypted to another machine: give the registry TLS (image.insecure also accepts a self-signed certificate)", reg)
	default:
		e.Problem = OtherRegistryError
		e.Sentence = fmt.Sprintf("%s %s at registry %s failed: %v", op, repo, reg, err)
	}
	return e
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
		e.Sentence = fmt.Sprintf("registry %s denied access to %s (%s): the credentials were accepted but may not push there; check the account's permissions and %s", reg, repo, status, x.repoKey)
	case code == string(transport.ManifestUnknownErrorCode) || code == string(transport.BlobUnknownErrorCode):
		e.Problem = NotFound
		e.Sentence = fmt.Sprintf("registry %s does not have %s (%s): check that it was pushed there, and %s", reg, repo, status, x.repoKey)
	case terr.StatusCode == http.StatusNotFound || code == string(transport.NameUnknownErrorCode):
		e.Problem = NotFound
		e.Sentence = fmt.Sprintf("registry %s has no repository %s or is not a registry at that address (%s): check %s", reg, repo, status, x.repoKey)
	case terr.StatusCode >= 500 || terr.StatusCode == http.StatusTooManyRequests:
		e.Problem = ServerError
		e.Sentence = fmt.Sprintf("registry %s kept failing with %s (%s) while receiving %s: check the registry's health and logs, then publish again", reg, status, x.tries(), repo)
	default:
		e.Problem = OtherRegistryError
		e.Sentence = fmt.Sprintf("registry %s rejected %s (%s): %v", reg, repo, status, terr)
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
