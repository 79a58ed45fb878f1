package sign

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/sigstore/cosign/v3/pkg/cosign"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// keyless reports whether o verifies keyless signatures: no public key, a signer's identity.
func (o *VerifyOptions) keyless() bool { return o.PublicKey == "" }

// identities is the certificate identity o requires of keyless signatures, for cosign.
func (o *VerifyOptions) identities() ([]cosign.Identity, error) {
	switch {
	case o.Identity == "" && o.IdentityRegexp == "" && o.OIDCIssuer == "" && o.OIDCIssuerRegexp == "":
		return nil, errors.New("no public key and no signer identity: keyless signatures verify by who signed them, set sign.identity (or sign.identity_regexp) and sign.oidc_issuer (or sign.oidc_issuer_regexp); with a key, set sign.pub or put cosign.pub beside the project")
	case o.Identity != "" && o.IdentityRegexp != "":
		return nil, errors.New("both sign.identity and sign.identity_regexp are set: choose one")
	case o.OIDCIssuer != "" && o.OIDCIssuerRegexp != "":
		return nil, errors.New("both sign.oidc_issuer and sign.oidc_issuer_regexp are set: choose one")
	case o.Identity == "" && o.IdentityRegexp == "":
		return nil, errors.New("keyless verification needs the signer's identity too: set sign.identity (or sign.identity_regexp), e.g. https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main")
	case o.OIDCIssuer == "" && o.OIDCIssuerRegexp == "":
		return nil, errors.New("keyless verification needs the OIDC issuer that vouched for the signer too: set sign.oidc_issuer (or sign.oidc_issuer_regexp), e.g. https://token.actions.githubusercontent.com")
	}
	for key, re := range map[string]string{"sign.identity_regexp": o.IdentityRegexp, "sign.oidc_issuer_regexp": o.OIDCIssuerRegexp} {
		if re == "" {
			continue
		}
		if _, err := regexp.Compile(re); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	return []cosign.Identity{{Subject: o.Identity, SubjectRegExp: o.IdentityRegexp, Issuer: o.OIDCIssuer, IssuerRegExp: o.OIDCIssuerRegexp}}, nil
}

// signer names whom o requires a signature of: the public key, or the identity and issuer.
func (o *VerifyOptions) signer() string {
	if !o.keyless() {
		return "public key " + o.PublicKey
	}
	id, iss := o.Identity, o.OIDCIssuer
	if id == "" {
		id = "~" + o.IdentityRegexp
	}
	if iss == "" {
		iss = "~" + o.OIDCIssuerRegexp
	}
	return "identity " + id + " of issuer " + iss
}

// keylessHint says what to check when a keyless bundle did not verify.
func (o *VerifyOptions) keylessHint(err error) string {
	if !o.keyless() {
		return ""
	}
	msg := err.Error()
	where := "Sigstore's public trusted root"
	if o.TrustedRoot != "" {
		where = "the trusted root " + shownRef(o.TrustedRoot)
	}
	switch {
	case strings.Contains(msg, "CertificateIdentity") || strings.Contains(msg, "SAN") || strings.Contains(msg, "issuer"):
		return " (the certificate names another signer than " + o.signer() + ": check sign.identity and sign.oidc_issuer)"
	case strings.Contains(msg, "timestamp"):
		return " (a keyless certificate is valid for minutes: a signature needs trusted time that it was made then, a signed timestamp or a log entry's integrated time; sign with sign.timestamp or a signing config naming a timestamp authority, and give verifiers " + where + " naming it)"
	case strings.Contains(msg, "log") || strings.Contains(msg, "tlog") || strings.Contains(msg, "checkpoint") || strings.Contains(msg, "inclusion"):
		return " (its transparency log entry does not verify against " + where + ")"
	case strings.Contains(msg, "certificate"):
		return " (its certificate does not chain to a certificate authority of " + where + ")"
	}
	return ""
}

// noSCTs reports whether tm names no certificate transparency log: a private Fulcio without
// one issues certificates without SCTs, which cannot be checked then.
func noSCTs(tm root.TrustedMaterial) bool { return len(tm.CTLogs()) == 0 }
