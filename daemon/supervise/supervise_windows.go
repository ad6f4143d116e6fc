//go:build windows

package supervise

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"

	"pcipause/daemon/winsys"
)

// The Windows platform: sessions from WTSEnumerateSessions, the helper started with the
// session user's token (WTSQueryUserToken, which needs the service's LocalSystem rights) and
// CreateProcessAsUser on winsta0\default, exits seen through the process handle, and session
// changes from WTSRegisterSessionNotification on a message-only window.

type winPlatform struct{}

func newPlatform(o *Options) (platform, error) {
	if o.HelperPath == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find own executable: %w", err)
		}
		o.HelperPath = filepath.Join(filepath.Dir(exe), "pcipause-session.exe")
	}
	if !filepath.IsAbs(o.HelperPath) {
		return nil, fmt.Errorf("helper path %q is not absolute", o.HelperPath)
	}
	return winPlatform{}, nil
}

func (winPlatform) sessions() ([]Session, error) {
	var infos *windows.WTS_SESSION_INFO
	var n uint32
	if err := windows.WTSEnumerateSessions(0, 0, 1, &infos, &n); err != nil {
		return nil, fmt.Errorf("enumerate sessions: %w", err)
	}
	var out []Session
	if n > 0 {
		defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(infos)))
		for _, si := range unsafe.Slice(infos, n) {
			if si.State != windows.WTSActive || si.SessionID == 0 {
				continue
			}
			if s, ok := describeSession(si.SessionID, windows.UTF16PtrToString(si.WindowStationName)); ok {
				out = append(out, s)
			}
		}
		return out, nil
	}
	// Wine lists no sessions at all; Windows always lists the console. Fall back to the
	// active console session so the desktop there is still covered.
	if id := windows.WTSGetActiveConsoleSessionId(); id != 0xFFFFFFFF && id != 0 {
		if s, ok := describeSession(id, "Console"); ok {
			out = append(out, s)
		}
	}
	return out, nil
}

// describeSession names the session's user; ok is false when nobody is logged on there (the
// logon screen of an RDP session).
func describeSession(id uint32, station string) (Session, bool) {
	user := sessionString(id, winsys.WTSUserName)
	if user == "" {
		return Session{}, false
	}
	if dom := sessionString(id, winsys.WTSDomainName); dom != "" {
		user = dom + `\` + user
	}
	return Session{ID: id, User: user, Station: station}, true
}

func sessionString(id, class uint32) string {
	var buf *uint16
	var n uint32
	if err := winsys.WTSQuerySessionInformation(0, id, class, &buf, &n); err != nil || buf == nil {
		return ""
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(buf)))
	return windows.UTF16PtrToString(buf)
}

func (winPlatform) start(s Session, path string, args []string) (process, error) {
	var user windows.Token
	if err := windows.WTSQueryUserToken(s.ID, &user); err != nil {
		return nil, fmt.Errorf("token of session %d (needs LocalSystem): %w", s.ID, err)
	}
	defer user.Close()
	var primary windows.Token
	if err := windows.DuplicateTokenEx(user, windows.MAXIMUM_ALLOWED, nil, windows.SecurityIdentification, windows.TokenPrimary, &primary); err != nil {
		return nil, fmt.Errorf("duplicate token of session %d: %w", s.ID, err)
	}
	defer primary.Close()
	var env *uint16
	if err := windows.CreateEnvironmentBlock(&env, primary, false); err != nil {
		return nil, fmt.Errorf("environment of session %d: %w", s.ID, err)
	}
	defer windows.DestroyEnvironmentBlock(env)

	app, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, fmt.Errorf("helper path: %w", err)
	}
	cmd, err := windows.UTF16PtrFromString(windows.ComposeCommandLine(append([]string{path}, args...)))
	if err != nil {
		return nil, fmt.Errorf("helper arguments: %w", err)
	}
	dir, _ := windows.UTF16PtrFromString(filepath.Dir(path))
	desktop, _ := windows.UTF16PtrFromString(`winsta0\default`)
	si := windows.StartupInfo{Desktop: desktop}
	si.Cb = uint32(unsafe.Sizeof(si))
	var pi windows.ProcessInformation
	if err := windows.CreateProcessAsUser(primary, app, cmd, nil, nil, false,
		windows.CREATE_UNICODE_ENVIRONMENT|windows.CREATE_NEW_PROCESS_GROUP, env, dir, &si, &pi); err != nil {
		return nil, fmt.Errorf("start %s in session %d: %w", filepath.Base(path), s.ID, err)
	}
	windows.CloseHandle(pi.Thread)
	return &winProcess{h: pi.Process, pid: int(pi.ProcessId)}, nil
}

func (winPlatform) existing(path string) (map[uint32]process, error) {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return nil, fmt.Errorf("process snapshot: %w", err)
	}
	defer windows.CloseHandle(snap)
	base := filepath.Base(path)
	found := map[uint32]process{}
	var e windows.ProcessEntry32
	e.Size = uint32(unsafe.Sizeof(e))
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		if !strings.EqualFold(windows.UTF16ToString(e.ExeFile[:]), base) {
			continue
		}
		var sid uint32
		if windows.ProcessIdToSessionId(e.ProcessID, &sid) != nil || sid == 0 {
			continue
		}
		if _, dup := found[sid]; dup {
			continue
		}
		h, err := windows.OpenProcess(windows.SYNCHRONIZE|windows.PROCESS_QUERY_LIMITED_INFORMATION|windows.PROCESS_TERMINATE, false, e.ProcessID)
		if err != nil {
			continue
		}
		// Only our own binary counts: a look-alike started elsewhere is not adopted.
		var buf [windows.MAX_LONG_PATH]uint16
		n := uint32(len(buf))
		if windows.QueryFullProcessImageName(h, 0, &buf[0], &n) != nil || !strings.EqualFold(windows.UTF16ToString(buf[:n]), path) {
			windows.CloseHandle(h)
			continue
		}
		found[sid] = &winProcess{h: h, pid: int(e.ProcessID)}
	}
	if !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		for _, p := range found {
			windows.CloseHandle(p.(*winProcess).h)
		}
		return nil, fmt.Errorf("walk processes: %w", err)
	}
	return found, nil
}

// watch pumps WTS session notifications on a message-only window until ctx ends.
func (winPlatform) watch(ctx context.Context, changed func()) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	inst, err := winsys.GetModuleHandle(nil)
	if err != nil {
		return fmt.Errorf("module handle: %w", err)
	}
	const wmStop = winsys.WM_APP + 1
	cls, _ := windows.UTF16PtrFromString(fmt.Sprintf("pcipause.supervise.%p", &inst))
	proc := func(hwnd windows.HWND, msg uint32, wParam, lParam uintptr) uintptr {
		switch msg {
		case winsys.WM_WTSSESSION_CHANGE:
			changed()
			return 0
		case wmStop:
			winsys.PostQuitMessage(0)
			return 0
		}
		return winsys.DefWindowProc(hwnd, msg, wParam, lParam)
	}
	wc := winsys.WNDCLASSEX{WndProc: windows.NewCallback(proc), Instance: inst, ClassName: cls}
	wc.Size = uint32(unsafe.Sizeof(wc))
	if _, err := winsys.RegisterClassEx(&wc); err != nil {
		return fmt.Errorf("register window class: %w", err)
	}
	defer winsys.UnregisterClass(cls, inst)
	hwnd, err := winsys.CreateWindowEx(0, cls, cls, 0, 0, 0, 0, 0, windows.HWND(winsys.HWND_MESSAGE), 0, inst, 0)
	if err != nil {
		return fmt.Errorf("create message window: %w", err)
	}
	defer winsys.DestroyWindow(hwnd)
	if err := winsys.WTSRegisterSessionNotification(hwnd, winsys.NOTIFY_FOR_ALL_SESSIONS); err != nil {
		return fmt.Errorf("register for session notifications: %w", err)
	}
	defer winsys.WTSUnRegisterSessionNotification(hwnd)
	stop := context.AfterFunc(ctx, func() { _ = winsys.PostMessage(hwnd, wmStop, 0, 0) })
	defer stop()
	var m winsys.MSG
	for {
		r, err := winsys.GetMessage(&m, 0, 0, 0)
		if r == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("message loop: %w", err)
		}
		winsys.DispatchMessage(&m)
	}
}

type winProcess struct {
	h   windows.Handle
	pid int
}

func (p *winProcess) PID() int { return p.pid }

func (p *winProcess) Wait(stop <-chan struct{}) error {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return fmt.Errorf("wait for helper %d: %w", p.pid, err)
	}
	defer windows.CloseHandle(ev)
	done := make(chan struct{})
	defer close(done)
	go func() { // owned by this Wait: ends when it returns
		select {
		case <-stop:
			_ = windows.SetEvent(ev)
		case <-done:
		}
	}()
	i, err := windows.WaitForMultipleObjects([]windows.Handle{p.h, ev}, false, windows.INFINITE)
	if err != nil {
		return fmt.Errorf("wait for helper %d: %w", p.pid, err)
	}
	if i == windows.WAIT_OBJECT_0+1 {
		return errStopped
	}
	var code uint32
	err = windows.GetExitCodeProcess(p.h, &code)
	windows.CloseHandle(p.h)
	if err != nil {
		return fmt.Errorf("exit code of helper %d: %w", p.pid, err)
	}
	if code != 0 {
		return fmt.Errorf("helper %d exited with status %#x", p.pid, code)
	}
	return nil
}
