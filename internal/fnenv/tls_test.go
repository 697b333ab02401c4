package fnenv

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A deployment's Redis is DigitalOcean's Managed Valkey:
// rediss://default:PASSWORD@HOST:25061, TLS with a certificate of a public
// CA and a password. Here a real redis-server serves TLS with a test CA and a
// password, and a function (run in a child process, so that Go reads
// SSL_CERT_FILE for its root CAs as a function's fresh process does)
// answers through it; a wrong password and an untrusted certificate are each
// a clear 503 unavailable whose log names the cause, never the password.
func TestFunctionAnswersThroughTLSRedis(t *testing.T) {
	if os.Getenv("HOTPOOL_TLS_CHILD") == "1" {
		tlsChild()
		return
	}
	dir := t.TempDir()
	ca, caKey := writeCA(t, dir, "ca")
	writeLeaf(t, dir, "server", ca, caKey)
	writeCA(t, dir, "other-ca") // a CA the server's certificate is not from
	port := freeTCPPort(t)
	const password = "tls-test-p4ssw0rd"
	srv := exec.Command("redis-server", "--port", "0", "--tls-port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--tls-cert-file", filepath.Join(dir, "server.crt"), "--tls-key-file", filepath.Join(dir, "server.key"),
		"--tls-ca-cert-file", filepath.Join(dir, "ca.crt"), "--tls-auth-clients", "no",
		"--requirepass", password, "--save", "", "--appendonly", "no", "--dir", dir)
	require.NoError(t, srv.Start(), "redis-server (make test installs it)")
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)

	run := func(url, caFile string) (status int, body, log string) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFunctionAnswersThroughTLSRedis$", "-test.count=1")
		// Only caFile is trusted: no directory of the machine's roots.
		cmd.Env = append(os.Environ(), "HOTPOOL_TLS_CHILD=1", "SSL_CERT_FILE="+caFile, "SSL_CERT_DIR="+t.TempDir(),
			EnvRedisURL+"="+url, EnvAPIToken+"="+token, EnvSecret+"="+secret,
			EnvConfig+`={"pools":{"python":{}}, "deployment": "tlstest"}`, EnvDOToken+"=")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		require.NoError(t, cmd.Run(), "child: %s\n%s", out.String(), errb.String())
		var res struct {
			Status int    `json:"status"`
			Body   string `json:"body"`
		}
		line := out.String()
		i := strings.Index(line, "RESULT ")
		require.GreaterOrEqual(t, i, 0, "child said: %s\n%s", line, errb.String())
		require.NoError(t, json.Unmarshal([]byte(strings.SplitN(line[i+7:], "\n", 2)[0]), &res))
		return res.Status, res.Body, errb.String() + out.String()
	}

	good := fmt.Sprintf("rediss://default:%s@localhost:%d", password, port)
	status, body, _ := run(good, filepath.Join(dir, "ca.crt"))
	require.Equal(t, 200, status, body)
	require.Contains(t, body, `"pools"`, "metrics answered through TLS Redis")

	status, body, log := run(fmt.Sprintf("rediss://default:not-the-password@localhost:%d", port), filepath.Join(dir, "ca.crt"))
	require.Equal(t, 503, status)
	require.Contains(t, body, `"unavailable"`)
	require.Contains(t, log, "WRONGPASS", "the log names the cause")
	require.NotContains(t, log+body, "not-the-password")
	require.NotContains(t, log+body, password)

	status, body, log = run(good, filepath.Join(dir, "other-ca.crt"))
	require.Equal(t, 503, status)
	require.Contains(t, body, `"unavailable"`)
	require.Contains(t, log, "certificate signed by unknown authority", "the log names the cause")
	require.NotContains(t, log+body, password)
}

// tlsChild answers one metrics request as a function does, with the
// environment it was given, and prints the answer.
func tlsChild() {
	l := NewLazyEnv(os.Getenv, os.Stderr)
	resp := l.DO(context.Background(), "metrics", webEvent("GET", "", token, ""))
	body, _ := json.Marshal(resp["body"])
	if s, ok := resp["body"].(string); ok {
		body = []byte(s)
	}
	out, _ := json.Marshal(map[string]any{"status": resp["statusCode"], "body": string(body)})
	fmt.Println("RESULT " + string(out))
}

func freeTCPPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}

// writeCA makes a self-signed CA, written as name.crt.
func writeCA(t *testing.T, dir, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hotpool " + name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	writePEM(t, filepath.Join(dir, name+".crt"), "CERTIFICATE", der)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, key
}

// writeLeaf makes a certificate for localhost signed by ca, written as
// name.crt and name.key.
func writeLeaf(t *testing.T, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	writePEM(t, filepath.Join(dir, name+".crt"), "CERTIFICATE", der)
	kd, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	writePEM(t, filepath.Join(dir, name+".key"), "EC PRIVATE KEY", kd)
}
