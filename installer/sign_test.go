package installer

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert makes a throwaway self-signed code-signing certificate and key.
func writeCert(t *testing.T, dir, name string) (cert, key string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// buildTinyExe cross-compiles a minimal Windows program: a real PE file to sign.
func buildTinyExe(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "tiny")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module tiny\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() { println(\"tiny\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "tiny.exe")
	cmd := exec.Command("go", "build", "-o", exe, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0", "GOFLAGS=-trimpath", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build tiny.exe: %v\n%s", err, out)
	}
	return exe
}

// buildTinyMSI packages exe with wixl, the way the real MSI is built.
func buildTinyMSI(t *testing.T, dir, exe string) string {
	t.Helper()
	wxs := filepath.Join(dir, "tiny.wxs")
	doc := `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="tiny" Language="1033" Version="1.0.0" Manufacturer="pcipause test" UpgradeCode="2e41eb75-214f-4c43-8c27-51a248e5398c">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine" />
    <Media Id="1" Cabinet="tiny.cab" EmbedCab="yes" />
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="tiny">
          <Component Id="Tiny" Guid="5b0f6a3e-3b8a-4f57-9b0e-4f7f2a3c9d11" Win64="yes">
            <File Id="tiny.exe" Name="tiny.exe" Source="` + filepath.Base(exe) + `" KeyPath="yes" />
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Complete" Level="1"><ComponentRef Id="Tiny" /></Feature>
  </Product>
</Wix>`
	if err := os.WriteFile(wxs, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	msi := filepath.Join(dir, "tiny.msi")
	// wixl resolves Source against the working directory and rejects absolute paths.
	cmd := exec.Command("wixl", "-a", "x64", "-o", msi, wxs)
	cmd.Dir = filepath.Dir(exe)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wixl: %v\n%s", err, out)
	}
	return msi
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// `make sign` runs installer/sign.sh: signatures made with a throwaway certificate verify,
// a file changed after signing does not, and a key that does not match the certificate is
// refused.
func TestSignVerifyTamper(t *testing.T) {
	if _, err := exec.LookPath("osslsigncode"); err != nil {
		t.Skip("osslsigncode not installed (Debian package osslsigncode)")
	}
	dir := t.TempDir()
	cert, key := writeCert(t, dir, "pcipause-test")
	_, otherKey := writeCert(t, dir, "other")
	exe := buildTinyExe(t, dir)
	files := map[string]string{"exe": exe}
	if _, err := exec.LookPath("wixl"); err == nil {
		files["msi"] = buildTinyMSI(t, dir, exe)
	} else {
		t.Log("wixl not installed: MSI signing not checked")
	}
	verify := func(path string) error {
		return exec.Command("osslsigncode", "verify", "-CAfile", cert, "-in", path).Run()
	}
	for kind, src := range files {
		t.Run(kind, func(t *testing.T) {
			for _, tc := range []struct {
				name     string
				key      string
				tamper   bool
				signOK   bool
				verifyOK bool
			}{
				{"signed", key, false, true, true},
				{"tampered after signing", key, true, true, false},
				{"key does not match cert", otherKey, false, false, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					f := filepath.Join(t.TempDir(), "target."+kind)
					copyFile(t, src, f)
					if verify(f) == nil {
						t.Fatal("unsigned file verifies")
					}
					out, err := exec.Command("bash", "sign.sh", cert, tc.key, f).CombinedOutput()
					if (err == nil) != tc.signOK {
						t.Fatalf("sign.sh: err=%v, want success=%v\n%s", err, tc.signOK, out)
					}
					if tc.tamper {
						b, err := os.ReadFile(f)
						if err != nil {
							t.Fatal(err)
						}
						b[len(b)/3] ^= 0xff
						if err := os.WriteFile(f, b, 0o644); err != nil {
							t.Fatal(err)
						}
					}
					if err := verify(f); (err == nil) != tc.verifyOK {
						t.Fatalf("osslsigncode verify: err=%v, want success=%v", err, tc.verifyOK)
					}
				})
			}
		})
	}
	t.Run("usage", func(t *testing.T) {
		out, err := exec.Command("bash", "sign.sh", cert).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "usage") {
			t.Fatalf("sign.sh with too few arguments: %v\n%s", err, out)
		}
	})
}
