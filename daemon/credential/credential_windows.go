//go:build windows

package credential

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"

	"pcipause/daemon/winsys"
)

// DPAPI is the Windows store: the secret encrypted with CryptProtectData in machine scope
// (CRYPTPROTECT_LOCAL_MACHINE, so the LocalSystem service can decrypt it whoever set it) in a
// file whose protected DACL admits only SYSTEM and Administrators. Machine scope means any
// process on this host that can read the blob can decrypt it, so the file's DACL is the
// boundary: Get refuses a file that grants anyone else access, as the Linux store refuses a
// file others can read.
type DPAPI struct {
	path string
}

var _ Store = (*DPAPI)(nil)

// fileSDDL: owner Administrators, protected DACL (no inheritance from %ProgramData%), full
// control for SYSTEM and the Administrators group only.
const fileSDDL = "O:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)"

// entropy binds the blob to this product: a DPAPI blob made by another program for the same
// machine does not decrypt here by accident. It is not a secret.
var entropy = []byte("pcipause credential v1")

// Open returns the DPAPI store at path (normally %ProgramData%\pcipause\credential.dpapi).
// Nothing is read until Get.
func Open(path string) (Store, error) {
	if path == "" {
		return nil, errors.New("credential: no path")
	}
	return &DPAPI{path: path}, nil
}

// Path is the blob file's location.
func (d *DPAPI) Path() string { return d.path }

// Present reports whether the blob file exists and is not empty.
func (d *DPAPI) Present() bool {
	fi, err := os.Lstat(d.path)
	return err == nil && fi.Mode().IsRegular() && fi.Size() > 0
}

// Set encrypts secret and writes the blob to a new file created with the restrictive DACL,
// then renames it over the old one, so the blob is never readable by others, not even for a
// moment, and a crash leaves the old secret or the new one.
func (d *DPAPI) Set(secret []byte) error {
	if len(secret) == 0 {
		return fmt.Errorf("credential: %w: empty secret", ErrMalformed)
	}
	if len(secret) > MaxSize {
		return fmt.Errorf("credential: %w: %d bytes, limit %d", ErrMalformed, len(secret), MaxSize)
	}
	blob, err := protect(secret)
	if err != nil {
		return err
	}
	dir := filepath.Dir(d.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("credential: %w", err)
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".credential-%d.tmp", windows.GetCurrentProcessId()))
	if err := writeProtected(tmp, blob); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, d.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("credential: %w", err)
	}
	return nil
}

// Get checks the file's DACL, reads the blob and decrypts it.
func (d *DPAPI) Get() ([]byte, error) {
	f, err := os.Open(d.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("credential: %s: %w (store one with `pcipause credential set`)", d.path, ErrNotFound)
		}
		return nil, fmt.Errorf("credential: open %s: %w", d.path, err)
	}
	defer f.Close()
	if err := checkDACL(d.path); err != nil {
		return nil, err
	}
	// A blob is the secret plus a few hundred bytes of DPAPI framing.
	blob, err := io.ReadAll(io.LimitReader(f, 4*MaxSize))
	if err != nil {
		return nil, fmt.Errorf("credential: read %s: %w", d.path, err)
	}
	if len(blob) == 0 {
		return nil, fmt.Errorf("credential: %s: %w: the file is empty", d.path, ErrNotFound)
	}
	if len(blob) >= 4*MaxSize {
		return nil, fmt.Errorf("credential: %s: %w: larger than a DPAPI blob of %d bytes can be", d.path, ErrMalformed, MaxSize)
	}
	secret, err := unprotect(blob)
	if err != nil {
		return nil, fmt.Errorf("credential: %s: %w", d.path, err)
	}
	return secret, nil
}

func protect(secret []byte) ([]byte, error) {
	in := windows.DataBlob{Size: uint32(len(secret)), Data: &secret[0]}
	ent := windows.DataBlob{Size: uint32(len(entropy)), Data: &entropy[0]}
	name, _ := windows.UTF16PtrFromString("pcipause")
	var out windows.DataBlob
	if err := windows.CryptProtectData(&in, name, &ent, 0, nil,
		windows.CRYPTPROTECT_UI_FORBIDDEN|windows.CRYPTPROTECT_LOCAL_MACHINE, &out); err != nil {
		return nil, fmt.Errorf("credential: encrypt with DPAPI: %w", err)
	}
	defer windows.LocalFree(windows.Handle(unsafe.Pointer(out.Data)))
	return append([]byte(nil), unsafe.Slice(out.Data, out.Size)...), nil
}

func unprotect(blob []byte) ([]byte, error) {
	in := windows.DataBlob{Size: uint32(len(blob)), Data: &blob[0]}
	ent := windows.DataBlob{Size: uint32(len(entropy)), Data: &entropy[0]}
	var out windows.DataBlob
	if err := windows.CryptUnprotectData(&in, nil, &ent, 0, nil, windows.CRYPTPROTECT_UI_FORBIDDEN, &out); err != nil {
		return nil, fmt.Errorf("%w: DPAPI cannot decrypt it (made on another machine, or damaged): %w", ErrMalformed, err)
	}
	plain := unsafe.Slice(out.Data, out.Size)
	secret := append([]byte(nil), plain...)
	Wipe(plain)
	windows.LocalFree(windows.Handle(unsafe.Pointer(out.Data)))
	if len(secret) > MaxSize {
		Wipe(secret)
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxSize)
	}
	return secret, nil
}

// writeProtected creates path with fileSDDL from the start and writes b to it.
func writeProtected(path string, b []byte) error {
	sd, err := windows.SecurityDescriptorFromString(fileSDDL)
	if err != nil {
		return fmt.Errorf("credential: security descriptor: %w", err)
	}
	sa := windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(sa))
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return fmt.Errorf("credential: path: %w", err)
	}
	h, err := windows.CreateFile(p, windows.GENERIC_WRITE, 0, &sa, windows.CREATE_ALWAYS, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return fmt.Errorf("credential: create %s: %w", path, err)
	}
	f := os.NewFile(uintptr(h), path)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("credential: write: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("credential: sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("credential: %w", err)
	}
	// Some file systems and older Windows builds ignore the create-time descriptor when the
	// parent's inheritable ACEs apply; set it again explicitly.
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("credential: security descriptor: %w", err)
	}
	if err := windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil); err != nil {
		return fmt.Errorf("credential: restrict %s to SYSTEM and Administrators: %w", path, err)
	}
	return nil
}

// checkDACL refuses a blob file whose DACL lets anyone but SYSTEM and Administrators in: with
// machine-scope DPAPI, reading the blob is decrypting it. Wine keeps no file security
// descriptors (it reports one made up from the Unix mode bits), so there is nothing to check
// under Wine; the Unix permissions of the prefix are what protect the file there.
func checkDACL(path string) error {
	if winsys.IsWine() {
		return nil
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("credential: %s: %w: cannot read its access list: %w", path, ErrPermissions, err)
	}
	return checkSD(path, sd)
}

// checkSD is checkDACL's verdict on a security descriptor.
func checkSD(path string, sd *windows.SECURITY_DESCRIPTOR) error {
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		return fmt.Errorf("credential: %s: %w: no access list (everyone may read it); rotate the secret and set it again", path, ErrPermissions)
	}
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return fmt.Errorf("credential: %s: %w: unreadable access list entry %d", path, ErrPermissions, i)
		}
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE {
			continue // deny entries only narrow access
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if sid.IsWellKnown(windows.WinLocalSystemSid) || sid.IsWellKnown(windows.WinBuiltinAdministratorsSid) {
			continue
		}
		return fmt.Errorf("credential: %s: %w: %s is granted access; rotate the secret, then set it again with `pcipause credential set`", path, ErrPermissions, sid.String())
	}
	return nil
}
