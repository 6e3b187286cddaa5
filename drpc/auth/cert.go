package auth

import (
	"crypto/x509"
	"fmt"
	"time"
)

// CertificateSuffix is appended to an origin to name its certificate file
// in a keys directory ("agent.crt"), as in the client certificates
// directory of DAOS's server.
const CertificateSuffix = ".crt"

// ParseCertificatePEM decodes an x509 certificate in one PEM block
// ("CERTIFICATE"), as DAOS stores an agent's certificate, and checks that
// its public key is an RSA (MinRSABits..MaxRSABits) or Ed25519 key
// (ErrUnsupportedKey otherwise). Data that is not such a PEM block is
// refused with ErrMalformedKey. It does not look at the validity dates
// (CheckCertificateTime does) nor at who signed it.
func ParseCertificatePEM(b []byte) (*x509.Certificate, error) {
	block, err := decodePEM(b, certificatePEMType)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: not a valid x509 certificate: %w", ErrMalformedKey, err)
	}
	if _, err := publicKeyType(cert.PublicKey); err != nil {
		return nil, fmt.Errorf("certificate for %q: %w", cert.Subject.CommonName, err)
	}
	return cert, nil
}

// CheckCertificateTime returns an error wrapping ErrCertificateNotValid if
// now is outside cert's validity period (NotBefore to NotAfter, both
// included), naming the period.
func CheckCertificateTime(cert *x509.Certificate, now time.Time) error {
	period := fmt.Sprintf("valid from %s to %s", cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	switch {
	case now.Before(cert.NotBefore):
		return fmt.Errorf("%w: the certificate is not valid yet (%s): check this machine's clock, or install a certificate valid now",
			ErrCertificateNotValid, period)
	case now.After(cert.NotAfter):
		return fmt.Errorf("%w: the certificate expired on %s (%s): install a new certificate for this origin",
			ErrCertificateNotValid, cert.NotAfter.UTC().Format(time.RFC3339), period)
	}
	return nil
}
