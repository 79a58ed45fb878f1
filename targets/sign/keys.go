package sign

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/sigstore/cosign/v3/pkg/blob"
	sigs "github.com/sigstore/cosign/v3/pkg/signature"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/scratchkit/scratchkit/targets/sign/keyfile"
)

// Key file names written by GenerateKeyPair, the same as `cosign generate-key-pair`.
const (
	PrivateKeyFile = keyfile.Private
	PublicKeyFile  = keyfile.Public
)

// GenerateKeyPair writes a new ECDSA P-256 key pair to dir in cosign's format: cosign.key, the
// private key encrypted with the password (scrypt + secretbox, mode 0600), and cosign.pub, the
// PEM public key. It refuses to overwrite either file. password nil means an empty password.
// (keyfile.Generate, which the core engine's keygen calls without this package's signing stack.)
func GenerateKeyPair(dir string, password func() ([]byte, error)) (privPath, pubPath string, err error) {
	return keyfile.Generate(dir, password)
}

// loadSigner resolves opts.Key through cosign and turns its errors into ones that say what to do.
// The password is never part of any message.
func loadSigner(ctx context.Context, opts *Options) (signature.SignerVerifier, error) {
	if opts.Key == "" {
		return nil, errors.New("no signing key: set sign.key or COSIGN_KEY (a cosign.key file, env://VAR or a KMS URI), create one with the Keygen target, or enable keyless signing")
	}
	ref := opts.Key
	// Read local files ourselves first, for a message that names the file and the cause.
	if !strings.Contains(ref, "://") {
		if _, err := os.ReadFile(ref); err != nil {
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return nil, fmt.Errorf("signing key %s does not exist: create one with the Keygen target (cosign generate-key-pair) or set sign.key / COSIGN_KEY", ref)
			case errors.Is(err, fs.ErrPermission):
				return nil, fmt.Errorf("signing key %s is not readable by this user: %w", ref, err)
			default:
				return nil, fmt.Errorf("read signing key %s: %w", ref, err)
			}
		}
	}
	pf := func(bool) ([]byte, error) {
		if opts.Password == nil {
			return []byte{}, nil
		}
		p, err := opts.Password()
		if err != nil {
			return nil, fmt.Errorf("key password: %w", err)
		}
		return p, nil
	}
	sv, err := sigs.SignerVerifierFromKeyRef(ctx, ref, pf, nil)
	if err != nil {
		return nil, keyError(ref, err)
	}
	return sv, nil
}

func keyError(ref string, err error) error {
	msg := err.Error()
	var scheme *blob.UnrecognizedSchemeError
	switch {
	case strings.Contains(msg, "decryption failed"):
		return fmt.Errorf("decrypt %s: wrong password (%s)", ref, passwordEnvVariable)
	case strings.Contains(msg, "unsupported pem type: PUBLIC KEY"):
		return fmt.Errorf("signing key %s is a public key: sign with the private key (cosign.key) and verify with the public one", ref)
	case strings.Contains(msg, "invalid pem block"), strings.Contains(msg, "unsupported pem type"):
		return fmt.Errorf("signing key %s is not a cosign private key (want an ENCRYPTED SIGSTORE PRIVATE KEY PEM block, as written by Keygen or cosign generate-key-pair): %w", ref, err)
	case errors.As(err, &scheme):
		return fmt.Errorf("signing key %s: no KMS provider for %s is linked into this build; import its provider in the magefile, e.g. _ \"github.com/sigstore/sigstore/pkg/signature/kms/aws\": %w", ref, scheme.Scheme, err)
	}
	return fmt.Errorf("load signing key %s: %w", ref, err)
}

// loadVerifier resolves a public key reference through cosign.
func loadVerifier(ctx context.Context, ref string) (signature.Verifier, error) {
	if ref == "" {
		return nil, errors.New("no public key: set the path of cosign.pub (or env://VAR, or a KMS URI)")
	}
	if !strings.Contains(ref, "://") {
		if _, err := os.Stat(ref); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("public key %s does not exist", ref)
			}
			return nil, fmt.Errorf("read public key %s: %w", ref, err)
		}
	}
	v, err := sigs.PublicKeyFromKeyRef(ctx, ref)
	if err != nil {
		if strings.Contains(err.Error(), "PEM") || strings.Contains(err.Error(), "pem") {
			return nil, fmt.Errorf("public key %s is not a PEM public key (cosign.pub): %w", ref, err)
		}
		return nil, fmt.Errorf("load public key %s: %w", ref, err)
	}
	return v, nil
}

// checkPair fails when the public key at pubRef does not belong to sv.
func checkPair(ctx context.Context, sv signature.SignerVerifier, keyRef, pubRef string) error {
	v, err := loadVerifier(ctx, pubRef)
	if err != nil {
		return err
	}
	want, err := v.PublicKey()
	if err != nil {
		return fmt.Errorf("public key %s: %w", pubRef, err)
	}
	have, err := sv.PublicKey()
	if err != nil {
		return fmt.Errorf("signing key %s: %w", keyRef, err)
	}
	if err := cryptoutils.EqualKeys(want, have); err != nil {
		return fmt.Errorf("public key %s does not belong to signing key %s: signatures made now would not verify with it; use the cosign.pub generated with this cosign.key", pubRef, keyRef)
	}
	return nil
}

// publicKeyPEM returns the PEM of sv's public key.
func publicKeyPEM(sv signature.Verifier) ([]byte, error) {
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, err
	}
	return cryptoutils.MarshalPublicKeyToPEM(pub)
}
