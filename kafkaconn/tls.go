package kafkaconn

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"strconv"
	"strings"
)

// tlsConfig sets sec.tls from s and returns the material that identifies it for Key.
//
// Error messages here are our own fixed text: the standard library's parse errors can quote
// bytes of their input (PEM block types, certificate fields), and a private key's bytes must
// never reach a log.
func (s settings) tlsConfig(sec *Security) ([][]byte, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	var material [][]byte
	if s.ca.present {
		pool, err := caPool(s.ca)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
		material = append(material, []byte(KeyCACert), s.ca.value)
	}
	use, err := s.wantClientCertificate(sec.protocol)
	if err != nil {
		return nil, err
	}
	if use {
		cert, err := keyPair(s.cert, s.key)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
		material = append(material, []byte(KeyUserCert), s.cert.value, s.key.value)
	}
	sec.tls = cfg
	return material, nil
}

// wantClientCertificate decides whether the client presents user.crt and user.key. SSL
// requires them unless user.skip is true; SASL_SSL (authenticated by SASL) uses them when both
// are there and otherwise goes without, ignoring user.skip — as the incumbent's data plane does.
func (s settings) wantClientCertificate(p Protocol) (bool, error) {
	if p == SASLSSL {
		return s.cert.present && s.key.present, nil
	}
	if s.skip.present {
		skip, err := strconv.ParseBool(string(s.skip.value))
		if err != nil {
			return false, s.skip.err(ReasonSecretValueInvalid, `must be "true" or "false"`)
		}
		if skip {
			return false, nil
		}
	}
	switch {
	case !s.key.present:
		return false, s.key.err(ReasonSecretKeyMissing,
			"client private key is missing; protocol SSL authenticates with a client certificate (user.crt and user.key)"+s.missingHint)
	case !s.cert.present:
		return false, s.cert.err(ReasonSecretKeyMissing,
			"client certificate is missing; protocol SSL authenticates with a client certificate (user.crt and user.key)"+s.missingHint)
	}
	return true, nil
}

// caPool parses every CERTIFICATE block of f; other blocks and text around them are skipped,
// as x509.CertPool.AppendCertsFromPEM does, but a block that does not parse is an error.
func caPool(f field) (*x509.CertPool, error) {
	certs, err := certificates(f)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

func certificates(f field) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := f.value
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, f.err(ReasonCertificateInvalid, "PEM certificate "+strconv.Itoa(len(certs)+1)+" is not a valid X.509 certificate")
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, f.err(ReasonCertificateInvalid, "no PEM certificate (-----BEGIN CERTIFICATE-----) found")
	}
	return certs, nil
}

// keyPair parses the client certificate chain and its private key and checks they belong
// together. PKCS #1 RSA keys are accepted (Go reads them; the incumbent refuses them only
// because its Java data plane cannot).
func keyPair(certF, keyF field) (tls.Certificate, error) {
	certs, err := certificates(certF)
	if err != nil {
		return tls.Certificate{}, err
	}
	priv, err := privateKey(keyF)
	if err != nil {
		return tls.Certificate{}, err
	}
	pub, ok := certs[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(priv.Public()) {
		return tls.Certificate{}, keyF.err(ReasonPrivateKeyInvalid,
			"private key does not belong to the first certificate of "+certF.key)
	}
	chain := make([][]byte, len(certs))
	for i, c := range certs {
		chain[i] = c.Raw
	}
	return tls.Certificate{Certificate: chain, PrivateKey: priv, Leaf: certs[0]}, nil
}

// privateKey reads the first PEM block whose type ends in "PRIVATE KEY".
func privateKey(f field) (crypto.Signer, error) {
	rest := f.value
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, f.err(ReasonPrivateKeyInvalid, "no PEM private key (-----BEGIN PRIVATE KEY-----) found")
		}
		if b.Type != "PRIVATE KEY" && !strings.HasSuffix(b.Type, " PRIVATE KEY") {
			continue
		}
		if b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "" {
			return nil, f.err(ReasonPrivateKeyInvalid, "encrypted private keys are not supported; store the key unencrypted")
		}
		if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
			switch k := k.(type) {
			case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
				return k.(crypto.Signer), nil
			}
			return nil, f.err(ReasonPrivateKeyInvalid, "unsupported private key type; want RSA, ECDSA or Ed25519")
		}
		if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
			return k, nil
		}
		if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
			return k, nil
		}
		return nil, f.err(ReasonPrivateKeyInvalid, "private key is not valid PKCS #8, PKCS #1 or SEC 1 (EC)")
	}
}
