package tray

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
)

// helperEnv makes the test binary act as a session helper driven over stdin:
//
//	set <Status as JSON>   → Set; "applied <JSON>" once the native tray shows it
//	copy                   → (nothing; the parent clicks the menu item over D-Bus)
//	quit                   → cancel Run; "returned <err>", "leaked <n>" (tray goroutines still
//	                         alive), then "second <err>" from a 2nd Run
//
// Logs go to stderr as JSON, for the parent to inspect.
const helperEnv = "PCIPAUSE_TRAY_TEST_HELPER"

func helperMain() int {
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	tr := New(log, func() string {
		return "helper diagnostics: overlay self-check ok\nlast digits typed: 4111 1111 1111 1111\n"
	})
	tr.applied = func(s Status) {
		b, _ := json.Marshal(s)
		say("applied %s", b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if os.Getenv(helperEnv+"_CANCELLED") == "1" {
		// Shut down before the tray ever started: Run must return nil, not hang or panic.
		cancel()
		say("returned %v", tr.Run(ctx, nil))
		say("leaked %d", len(ourGoroutines()))
		return 0
	}
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx, started) }()
	say("started %v", <-started)

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		switch cmd {
		case "set":
			var s Status
			if err := json.Unmarshal([]byte(arg), &s); err != nil {
				say("error %v", err)
				continue
			}
			tr.Set(s)
		case "quit":
			cancel()
			say("returned %v", <-done)
			say("leaked %d", len(ourGoroutines()))
			for _, g := range ourGoroutines() {
				fmt.Fprintln(os.Stderr, "leaked goroutine:", g)
			}
			ctx2, cancel2 := context.WithCancel(context.Background())
			cancel2()
			say("second %v", tr.Run(ctx2, nil))
			return 0
		}
	}
	return 1
}

// ourGoroutines lists the stacks of goroutines running tray code, other than this helper's
// own: once Run has returned there must be none (systray's own may remain; they are not ours).
func ourGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "pcipause/tray.") && !strings.Contains(g, "pcipause/tray.helperMain") &&
			!strings.Contains(g, "pcipause/tray.TestMain") {
			out = append(out, g)
		}
	}
	return out
}

// dropApplied removes the helper's "applied" lines from its output.
func dropApplied(out string) string {
	var keep []string
	for _, l := range strings.SplitAfter(out, "\n") {
		if !strings.HasPrefix(l, "applied ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}
