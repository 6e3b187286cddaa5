package tlsconfig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ErrExists: a file gen-certs would write exists, and force is off.
var ErrExists = errors.New("file exists")

// Modes of the files GenerateFiles writes.
const (
	// KeyMode: private keys are read by their owner only.
	KeyMode = 0o400
	// CertMode: certificates are public, and only their owner may change
	// them.
	CertMode = 0o644
	// DirMode: the certificate directory and client_cert_dir.
	DirMode = 0o755
)

// Authority is a certificate authority that issues certificates: the CA of
// a test or small installation.
type Authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// NewAuthority makes a CA with a new ECDSA P-256 key, valid from notBefore
// to notAfter.
func NewAuthority(commonName string, notBefore, notAfter time.Time) (*Authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"drpc"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(key.Public()),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	return &Authority{cert: cert, key: key}, nil
}

// LoadAuthority reads a CA's certificate and private key (as GenerateFiles
// writes them), to issue more certificates with it.
func LoadAuthority(certPath, keyPath string) (*Authority, error) {
	b, err := readCert(certPath)
	if err != nil {
		return nil, err
	}
	certs, err := parseCerts(certPath, b)
	if err != nil {
		return nil, err
	}
	kb, err := readKey(keyPath)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(kb)
	if block == nil {
		return nil, fmt.Errorf("%w: %s holds no PEM key", ErrBadFile, keyPath)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadFile, keyPath, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok || !certs[0].IsCA {
		return nil, fmt.Errorf("%w: %s and %s are not a CA's certificate and key", ErrBadFile, certPath, keyPath)
	}
	return &Authority{cert: certs[0], key: signer}, nil
}

// Certificate returns the CA's certificate.
func (a *Authority) Certificate() *x509.Certificate { return a.cert }

// CertPEM returns the CA's certificate in PEM.
func (a *Authority) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.cert.Raw})
}

// KeyPEM returns the CA's private key in PKCS#8 PEM.
func (a *Authority) KeyPEM() ([]byte, error) { return keyPEM(a.key) }

// Leaf describes a certificate to issue.
type Leaf struct {
	// CommonName names the holder: the agent's name, by which
	// client_cert_dir finds its file.
	CommonName string
	// DNSNames and IPAddresses are the names a server is dialled by.
	DNSNames    []string
	IPAddresses []net.IP
	// Server and Client say what the certificate may be used for (TLS
	// server and client authentication).
	Server, Client bool
	// NotBefore and NotAfter bound the validity.
	NotBefore, NotAfter time.Time
}

// Issue makes a new ECDSA P-256 key and a certificate for it signed by the
// CA, both in PEM (the key in PKCS#8).
func (a *Authority) Issue(l Leaf) (certPEM, keyPEMBytes []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("key of %s: %w", l.CommonName, err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial,
		Subject:        pkix.Name{CommonName: l.CommonName, Organization: []string{"drpc"}},
		NotBefore:      l.NotBefore,
		NotAfter:       l.NotAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		DNSNames:       l.DNSNames,
		IPAddresses:    l.IPAddresses,
		SubjectKeyId:   keyID(key.Public()),
		AuthorityKeyId: a.cert.SubjectKeyId,
	}
	if l.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if l.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate of %s: %w", l.CommonName, err)
	}
	kp, err := keyPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), kp, nil
}

func keyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func keyID(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(der)
	return sum[:20]
}

// GenerateOptions say what GenerateFiles makes.
type GenerateOptions struct {
	// Dir is the directory to write to (created with DirMode if missing).
	Dir string
	// Agents names the agents to make client certificates for; empty means
	// one, "agent".
	Agents []string
	// ServerNames are extra names or IP addresses the server is dialled
	// by, besides localhost, 127.0.0.1, ::1 and the host name.
	ServerNames []string
	// Validity is how long the certificates are valid; 0 means a year.
	Validity time.Duration
	// Force replaces existing files (and makes a new CA); without it,
	// existing files are kept (see GenerateFiles).
	Force bool
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

// File is a file GenerateFiles wrote, or kept.
type File struct {
	// Path is the file's path.
	Path string
	// Mode is its mode.
	Mode fs.FileMode
	// Kept is true for a file that existed and was left as it was.
	Kept bool
	// What says what it is, e.g. "CA certificate".
	What string
}

// GenerateFiles makes a CA and certificates in Dir, as DAOS lays them out:
//
//	daosCA.crt, daosCA.key     the CA (the key is needed only to issue more)
//	server.crt, server.key     the server's (SANs: localhost, 127.0.0.1, ::1,
//	                           the host name and ServerNames)
//	<agent>.crt, <agent>.key   each agent's client certificate (CN <agent>)
//	clients/<agent>.crt        a copy, for the server's client_cert_dir
//
// Keys get mode 0400, certificates 0644. A file that exists is kept, so
// that running it again with a new --agent adds that agent's certificate
// with the same CA; a new CA with old certificates next to it is refused.
// With Force every file is made again. Each file is written to a temporary
// file and renamed into place.
func GenerateFiles(opts GenerateOptions) ([]File, error) {
	if opts.Dir == "" {
		return nil, errors.New("gen-certs: no output directory given")
	}
	agents := opts.Agents
	if len(agents) == 0 {
		agents = []string{"agent"}
	}
	for _, a := range agents {
		if a == "" || a == "." || a == ".." || a == "server" || a == "daosCA" || strings.ContainsAny(a, "/\x00") {
			return nil, fmt.Errorf("gen-certs: agent name %q cannot name a certificate file: use a plain name such as node1", a)
		}
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	validity := opts.Validity
	if validity <= 0 {
		validity = 365 * 24 * time.Hour
	}
	notBefore := now().Add(-time.Hour).Truncate(time.Second) // tolerate clocks a little behind
	notAfter := notBefore.Add(validity)

	dir := opts.Dir
	clients := filepath.Join(dir, ClientsDirName)
	for _, d := range []string{dir, clients} {
		if err := os.MkdirAll(d, DirMode); err != nil {
			return nil, fmt.Errorf("gen-certs: %w", err)
		}
	}
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }

	var out []File
	caCert, caKey := filepath.Join(dir, CACertName), filepath.Join(dir, CAKeyName)
	var ca *Authority
	var err error
	if !opts.Force && exists(caCert) && exists(caKey) {
		if ca, err = LoadAuthority(caCert, caKey); err != nil {
			return nil, fmt.Errorf("gen-certs: the existing CA cannot be used (pass --force to make a new one): %w", err)
		}
		out = append(out, File{Path: caCert, Mode: CertMode, Kept: true, What: "CA certificate"}, File{Path: caKey, Mode: KeyMode, Kept: true, What: "CA key"})
	} else {
		if !opts.Force {
			for _, p := range []string{caCert, caKey} {
				if exists(p) {
					return nil, fmt.Errorf("gen-certs: %w: %s exists without its pair: remove it, or pass --force to make a new CA", ErrExists, p)
				}
			}
		}
		if ca, err = NewAuthority("drpc CA", notBefore, notAfter.Add(24*time.Hour)); err != nil {
			return nil, fmt.Errorf("gen-certs: %w", err)
		}
	}

	type job struct {
		leaf      Leaf
		cert, key string
		copyTo    string
		what      string
	}
	host, _ := os.Hostname()
	dnsNames := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	for _, n := range append([]string{host}, opts.ServerNames...) {
		if n == "" {
			continue
		}
		if ip := net.ParseIP(n); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
		} else if !slices.Contains(dnsNames, n) {
			dnsNames = append(dnsNames, n)
		}
	}
	jobs := []job{{
		leaf: Leaf{CommonName: "server", DNSNames: dnsNames, IPAddresses: ips, Server: true, NotBefore: notBefore, NotAfter: notAfter},
		cert: filepath.Join(dir, "server.crt"), key: filepath.Join(dir, "server.key"), what: "server",
	}}
	for _, a := range agents {
		jobs = append(jobs, job{
			leaf: Leaf{CommonName: a, DNSNames: []string{a}, Client: true, NotBefore: notBefore, NotAfter: notAfter},
			cert: filepath.Join(dir, a+".crt"), key: filepath.Join(dir, a+".key"), copyTo: filepath.Join(clients, a+".crt"), what: "agent " + a,
		})
	}
	newCA := len(out) == 0
	if newCA && !opts.Force {
		for _, j := range jobs {
			for _, p := range []string{j.cert, j.key, j.copyTo} {
				if p != "" && exists(p) {
					return nil, fmt.Errorf("gen-certs: %w: %s was signed by another CA than the new one: remove it, or pass --force to make everything again", ErrExists, p)
				}
			}
		}
	}
	if newCA {
		keyB, err := ca.KeyPEM()
		if err != nil {
			return nil, fmt.Errorf("gen-certs: %w", err)
		}
		if err := writeFile(caKey, keyB, KeyMode); err != nil {
			return nil, err
		}
		if err := writeFile(caCert, ca.CertPEM(), CertMode); err != nil {
			return nil, err
		}
		out = append(out, File{Path: caCert, Mode: CertMode, What: "CA certificate"}, File{Path: caKey, Mode: KeyMode, What: "CA key"})
	}
	for _, j := range jobs {
		if !opts.Force && exists(j.cert) && exists(j.key) {
			out = append(out, File{Path: j.cert, Mode: CertMode, Kept: true, What: j.what + " certificate"}, File{Path: j.key, Mode: KeyMode, Kept: true, What: j.what + " key"})
			if j.copyTo != "" && !exists(j.copyTo) {
				b, err := readCert(j.cert)
				if err != nil {
					return nil, fmt.Errorf("gen-certs: %w", err)
				}
				if err := writeFile(j.copyTo, b, CertMode); err != nil {
					return nil, err
				}
				out = append(out, File{Path: j.copyTo, Mode: CertMode, What: j.what + " certificate, for client_cert_dir"})
			}
			continue
		}
		certB, keyB, err := ca.Issue(j.leaf)
		if err != nil {
			return nil, fmt.Errorf("gen-certs: %w", err)
		}
		if err := writeFile(j.key, keyB, KeyMode); err != nil {
			return nil, err
		}
		if err := writeFile(j.cert, certB, CertMode); err != nil {
			return nil, err
		}
		out = append(out, File{Path: j.cert, Mode: CertMode, What: j.what + " certificate"}, File{Path: j.key, Mode: KeyMode, What: j.what + " key"})
		if j.copyTo != "" {
			if err := writeFile(j.copyTo, certB, CertMode); err != nil {
				return nil, err
			}
			out = append(out, File{Path: j.copyTo, Mode: CertMode, What: j.what + " certificate, for client_cert_dir"})
		}
	}
	return out, nil
}

// writeFile writes data to path with the given mode through a temporary
// file in the same directory, synced and renamed into place, replacing any
// file there: a crash leaves the old file or the whole new one.
func writeFile(path string, data []byte, mode fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done = true
	return nil
}
