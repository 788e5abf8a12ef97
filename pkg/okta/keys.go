package okta

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ErrPrivateKey is wrapped by every private key error. Messages describe
// the problem but never contain key material.
var ErrPrivateKey = errors.New("unusable private key")

// ToPKCS1PEM accepts an RSA private key as PKCS#1 ("RSA PRIVATE KEY") or
// PKCS#8 ("PRIVATE KEY") PEM and returns it as PKCS#1 PEM, the only form
// okta-sdk-golang v2 accepts. Literal "\n" sequences (keys pasted into a
// single-line field) are expanded first. EC, Ed25519 and encrypted keys
// are refused with a clear error.
func ToPKCS1PEM(in []byte) ([]byte, error) {
	in = bytes.ReplaceAll(bytes.TrimSpace(in), []byte(`\n`), []byte("\n"))
	block, _ := pem.Decode(in)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found (expected -----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)", ErrPrivateKey)
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		if _, encrypted := block.Headers["Proc-Type"]; encrypted {
			return nil, fmt.Errorf("%w: the PEM key is encrypted; provide it unencrypted (protect the file with permissions instead)", ErrPrivateKey)
		}
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: RSA PRIVATE KEY block is not valid PKCS#1: %w", ErrPrivateKey, err)
		}
		key = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: PRIVATE KEY block is not valid PKCS#8: %w", ErrPrivateKey, err)
		}
		switch kk := k.(type) {
		case *rsa.PrivateKey:
			key = kk
		case *ecdsa.PrivateKey:
			return nil, fmt.Errorf("%w: EC keys are not supported (okta-sdk-golang v2 signs client assertions with RS256 only); register an RSA key (2048 bits or more)", ErrPrivateKey)
		case ed25519.PrivateKey:
			return nil, fmt.Errorf("%w: Ed25519 keys are not supported; register an RSA key (2048 bits or more)", ErrPrivateKey)
		default:
			return nil, fmt.Errorf("%w: unsupported PKCS#8 key type %T; use an RSA key", ErrPrivateKey, k)
		}
	case "EC PRIVATE KEY":
		return nil, fmt.Errorf("%w: EC keys are not supported (okta-sdk-golang v2 signs client assertions with RS256 only); register an RSA key (2048 bits or more)", ErrPrivateKey)
	case "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("%w: the PEM key is encrypted; provide it unencrypted (protect the file with permissions instead)", ErrPrivateKey)
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, fmt.Errorf("%w: the PEM block is a %s, not a private key", ErrPrivateKey, block.Type)
	default:
		return nil, fmt.Errorf("%w: unsupported PEM block type %q (expected RSA PRIVATE KEY or PRIVATE KEY)", ErrPrivateKey, block.Type)
	}
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("%w: RSA key fails validation: %w", ErrPrivateKey, err)
	}
	if key.N.BitLen() < 2048 {
		return nil, fmt.Errorf("%w: RSA key has %d bits; Okta requires at least 2048", ErrPrivateKey, key.N.BitLen())
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), nil
}
