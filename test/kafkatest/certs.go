package kafkatest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// CA is a certificate authority made for tests with crypto/x509: it signs the certificates of a
// secured test broker and of its clients. Its key lives only in memory.
type CA struct {
	// CertPEM is the CA's certificate, PEM-encoded: what a Secret's ca.crt holds.
	CertPEM []byte
	cert    *x509.Certificate
	key     crypto.Signer
}

// Leaf is a certificate a CA issued, and its private key, both PEM-encoded as a Kafka auth
// Secret's user.crt and user.key hold them (and as Kafka's PEM keystores read them).
type Leaf struct {
	// CertPEM is the certificate alone (the CA's is not appended).
	CertPEM []byte
	// KeyPEM is the unencrypted private key in PKCS #8 ("PRIVATE KEY").
	KeyPEM []byte
}

// certLifetime is how long the test certificates are valid; they start an hour in the past so
// that a clock a little behind does not reject them.
const certLifetime = 7 * 24 * time.Hour

// NewCA makes a self-signed CA named name with an ECDSA P-256 key.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the key of CA %s: %w", name, err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"knkafka tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(certLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating CA %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing CA %s: %w", name, err)
	}
	return &CA{CertPEM: pemBlock("CERTIFICATE", der), cert: cert, key: key}, nil
}

// Server issues a server certificate for hosts: IP addresses go into the IP SANs, anything
// else into the DNS SANs. The first host is also the common name.
func (ca *CA) Server(hosts ...string) (Leaf, error) {
	if len(hosts) == 0 {
		return Leaf{}, fmt.Errorf("a server certificate needs at least one host")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0]},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.issue(tmpl)
}

// Client issues a client certificate whose common name is name; Kafka's default principal
// builder makes it the principal User:CN=name.
func (ca *CA) Client(name string) (Leaf, error) {
	return ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

func (ca *CA) issue(tmpl *x509.Certificate) (Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Leaf{}, fmt.Errorf("generating the key of %s: %w", tmpl.Subject.CommonName, err)
	}
	if tmpl.SerialNumber, err = serialNumber(); err != nil {
		return Leaf{}, err
	}
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(certLifetime)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return Leaf{}, fmt.Errorf("issuing %s: %w", tmpl.Subject.CommonName, err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Leaf{}, fmt.Errorf("encoding the key of %s: %w", tmpl.Subject.CommonName, err)
	}
	return Leaf{CertPEM: pemBlock("CERTIFICATE", der), KeyPEM: pemBlock("PRIVATE KEY", pkcs8)}, nil
}

// serialNumber is a random 128-bit serial, so that no two test certificates share one.
func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generating a serial number: %w", err)
	}
	return n, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
