// Package keyfile writes cosign's key files. It imports no signing stack (cosign, sigstore), so
// that keygen and what only needs the key files' names run in the core engine.
package keyfile

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"

	"github.com/scratchkit/scratchkit/internal/atomicfile"
)

// Key file names, the same as `cosign generate-key-pair` writes.
const (
	Private = "cosign.key"
	Public  = "cosign.pub"
)

// PasswordEnv holds the password of a cosign key, as the cosign CLI reads it off a terminal.
const PasswordEnv = "COSIGN_PASSWORD"

// PasswordFromEnv reads COSIGN_PASSWORD. An unset variable is an error; set it to the empty
// string for a key without password.
func PasswordFromEnv() ([]byte, error) {
	p, ok := os.LookupEnv(PasswordEnv)
	if !ok {
		return nil, errors.New("COSIGN_PASSWORD is not set: set it to the password of the cosign key (empty for a key without password)")
	}
	return []byte(p), nil
}

// PrivatePEMType is the PEM type of an encrypted private key that cosign v2 and later write and
// read ("ENCRYPTED COSIGN PRIVATE KEY" is the older one, still read).
const PrivatePEMType = "ENCRYPTED SIGSTORE PRIVATE KEY"

// Generate writes a new ECDSA P-256 key pair to dir in cosign's format, as `cosign
// generate-key-pair` does: cosign.key, the PKCS #8 private key encrypted with the password
// (scrypt and NaCl secretbox, the encrypted format cosign reads, mode 0600), and cosign.pub, the
// PEM public key. It refuses to overwrite either file and never leaves half a pair. password nil
// means an empty password.
func Generate(dir string, password func() ([]byte, error)) (privPath, pubPath string, err error) {
	privPath, pubPath = filepath.Join(dir, Private), filepath.Join(dir, Public)
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fmt.Errorf("generate key pair: %s already exists; refusing to overwrite a key (move it away first if you really mean to replace it)", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", "", fmt.Errorf("generate key pair: %w", err)
		}
	}
	pass := []byte{}
	if password != nil {
		if pass, err = password(); err != nil {
			return "", "", fmt.Errorf("generate key pair: key password: %w", err)
		}
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generate key pair: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", "", fmt.Errorf("generate key pair: %w", err)
	}
	enc, err := encrypted.Encrypt(der, pass)
	if err != nil {
		return "", "", fmt.Errorf("generate key pair: encrypt the private key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return "", "", fmt.Errorf("generate key pair: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("generate key pair: %w", err)
	}
	if err := atomicfile.WriteNew(privPath, pem.EncodeToMemory(&pem.Block{Type: PrivatePEMType, Bytes: enc}), 0o600); err != nil {
		return "", "", fmt.Errorf("generate key pair: %w", err)
	}
	if err := atomicfile.WriteNew(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		_ = os.Remove(privPath) // ours: created a moment ago; never leave half a pair
		return "", "", fmt.Errorf("generate key pair: %w", err)
	}
	return privPath, pubPath, nil
}
