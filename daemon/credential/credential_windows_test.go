//go:build windows

package credential

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"

	"pcipause/daemon/winsys"
)

// tempDir is t.TempDir without its RemoveAll, which fails under Wine 8 for Go 1.26 binaries
// ("Invalid function": Wine lacks the POSIX-semantics delete Go now uses); cleanup here is
// file by file and best effort.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "credential")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var paths []string
		_ = filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
			paths = append(paths, p)
			return nil
		})
		for i := len(paths) - 1; i >= 0; i-- {
			_ = os.Remove(paths[i])
		}
	})
	return dir
}

// These run DPAPI for real: on Windows, or under Wine (make test-windows), where the call path
// works but the encryption and the DACL enforcement are Wine's, not Windows'.

func TestDPAPIRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		sec  Secrets
	}{
		{"client only", Secrets{ClientSecret: testSecret}},
		{"both", Secrets{ClientSecret: testSecret, AccessKeySecret: "access-" + testSecret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(tempDir(t), "pcipause", "credential.dpapi")
			st, err := Open(path)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if st.Present() {
				t.Fatal("Present before Set")
			}
			if _, err := st.Get(); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get before Set = %v, want ErrNotFound", err)
			}
			if err := Save(st, tt.sec); err != nil {
				t.Fatalf("Save: %v", err)
			}
			if !st.Present() {
				t.Fatal("not Present after Set")
			}
			got, err := Load(st)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got != tt.sec {
				t.Fatal("Load returned different secrets")
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte(testSecret)) {
				t.Fatal("the secret is stored in clear text")
			}
			// Set again replaces it atomically; no temporary file is left behind.
			if err := Save(st, Secrets{ClientSecret: "rotated"}); err != nil {
				t.Fatalf("second Save: %v", err)
			}
			if got, err := Load(st); err != nil || got.ClientSecret != "rotated" {
				t.Fatalf("Load after rotation: %v", err)
			}
			ents, _ := os.ReadDir(filepath.Dir(path))
			if len(ents) != 1 {
				t.Fatalf("directory holds %d entries, want only the blob", len(ents))
			}
		})
	}
}

func TestDPAPIRejects(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
		sddl    string
		want    error
	}{
		{"garbage blob", []byte("this is not a DPAPI blob at all"), fileSDDL, ErrMalformed},
		{"empty file", []byte{}, fileSDDL, ErrNotFound},
		{"huge file", bytes.Repeat([]byte{1}, 4*MaxSize+10), fileSDDL, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(tempDir(t), "credential.dpapi")
			if err := writeWithSDDL(path, tt.content, tt.sddl); err != nil {
				t.Fatal(err)
			}
			st, _ := Open(path)
			_, err := st.Get()
			if !errors.Is(err, tt.want) {
				t.Fatalf("Get = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := Open(""); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
	st, _ := Open(filepath.Join(tempDir(t), "c"))
	if err := st.Set(nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Set(nil) = %v", err)
	}
}

func TestCheckSD(t *testing.T) {
	tests := []struct {
		sddl string
		ok   bool
	}{
		{fileSDDL, true},
		{"D:P(A;;FA;;;SY)", true},
		{"D:P(A;;FA;;;SY)(A;;FA;;;BA)(D;;FA;;;WD)", true}, // deny entries only narrow access
		{"D:P(A;;FA;;;SY)(A;;FR;;;WD)", false},            // Everyone
		{"D:P(A;;FA;;;BA)(A;;FR;;;BU)", false},            // Users
		{"D:P(A;;FA;;;SY)(A;;FR;;;AU)", false},            // Authenticated Users
		{"D:P(A;;FA;;;SY)(A;;FA;;;S-1-5-21-1-2-3-1001)", false},
		{"O:BA", false}, // no DACL at all: everyone has access
	}
	for _, tt := range tests {
		t.Run(tt.sddl, func(t *testing.T) {
			sd, err := windows.SecurityDescriptorFromString(tt.sddl)
			if err != nil {
				t.Fatal(err)
			}
			err = checkSD("x", sd)
			if tt.ok != (err == nil) || err != nil && !errors.Is(err, ErrPermissions) {
				t.Fatalf("checkSD(%s) = %v, want ok=%v", tt.sddl, err, tt.ok)
			}
		})
	}
}

// TestDPAPIRefusesOpenDACL checks the DACL on a real file. Wine keeps no file security
// descriptors, so this needs Windows; under Wine TestCheckSD covers the verdict.
func TestDPAPIRefusesOpenDACL(t *testing.T) {
	if winsys.IsWine() {
		t.Skip("Wine keeps no file security descriptors; this test needs a Windows host")
	}
	dir := tempDir(t)
	good := filepath.Join(dir, "good")
	st, _ := Open(good)
	if err := st.Set([]byte(`{"client_secret":"x"}`)); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := checkDACL(good); err != nil {
		t.Fatalf("the store's own file fails its DACL check: %v", err)
	}
	blob, _ := os.ReadFile(good)
	for _, sddl := range []string{"D:P(A;;FA;;;SY)(A;;FR;;;WD)", "D:P(A;;FA;;;BA)(A;;FR;;;BU)"} {
		path := filepath.Join(dir, "open")
		_ = os.Remove(path)
		if err := writeWithSDDL(path, blob, sddl); err != nil {
			t.Fatal(err)
		}
		_, err := (&DPAPI{path: path}).Get()
		if !errors.Is(err, ErrPermissions) {
			t.Fatalf("Get with DACL %s = %v, want ErrPermissions", sddl, err)
		}
	}
}

func writeWithSDDL(path string, b []byte, sddl string) error {
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return err
	}
	sa := windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(sa))
	p, _ := windows.UTF16PtrFromString(path)
	h, err := windows.CreateFile(p, windows.GENERIC_WRITE, 0, &sa, windows.CREATE_ALWAYS, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(h), path)
	_, err = f.Write(b)
	f.Close()
	return err
}
