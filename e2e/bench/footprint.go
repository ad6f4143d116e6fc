//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"debug/elf"
	"debug/pe"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"pcipause/daemon/config"
	"pcipause/e2e/xenv"
)

// The footprint section runs the simulator, the service and the session helper as three
// separate processes, the way production runs the last two (not `pcipause local`, whose one
// process also holds the simulator), and reads what the service and the helper cost from
// /proc: memory idle and after many PCI episodes, CPU and wakeups while nobody types. It also
// runs the detector's per-key Go benchmarks and lists the shipped binaries' sizes.

// FootprintResult is results.json's "footprint".
type FootprintResult struct {
	// Service is `pcipause service --foreground`, Helper is `pcipause-session --no-tray`.
	Service ProcFootprint `json:"service"`
	Helper  ProcFootprint `json:"helper"`
	// SettleS is the wait after start-up (and after the episodes) before memory is read and
	// the idle window starts.
	SettleS float64 `json:"settle_s"`
	// IdleWindowS is the length of the idle window over which CPU and wakeups are measured.
	IdleWindowS float64 `json:"idle_window_s"`

	// EpisodesAttempted is how many PCI episodes were typed: a Luhn-valid test card number
	// into xterm at KeyDelayMs per key, then Ctrl+U.
	EpisodesAttempted int `json:"episodes_attempted"`
	// EpisodesComplete is how many of them the bench saw end to end: the simulator's
	// recording read PAUSED after the number was typed and RECORDING again after it was
	// cleared.
	EpisodesComplete int `json:"episodes_complete"`
	// PausesSeen and ResumesSeen count the pause and resume calls the simulator answered
	// with a 2xx during the episodes (its call log).
	PausesSeen  int `json:"pauses_seen"`
	ResumesSeen int `json:"resumes_seen"`
	// CallsByOp counts every API call the simulator logged during the episodes by op
	// (token, list, get, pause, resume), whatever its answer.
	CallsByOp map[string]int `json:"calls_by_op"`
	// CallsFailed counts the logged calls answered with anything but a 2xx.
	CallsFailed int `json:"calls_failed"`
	// CallsPerEpisode is every logged call except token requests, divided by the episodes
	// attempted (a wem-v1 listing counts as its two list requests).
	CallsPerEpisode float64 `json:"calls_per_episode"`
	// PausesAfterList counts the 2xx pauses whose previous call (token requests aside) was a
	// list request: episodes that listed the agent's recordings before pausing.
	PausesAfterList int `json:"pauses_after_list"`
	// Incomplete names the episodes that did not complete and why (at most 20).
	Incomplete []string `json:"incomplete,omitempty"`
	// SelfCheckFailures counts "overlay self-check failed" lines in the helper's log: the
	// helper's readback found the mask not covering, and the service paused for it.
	SelfCheckFailures int `json:"selfcheck_failures"`
	// KeyDelayMs is xdotool's delay between typed keys.
	KeyDelayMs int `json:"key_delay_ms"`
	// HoldDownMs is controller.hold_down in the config the processes ran with (helper and
	// service both wait it out before closing and resuming).
	HoldDownMs float64 `json:"hold_down_ms"`
	// EpisodesS is the wall time of all episodes.
	EpisodesS float64 `json:"episodes_s"`
	// PauseSeen is, per complete episode, from the start of `xdotool type` to the bench
	// reading PAUSED from the simulator (includes xdotool's start-up, 16 keys, the helper,
	// IPC, the fsync'd intent, the HTTPS call and the bench's 2 ms polling).
	PauseSeen Quantiles `json:"pause_seen"`
	// Episode is, per complete episode, from the start of typing to RECORDING read again.
	Episode Quantiles `json:"episode"`
	// RSSSamples is VmRSS of both processes every few episodes (episode 0: before the first).
	RSSSamples []FootprintSample `json:"rss_samples"`
	// StateFileBytes is the size of the service's state file (bbolt, with the audit trail)
	// after the episodes.
	StateFileBytes int64 `json:"state_file_bytes"`

	// Detector holds the per-key Go benchmarks of hooks/detect.
	Detector []DetectorBench `json:"detector"`
	// Binaries lists the size of every file in the bench's binary directory (the binaries
	// the section runs) and, if built, dist/windows-amd64/*.exe, read when the section starts.
	Binaries []BinarySize `json:"binaries"`
	// Notes are problems that did not stop the section (a benchmark that did not run, a
	// process file that could not be read).
	Notes []string `json:"notes,omitempty"`
	// DurationS is the wall time of the section.
	DurationS float64 `json:"duration_s"`
}

// ProcFootprint is one process's cost.
type ProcFootprint struct {
	// IdleRSSMiB is VmRSS after the start-up settle; IdleHWMMiB is VmHWM (peak RSS so far).
	IdleRSSMiB float64 `json:"idle_rss_mib"`
	IdleHWMMiB float64 `json:"idle_hwm_mib"`
	// AfterRSSMiB and AfterHWMMiB are the same after the episodes and a settle.
	AfterRSSMiB float64 `json:"after_rss_mib"`
	AfterHWMMiB float64 `json:"after_hwm_mib"`
	// IdleAnonMiB/AfterAnonMiB (RssAnon: heap, stacks) and IdleFileMiB/AfterFileMiB (RssFile:
	// the executable's pages and mapped files such as the bbolt state file) split VmRSS.
	IdleAnonMiB  float64 `json:"idle_anon_mib"`
	AfterAnonMiB float64 `json:"after_anon_mib"`
	IdleFileMiB  float64 `json:"idle_file_mib"`
	AfterFileMiB float64 `json:"after_file_mib"`
	// RSSGrowthKiBPerEpisode is the least-squares slope of VmRSS over the second half of the
	// episodes (the first half is warm-up: heap growth to its working size).
	RSSGrowthKiBPerEpisode float64 `json:"rss_growth_kib_per_episode"`
	// IdleCPUPct is utime+stime from /proc/<pid>/stat (all threads, 10 ms ticks) over the
	// idle window, as a percentage of one core.
	IdleCPUPct float64 `json:"idle_cpu_pct"`
	// IdleCPUPctSched is the same from the per-thread /proc/<pid>/task/*/schedstat run time
	// (nanoseconds; a thread that exits inside the window is not counted).
	IdleCPUPctSched float64 `json:"idle_cpu_pct_schedstat"`
	// IdleWakeupsPerS approximates wakeups per second by the voluntary plus nonvoluntary
	// context switches of all threads (/proc/<pid>/task/*/status) over the idle window.
	IdleWakeupsPerS float64 `json:"idle_wakeups_per_s"`
	// IdleThreadWakeups is the context switches per second of each thread that had any in
	// the idle window, busiest first ("tid comm: n/s").
	IdleThreadWakeups []string `json:"idle_thread_wakeups,omitempty"`
	// EpisodeCPUMs is the CPU time (utime+stime) spent during the episodes per episode.
	EpisodeCPUMs float64 `json:"episode_cpu_ms"`
	// ThreadsIdle/After and FDsIdle/After are the thread and open-descriptor counts.
	ThreadsIdle  int `json:"threads_idle"`
	ThreadsAfter int `json:"threads_after"`
	FDsIdle      int `json:"fds_idle"`
	FDsAfter     int `json:"fds_after"`
}

// FootprintSample is VmRSS of both processes after Episodes episodes.
type FootprintSample struct {
	Episodes   int     `json:"episodes"`
	ServiceMiB float64 `json:"service_mib"`
	HelperMiB  float64 `json:"helper_mib"`
}

// DetectorBench is one line of `go test -bench -benchmem` output.
type DetectorBench struct {
	Name        string  `json:"name"` // without the -GOMAXPROCS suffix
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	AllocsPerOp float64 `json:"allocs_per_op"`
}

// BinarySize is one built file.
type BinarySize struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
	// Symbols is true when the executable still holds a symbol table (built without
	// -ldflags -s, so larger than what `make build` ships).
	Symbols bool `json:"symbols"`
}

// fpRSSTargetMiB is the RSS target of each process. The target says "30 MB"; it is read as
// MiB, and the report says so.
const fpRSSTargetMiB = 30

// fpIdleCPUTargetPct is the idle CPU target of each process, in percent of one core.
const fpIdleCPUTargetPct = 0.1

func runFootprint(ctx context.Context, b *Bench, r *Results) error {
	start := time.Now()
	f := &FootprintResult{SettleS: 5, IdleWindowS: 60, KeyDelayMs: 1, HoldDownMs: 20}
	episodes, sampleEvery := 1000, 50
	note := func(format string, a ...any) { f.Notes = append(f.Notes, fmt.Sprintf(format, a...)) }
	if b.Quick {
		f.SettleS, f.IdleWindowS, episodes, sampleEvery = 3, 10, 100, 10
	}
	dir, err := filepath.Abs(filepath.Join(b.Raw, "footprint"))
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("footprint: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("footprint: %w", err)
	}
	bin, err := filepath.Abs(b.Bin)
	if err != nil {
		return err
	}
	// Sizes first: these are the binaries measured below, whatever rebuilds dist/ meanwhile.
	if f.Binaries, err = fpBinarySizes(b.Bin); err != nil {
		note("binary sizes: %v", err)
	}

	// Every process started below is stopped on the way out, newest first, whatever happens.
	var procs []*fpProc
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].stop()
		}
	}()

	sim, info, err := fpStartSim(ctx, bin, dir)
	if err != nil {
		return err
	}
	procs = append(procs, sim)
	secret := filepath.Join(dir, "client-secret")
	defer os.Remove(secret)
	cfgPath, cfg, err := writeFootprintConfig(dir, secret, info, time.Duration(f.HoldDownMs*float64(time.Millisecond)))
	if err != nil {
		return err
	}
	if sd := filepath.Dir(cfg.Paths.Socket); sd != dir {
		defer os.RemoveAll(sd) // the temporary directory of a socket path too long for dir
	}
	if out, err := exec.CommandContext(ctx, filepath.Join(bin, "pcipause"), "config", "check", "--config", cfgPath).CombinedOutput(); err != nil {
		return fmt.Errorf("footprint: pcipause config check: %w: %s", err, fpFirstLine(out))
	} else if err := os.WriteFile(filepath.Join(dir, "config-check.txt"), out, 0o600); err != nil {
		return fmt.Errorf("footprint: %w", err)
	}

	svc, err := fpStartProc(b.Env, filepath.Join(dir, "service.log"), filepath.Join(bin, "pcipause"),
		"service", "--foreground", "--config", cfgPath)
	if err != nil {
		return err
	}
	procs = append(procs, svc)
	if err := fpWaitFor(ctx, 30*time.Second, svc, func() bool { return fpIsSocket(cfg.Paths.Socket) }); err != nil {
		return fmt.Errorf("footprint: service never listened on its socket (see %s): %w", svc.log, err)
	}
	ready := filepath.Join(dir, "helper.ready")
	helper, err := fpStartProc(b.Env, filepath.Join(dir, "helper.log"), filepath.Join(bin, "pcipause-session"),
		"--config", cfgPath, "--socket", cfg.Paths.Socket, "--no-tray", "--ready-file", ready)
	if err != nil {
		return err
	}
	procs = append(procs, helper)
	if err := fpWaitFor(ctx, 30*time.Second, helper, func() bool { _, err := os.Stat(ready); return err == nil }); err != nil {
		return fmt.Errorf("footprint: session helper never went live (see %s): %w", helper.log, err)
	}

	app, err := b.Env.StartApp(ctx, xenv.XTerm, "pcipause footprint")
	if err != nil && ctx.Err() == nil {
		// Seen once on the shared machine: xdotool gave up at once. One more try.
		note("xterm: first start failed: %v", err)
		app, err = b.Env.StartApp(ctx, xenv.XTerm, "pcipause footprint 2")
	}
	if err != nil {
		return fmt.Errorf("footprint: %w", err)
	}
	defer app.Close()

	// Idle: a desktop with an application open and nobody typing.
	if err := fpSleep(ctx, fpSecs(f.SettleS)); err != nil {
		return err
	}
	s0, h0 := fpReadProc(svc.pid()), fpReadProc(helper.pid())
	if err := fpSleep(ctx, fpSecs(f.IdleWindowS)); err != nil {
		return err
	}
	s1, h1 := fpReadProc(svc.pid()), fpReadProc(helper.pid())
	for _, p := range []struct {
		name   string
		a, b   fpSample
		target *ProcFootprint
	}{{"service", s0, s1, &f.Service}, {"helper", h0, h1, &f.Helper}} {
		if p.a.err != nil || p.b.err != nil {
			return fmt.Errorf("footprint: reading the %s's /proc: %w", p.name, errors.Join(p.a.err, p.b.err))
		}
		fpIdle(p.target, p.a, p.b)
	}
	if err := fpWriteThreads(filepath.Join(dir, "idle-threads.txt"), f); err != nil {
		note("idle thread report: %v", err)
	}

	// Episodes, end to end through the real helper, service and simulator.
	sc, err := fpNewSim(info)
	if err != nil {
		return err
	}
	defer sc.close()
	if err := sc.resetCalls(ctx); err != nil {
		return fmt.Errorf("footprint: %w", err)
	}
	f.RSSSamples = append(f.RSSSamples, FootprintSample{Episodes: 0, ServiceMiB: fpMiB(s1.rssKiB), HelperMiB: fpMiB(h1.rssKiB)})
	fmt.Printf("   idle measured; %d episodes\n", episodes)
	epStart := time.Now()
	var pauseSeen, whole []time.Duration
	failedInARow := 0
	for i := 0; i < episodes; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if i > 0 && i%sampleEvery == 0 {
			s, h := fpReadProc(svc.pid()), fpReadProc(helper.pid())
			f.RSSSamples = append(f.RSSSamples, FootprintSample{Episodes: i, ServiceMiB: fpMiB(s.rssKiB), HelperMiB: fpMiB(h.rssKiB)})
		}
		f.EpisodesAttempted++
		why, dp, dw, err := fpEpisode(ctx, b.Env, sc, i)
		if err != nil {
			return fmt.Errorf("footprint: episode %d: %w", i+1, err)
		}
		if why == "" {
			failedInARow = 0
			f.EpisodesComplete++
			pauseSeen, whole = append(pauseSeen, dp), append(whole, dw)
			continue
		}
		if len(f.Incomplete) < 20 {
			f.Incomplete = append(f.Incomplete, fmt.Sprintf("episode %d (%s): %s", i+1, time.Now().UTC().Format("15:04:05.000"), why))
		}
		if failedInARow++; failedInARow >= 5 {
			return fmt.Errorf("footprint: %d episodes in a row never paused and resumed (see %s and %s)", failedInARow, svc.log, helper.log)
		}
	}
	f.EpisodesS = time.Since(epStart).Seconds()
	s2, h2 := fpReadProc(svc.pid()), fpReadProc(helper.pid())
	f.RSSSamples = append(f.RSSSamples, FootprintSample{Episodes: f.EpisodesAttempted, ServiceMiB: fpMiB(s2.rssKiB), HelperMiB: fpMiB(h2.rssKiB)})
	f.Service.EpisodeCPUMs = float64(s2.cpuTicks-s1.cpuTicks) * 10 / float64(max(f.EpisodesAttempted, 1))
	f.Helper.EpisodeCPUMs = float64(h2.cpuTicks-h1.cpuTicks) * 10 / float64(max(f.EpisodesAttempted, 1))
	f.PauseSeen, f.Episode = quantiles(pauseSeen), quantiles(whole)
	calls, err := sc.calls(ctx)
	if err != nil {
		return fmt.Errorf("footprint: %w", err)
	}
	fpCallStats(f, calls)
	if err := fpWriteCalls(filepath.Join(dir, "calls.txt"), calls); err != nil {
		note("call log: %v", err)
	}

	if err := fpSleep(ctx, fpSecs(min(f.SettleS, 3))); err != nil {
		return err
	}
	s3, h3 := fpReadProc(svc.pid()), fpReadProc(helper.pid())
	for _, p := range []struct {
		name   string
		s      fpSample
		target *ProcFootprint
		pick   func(FootprintSample) float64
	}{
		{"service", s3, &f.Service, func(x FootprintSample) float64 { return x.ServiceMiB }},
		{"helper", h3, &f.Helper, func(x FootprintSample) float64 { return x.HelperMiB }},
	} {
		if p.s.err != nil {
			return fmt.Errorf("footprint: reading the %s's /proc after the episodes: %w", p.name, p.s.err)
		}
		p.target.AfterRSSMiB, p.target.AfterHWMMiB = fpMiB(p.s.rssKiB), fpMiB(p.s.hwmKiB)
		p.target.AfterAnonMiB, p.target.AfterFileMiB = fpMiB(p.s.anonKiB), fpMiB(p.s.fileKiB)
		p.target.ThreadsAfter, p.target.FDsAfter = p.s.threads, p.s.fds
		p.target.RSSGrowthKiBPerEpisode = fpGrowth(f.RSSSamples, p.pick)
	}
	if fi, err := os.Stat(filepath.Join(cfg.Paths.StateDir, "pcipause.db")); err == nil {
		f.StateFileBytes = fi.Size()
	} else {
		note("state file: %v", err)
	}

	// Stop everything before the Go benchmark so it has the cores to itself.
	app.Close()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop()
	}
	procs = nil
	if f.SelfCheckFailures, err = fpCountLines(helper.log, "overlay self-check failed"); err != nil {
		note("helper log: %v", err)
	}
	if f.Detector, err = fpDetectorBench(ctx, b.Quick, dir); err != nil {
		note("detector benchmark: %v", err)
	}
	f.DurationS = time.Since(start).Seconds()
	r.Footprint = f
	return nil
}

// fpIdle fills the idle part of p from two samples an idle window apart.
func fpIdle(p *ProcFootprint, a, b fpSample) {
	wall := b.at.Sub(a.at).Seconds()
	p.IdleRSSMiB, p.IdleHWMMiB = fpMiB(a.rssKiB), fpMiB(a.hwmKiB)
	p.IdleAnonMiB, p.IdleFileMiB = fpMiB(a.anonKiB), fpMiB(a.fileKiB)
	p.ThreadsIdle, p.FDsIdle = a.threads, a.fds
	// USER_HZ is 100 on every Linux the helper and service ship for.
	p.IdleCPUPct = float64(b.cpuTicks-a.cpuTicks) / 100 / wall * 100
	var runNs, switches int64
	type tw struct {
		name string
		n    int64
	}
	var per []tw
	for tid, tb := range b.tasks {
		ta := a.tasks[tid] // a thread born inside the window counts from zero
		runNs += tb.runNs - ta.runNs
		n := tb.switches - ta.switches
		switches += n
		if n > 0 {
			per = append(per, tw{fmt.Sprintf("%d %s", tid, tb.comm), n})
		}
	}
	p.IdleCPUPctSched = float64(runNs) / 1e9 / wall * 100
	p.IdleWakeupsPerS = float64(switches) / wall
	sort.Slice(per, func(i, j int) bool { return per[i].n > per[j].n })
	for _, t := range per {
		p.IdleThreadWakeups = append(p.IdleThreadWakeups, fmt.Sprintf("%s: %.2f/s", t.name, float64(t.n)/wall))
	}
}

// fpEpisode types one test card number into the focused xterm, waits for the simulator's
// recording to read PAUSED, clears the line with Ctrl+U and waits for RECORDING. why says what
// did not happen when the episode is incomplete; err is only for what should stop the run.
func fpEpisode(ctx context.Context, env *xenv.Env, sc *fpSim, i int) (why string, pauseSeen, whole time.Duration, err error) {
	t0 := time.Now()
	if err := env.Type(ctx, xenv.TestCards[i%len(xenv.TestCards)].PAN, time.Millisecond); err != nil {
		return "", 0, 0, fmt.Errorf("typing test card #%d: %w", i%len(xenv.TestCards)+1, err)
	}
	var miss []string
	if err := sc.waitStatus(ctx, "PAUSED", 5*time.Second); err != nil {
		miss = append(miss, "not PAUSED 5 s after typing")
	}
	pauseSeen = time.Since(t0)
	if err := env.Key(ctx, "ctrl+u"); err != nil {
		return "", 0, 0, err
	}
	if err := sc.waitStatus(ctx, "RECORDING", 3*time.Second); err != nil {
		miss = append(miss, "not RECORDING 3 s after clearing")
	}
	if ctx.Err() != nil {
		return "", 0, 0, ctx.Err()
	}
	return strings.Join(miss, ", "), pauseSeen, time.Since(t0), nil
}

// fpCallStats fills the call counts of f from the simulator's call log (in call order).
func fpCallStats(f *FootprintResult, calls []simCall) {
	f.CallsByOp = map[string]int{}
	prev := ""
	nonToken := 0
	for _, c := range calls {
		f.CallsByOp[c.Op]++
		if c.Op == "token" {
			continue
		}
		nonToken++
		ok := c.Status >= 200 && c.Status < 300
		if !ok {
			f.CallsFailed++
		}
		switch {
		case ok && c.Op == "pause":
			f.PausesSeen++
			if prev == "list" {
				f.PausesAfterList++
			}
		case ok && c.Op == "resume":
			f.ResumesSeen++
		}
		prev = c.Op
	}
	if f.EpisodesAttempted > 0 {
		f.CallsPerEpisode = float64(nonToken) / float64(f.EpisodesAttempted)
	}
}

// fpWriteCalls keeps the call log (time, op, target, status; no bodies) in the raw folder.
func fpWriteCalls(path string, calls []simCall) error {
	var w strings.Builder
	for _, c := range calls {
		fmt.Fprintf(&w, "%s %s %s %d\n", c.Time.UTC().Format("15:04:05.000000"), c.Op, c.Target, c.Status)
	}
	return os.WriteFile(path, []byte(w.String()), 0o644)
}

// fpCountLines counts the lines of the file at path that contain s.
func fpCountLines(path, s string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strings.Count(string(b), s), nil
}

// fpSimInfo is the part of `pcipause sim`'s JSON line the section uses.
type fpSimInfo struct {
	BaseURL      string `json:"base_url"`
	TokenURL     string `json:"token_url"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	AgentID      string `json:"agent_id"`
	RecordingID  string `json:"recording_id"`
	ControlURL   string `json:"control_url"`
	CAFile       string `json:"ca_file"`
}

// fpStartSim runs `pcipause sim --tls` with the org rate limit raised well above what the
// episodes need, and reads its JSON line.
func fpStartSim(ctx context.Context, bin, dir string) (*fpProc, fpSimInfo, error) {
	var info fpSimInfo
	logf, err := os.Create(filepath.Join(dir, "sim.log"))
	if err != nil {
		return nil, info, fmt.Errorf("footprint: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(bin, "pcipause"), "sim", "--tls", "--rate", "1000", "--burst", "1000", "--purge-after", "1h")
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, info, fmt.Errorf("footprint: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, info, fmt.Errorf("footprint: pcipause sim: %w", err)
	}
	p := &fpProc{cmd: cmd, log: logf.Name(), done: make(chan struct{})}
	go p.wait()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- l
		_, _ = io.Copy(io.Discard, stdout) // nothing more is printed; keep the pipe drained
	}()
	select {
	case l := <-line:
		if err := json.Unmarshal([]byte(l), &info); err != nil || info.ControlURL == "" || info.CAFile == "" {
			p.stop()
			return nil, info, fmt.Errorf("footprint: pcipause sim: no usable JSON line (see %s)", p.log)
		}
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, info, fmt.Errorf("footprint: pcipause sim printed nothing in 30 s (see %s)", p.log)
	case <-ctx.Done():
		p.stop()
		return nil, info, ctx.Err()
	}
	return p, info, nil
}

// writeFootprintConfig writes the service's config: the simulator's tenant, the current user
// mapped statically to its agent, everything else under dir, and the controller's rate and
// burst raised so 1,000 back-to-back episodes are not throttled by the default 5 calls/s.
// Every other setting keeps its production default.
func writeFootprintConfig(dir, secretPath string, info fpSimInfo, holdDown time.Duration) (string, *config.Config, error) {
	if err := os.WriteFile(secretPath, []byte(info.ClientSecret+"\n"), 0o600); err != nil {
		return "", nil, fmt.Errorf("footprint: %w", err)
	}
	u, err := user.Current()
	if err != nil {
		return "", nil, fmt.Errorf("footprint: current user: %w", err)
	}
	cfg := config.Default()
	cfg.CXone.Backend = config.BackendWEMv1
	cfg.CXone.BaseURL = info.BaseURL
	cfg.CXone.TokenURL = info.TokenURL
	cfg.CXone.ClientID = info.ClientID
	cfg.CXone.CAFile = info.CAFile
	cfg.CXone.ClientSecretFile = secretPath
	cfg.Agents.Mapping = config.MappingStatic
	cfg.Agents.Users = map[string]string{u.Username: info.AgentID}
	cfg.Controller.Rate = 1000
	cfg.Controller.Burst = 100
	cfg.Controller.HoldDown = config.Dur(holdDown)
	cfg.Paths.StateDir = filepath.Join(dir, "state")
	cfg.Paths.LogDir = dir
	cfg.Paths.Credential = filepath.Join(dir, "credential")
	cfg.Paths.Socket = filepath.Join(dir, "ipc.sock")
	if len(cfg.Paths.Socket) > 100 { // sun_path holds 108 bytes
		sd, err := os.MkdirTemp("", "pcipause-footprint-")
		if err != nil {
			return "", nil, fmt.Errorf("footprint: %w", err)
		}
		cfg.Paths.Socket = filepath.Join(sd, "ipc.sock")
	}
	path := filepath.Join(dir, "pcipause.toml")
	var buf bytes.Buffer
	if err := cfg.Write(&buf); err != nil {
		return "", nil, fmt.Errorf("footprint: config: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return "", nil, fmt.Errorf("footprint: config: %w", err)
	}
	return path, cfg, nil
}

// fpProc is a started process whose stderr goes to log.
type fpProc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has been waited for
}

func fpStartProc(env *xenv.Env, logPath, name string, args ...string) (*fpProc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("footprint: %w", err)
	}
	defer logf.Close()
	// Not CommandContext: cancelling must stop the process with SIGTERM, which stop does.
	cmd := env.Command(context.Background(), name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("footprint: start %s: %w", filepath.Base(name), err)
	}
	p := &fpProc{cmd: cmd, log: logPath, done: make(chan struct{})}
	go p.wait()
	return p, nil
}

func (p *fpProc) wait() { _ = p.cmd.Wait(); close(p.done) }

func (p *fpProc) pid() int { return p.cmd.Process.Pid }

func (p *fpProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and kills the process if it has not exited within 10 s.
func (p *fpProc) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// fpWaitFor polls cond every 50 ms (another process's start-up gives no event to wait on) and
// fails early when p exits.
func fpWaitFor(ctx context.Context, limit time.Duration, p *fpProc, cond func() bool) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	deadline := time.After(limit)
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return fmt.Errorf("exited: %v", p.cmd.ProcessState)
		case <-deadline:
			return fmt.Errorf("not ready after %s", limit)
		case <-t.C:
		}
	}
	return nil
}

func fpIsSocket(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode()&os.ModeSocket != 0
}

// fpSim talks to the simulator's control API over its TLS certificate.
type fpSim struct {
	url, recording string
	hc             *http.Client
}

func fpNewSim(info fpSimInfo) (*fpSim, error) {
	pem, err := os.ReadFile(info.CAFile)
	if err != nil {
		return nil, fmt.Errorf("footprint: simulator CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("footprint: simulator CA: no certificate in ca_file")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 2}
	return &fpSim{url: info.ControlURL, recording: info.RecordingID, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}, nil
}

func (s *fpSim) close() { s.hc.CloseIdleConnections() }

func (s *fpSim) do(ctx context.Context, method, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, nil)
	if err != nil {
		return err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("simulator %s %s: %s", method, path, resp.Status)
	}
	if v == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (s *fpSim) resetCalls(ctx context.Context) error {
	return s.do(ctx, http.MethodDelete, "/calls", nil)
}

func (s *fpSim) calls(ctx context.Context) ([]simCall, error) {
	var body struct {
		Calls []simCall `json:"calls"`
	}
	return body.Calls, s.do(ctx, http.MethodGet, "/calls", &body)
}

// waitStatus polls the demo recording every 2 ms until it reads want. Polling, because the
// simulator has no change notification; each poll is a keep-alive HTTPS round trip.
func (s *fpSim) waitStatus(ctx context.Context, want string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		var rec struct {
			Status string `json:"status"`
		}
		if err := s.do(ctx, http.MethodGet, "/recordings/"+s.recording, &rec); err == nil && rec.Status == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("recording never read %s: %w", want, ctx.Err())
		case <-t.C:
		}
	}
}

// fpSample is one reading of a process's /proc files.
type fpSample struct {
	at       time.Time
	rssKiB   int64
	hwmKiB   int64
	anonKiB  int64
	fileKiB  int64
	cpuTicks int64 // utime+stime of the whole process, in USER_HZ ticks
	threads  int
	fds      int
	tasks    map[int]fpTask
	err      error
}

// fpTask is one thread's counters.
type fpTask struct {
	comm     string
	runNs    int64 // schedstat: time on the CPU
	switches int64 // voluntary + nonvoluntary context switches
}

// fpStatus is what the section reads from a /proc/<pid>/status or task status file.
type fpStatus struct {
	VmRSSKiB, VmHWMKiB int64
	RssAnonKiB         int64
	RssFileKiB         int64
	Threads            int
	Voluntary          int64
	Nonvoluntary       int64
}

func fpReadProc(pid int) fpSample {
	s := fpSample{at: time.Now(), tasks: map[int]fpTask{}}
	root := fmt.Sprintf("/proc/%d", pid)
	b, err := os.ReadFile(root + "/status")
	if err != nil {
		s.err = err
		return s
	}
	st := fpParseStatus(string(b))
	s.rssKiB, s.hwmKiB, s.anonKiB, s.fileKiB, s.threads = st.VmRSSKiB, st.VmHWMKiB, st.RssAnonKiB, st.RssFileKiB, st.Threads
	if b, err = os.ReadFile(root + "/stat"); err != nil {
		s.err = err
		return s
	}
	if s.cpuTicks, err = fpParseStatCPU(string(b)); err != nil {
		s.err = err
		return s
	}
	if fds, err := os.ReadDir(root + "/fd"); err == nil {
		s.fds = len(fds)
	}
	ents, err := os.ReadDir(root + "/task")
	if err != nil {
		s.err = err
		return s
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := root + "/task/" + e.Name()
		sb, err1 := os.ReadFile(dir + "/status")
		rb, err2 := os.ReadFile(dir + "/schedstat")
		cb, _ := os.ReadFile(dir + "/comm")
		if err1 != nil || err2 != nil {
			continue // the thread exited between the listing and the read
		}
		ts := fpParseStatus(string(sb))
		run, _ := fpParseSchedstat(string(rb))
		s.tasks[tid] = fpTask{comm: strings.TrimSpace(string(cb)), runNs: run, switches: ts.Voluntary + ts.Nonvoluntary}
	}
	return s
}

// fpParseStatus reads the fields the section uses from a /proc status file; absent fields stay 0.
func fpParseStatus(text string) fpStatus {
	var st fpStatus
	for _, l := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			st.VmRSSKiB = n
		case "VmHWM":
			st.VmHWMKiB = n
		case "RssAnon":
			st.RssAnonKiB = n
		case "RssFile":
			st.RssFileKiB = n
		case "Threads":
			st.Threads = int(n)
		case "voluntary_ctxt_switches":
			st.Voluntary = n
		case "nonvoluntary_ctxt_switches":
			st.Nonvoluntary = n
		}
	}
	return st
}

// fpParseStatCPU returns utime+stime (fields 14 and 15) of a /proc/<pid>/stat line. The command
// name (field 2) may hold spaces and parentheses, so fields are counted after its last ')'.
func fpParseStatCPU(text string) (int64, error) {
	i := strings.LastIndexByte(text, ')')
	if i < 0 {
		return 0, errors.New("stat: no command name")
	}
	f := strings.Fields(text[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the command name, want at least 13", len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("stat: %w", err)
	}
	return u + s, nil
}

// fpParseSchedstat returns the first field of /proc/<pid>/task/<tid>/schedstat: nanoseconds on
// the CPU.
func fpParseSchedstat(text string) (int64, error) {
	f := strings.Fields(text)
	if len(f) == 0 {
		return 0, errors.New("schedstat: empty")
	}
	return strconv.ParseInt(f[0], 10, 64)
}

// growth is the least-squares slope, in KiB per episode, of pick(sample) over the second half
// of the episodes; 0 with fewer than three samples there.
func fpGrowth(samples []FootprintSample, pick func(FootprintSample) float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	half := samples[len(samples)-1].Episodes / 2
	var xs, ys []float64
	for _, s := range samples {
		if s.Episodes >= half {
			xs, ys = append(xs, float64(s.Episodes)), append(ys, pick(s)*1024)
		}
	}
	return fpSlope(xs, ys)
}

// slope is the least-squares slope of ys over xs; 0 if undefined.
func fpSlope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if len(xs) < 3 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// fpDetectorBench runs the detector's per-key benchmarks of hooks/detect with the go command
// and parses them. The output is kept in dir.
func fpDetectorBench(ctx context.Context, quick bool, dir string) ([]DetectorBench, error) {
	args := []string{"test", "-run", "^$", "-bench", "BenchmarkDetectorKey|BenchmarkGuardKey", "-benchmem", "-count", "1"}
	if quick {
		args = append(args, "-benchtime", "300ms")
	}
	args = append(args, "./hooks/detect")
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
	_ = os.WriteFile(filepath.Join(dir, "detector-bench.txt"), out, 0o644)
	if err != nil {
		return nil, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, fpFirstLine(out))
	}
	var res []DetectorBench
	for _, l := range strings.Split(string(out), "\n") {
		if g, ok := fpParseBenchLine(l); ok {
			res = append(res, g)
		}
	}
	if len(res) == 0 {
		return nil, errors.New("no benchmark lines in the output")
	}
	return res, nil
}

// fpParseBenchLine parses one result line of `go test -bench -benchmem`, such as
// "BenchmarkGuardKey-2   1000000   35.2 ns/op   0 B/op   0 allocs/op".
func fpParseBenchLine(line string) (DetectorBench, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return DetectorBench{}, false
	}
	if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
		return DetectorBench{}, false
	}
	g := DetectorBench{Name: f[0], NsPerOp: math.NaN()}
	if i := strings.LastIndexByte(g.Name, '-'); i > 0 {
		if _, err := strconv.Atoi(g.Name[i+1:]); err == nil {
			g.Name = g.Name[:i]
		}
	}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			continue
		}
		switch f[i+1] {
		case "ns/op":
			g.NsPerOp = v
		case "B/op":
			g.BytesPerOp = v
		case "allocs/op":
			g.AllocsPerOp = v
		}
	}
	if math.IsNaN(g.NsPerOp) {
		return DetectorBench{}, false
	}
	return g, true
}

// fpBinarySizes lists every regular file in binDir and dist/windows-amd64/*.exe beside it.
func fpBinarySizes(binDir string) ([]BinarySize, error) {
	var out []BinarySize
	ents, err := os.ReadDir(binDir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			p := filepath.Join(binDir, e.Name())
			out = append(out, BinarySize{Path: p, Bytes: fi.Size(), Symbols: fpHasSymbols(p)})
		}
	}
	win, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Clean(binDir)), "windows-amd64", "*.exe"))
	for _, p := range win {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			out = append(out, BinarySize{Path: p, Bytes: fi.Size(), Symbols: fpHasSymbols(p)})
		}
	}
	return out, nil
}

// fpHasSymbols reports whether an ELF or PE executable still holds a symbol table; false for
// anything else.
func fpHasSymbols(path string) bool {
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		return f.Section(".symtab") != nil
	}
	if f, err := pe.Open(path); err == nil {
		defer f.Close()
		return f.FileHeader.NumberOfSymbols > 0
	}
	return false
}

// fpWriteThreads keeps the per-thread idle wakeups in the raw folder for diagnosis.
func fpWriteThreads(path string, f *FootprintResult) error {
	var w strings.Builder
	for _, p := range []struct {
		name string
		pf   ProcFootprint
	}{{"service", f.Service}, {"helper", f.Helper}} {
		fmt.Fprintf(&w, "%s: %.2f context switches/s over %.0f s idle\n", p.name, p.pf.IdleWakeupsPerS, f.IdleWindowS)
		for _, t := range p.pf.IdleThreadWakeups {
			fmt.Fprintf(&w, "  %s\n", t)
		}
	}
	return os.WriteFile(path, []byte(w.String()), 0o644)
}

func (f *FootprintResult) report(b *Bench) (string, error) {
	var w strings.Builder
	w.WriteString("## Footprint\n\n")
	fmt.Fprintf(&w, "The service (`pcipause service --foreground`) and the session helper (`pcipause-session --no-tray`) ran as separate processes, as in production, against `pcipause sim --tls` in a third; the helper on the bench's Xvfb (which has its own D-Bus session bus, so the helper holds its AT-SPI connection) with an xterm open, without a tray icon (a production desktop adds one). Config: production defaults except the controller's rate and burst (1000/s, 100), so back-to-back episodes are not throttled, and `hold_down` = %.0f ms; the simulator ran with `--rate 1000 --burst 1000`. Memory is read from `/proc/<pid>/status` after a %.0f s settle; CPU and wakeups over %.0f s with nobody typing. Section took %.0f s.\n\n",
		f.HoldDownMs, f.SettleS, f.IdleWindowS, f.DurationS)
	fmt.Fprintf(&w, "| | service | helper | target |\n|---|---|---|---|\n")
	row := func(what, target string, v func(ProcFootprint) string) {
		fmt.Fprintf(&w, "| %s | %s | %s | %s |\n", what, v(f.Service), v(f.Helper), target)
	}
	row("RSS idle (VmRSS)", fmt.Sprintf("≤ %d MiB", fpRSSTargetMiB), func(p ProcFootprint) string { return fmt.Sprintf("%.1f MiB", p.IdleRSSMiB) })
	row("peak RSS at idle (VmHWM)", "", func(p ProcFootprint) string { return fmt.Sprintf("%.1f MiB", p.IdleHWMMiB) })
	row(fmt.Sprintf("RSS after %d episodes (VmRSS)", f.EpisodesAttempted), fmt.Sprintf("≤ %d MiB", fpRSSTargetMiB), func(p ProcFootprint) string { return fmt.Sprintf("%.1f MiB", p.AfterRSSMiB) })
	row("peak RSS after the episodes (VmHWM)", "", func(p ProcFootprint) string { return fmt.Sprintf("%.1f MiB", p.AfterHWMMiB) })
	row("of which anonymous (RssAnon), idle → after", "", func(p ProcFootprint) string {
		return fmt.Sprintf("%.1f → %.1f MiB", p.IdleAnonMiB, p.AfterAnonMiB)
	})
	row("of which file-backed (RssFile: binary, state file), idle → after", "", func(p ProcFootprint) string {
		return fmt.Sprintf("%.1f → %.1f MiB", p.IdleFileMiB, p.AfterFileMiB)
	})
	row("RSS slope over the second half of the episodes", "", func(p ProcFootprint) string { return fmt.Sprintf("%+.2f KiB/episode", p.RSSGrowthKiBPerEpisode) })
	row("idle CPU, utime+stime (10 ms ticks)", fmt.Sprintf("≤ %.1f %% of one core", fpIdleCPUTargetPct), func(p ProcFootprint) string { return fmt.Sprintf("%.3f %%", p.IdleCPUPct) })
	row("idle CPU, schedstat run time (ns)", "", func(p ProcFootprint) string { return fmt.Sprintf("%.3f %%", p.IdleCPUPctSched) })
	row("idle wakeups/s (≈ context switches, all threads)", "", func(p ProcFootprint) string { return fmt.Sprintf("%.1f", p.IdleWakeupsPerS) })
	row("CPU per episode (utime+stime)", "", func(p ProcFootprint) string { return fmt.Sprintf("%.2f ms", p.EpisodeCPUMs) })
	row("threads idle → after", "", func(p ProcFootprint) string { return fmt.Sprintf("%d → %d", p.ThreadsIdle, p.ThreadsAfter) })
	row("open descriptors idle → after", "", func(p ProcFootprint) string { return fmt.Sprintf("%d → %d", p.FDsIdle, p.FDsAfter) })
	w.WriteString("\n")
	fmt.Fprintf(&w, "MiB = 2²⁰ bytes; the target's \"30 MB\" is read as 30 MiB (30 × 10⁶ bytes would be 28.6 MiB). Wakeups are **approximated** by the voluntary plus nonvoluntary context switches summed over the process's threads (`/proc/<pid>/task/*/status`): every wakeup of a sleeping thread is a voluntary switch when it sleeps again, and preemptions add nonvoluntary ones. The per-thread breakdown is in `%s/footprint/idle-threads.txt`.\n\n", filepath.Base(b.Raw))

	ops := make([]string, 0, len(f.CallsByOp))
	for op := range f.CallsByOp {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	var opText []string
	for _, op := range ops {
		opText = append(opText, fmt.Sprintf("%s %d", op, f.CallsByOp[op]))
	}
	fmt.Fprintf(&w, "**Episodes.** %d attempted in %.0f s: a test card number (the four well-known ones in turn) typed by xdotool at %d ms per key into the xterm's prompt, detected by the real helper, masked, sent to the service and paused in the simulator; then Ctrl+U, the helper's hold-down, the service's hold-down and the resume. The bench waited for the simulator's recording to read PAUSED, then RECORDING, before the next episode. %d complete end to end; the simulator answered **%d pauses and %d resumes** (calls by op: %s; %d not 2xx; %.2f calls per episode without token requests; %d of the pauses came straight after a listing). From the start of typing, PAUSED was read after p50 %.1f ms, p99 %.1f ms; a whole episode took p50 %.1f ms. State file after the episodes: %.1f KiB. The call log (no bodies) is in `%s/footprint/calls.txt`.\n\n",
		f.EpisodesAttempted, f.EpisodesS, f.KeyDelayMs, f.EpisodesComplete, f.PausesSeen, f.ResumesSeen, strings.Join(opText, ", "),
		f.CallsFailed, f.CallsPerEpisode, f.PausesAfterList, f.PauseSeen.P50Ms, f.PauseSeen.P99Ms, f.Episode.P50Ms,
		float64(f.StateFileBytes)/1024, filepath.Base(b.Raw))
	if f.PausesSeen != f.EpisodesAttempted || f.ResumesSeen != f.EpisodesAttempted || len(f.Incomplete) > 0 {
		fmt.Fprintf(&w, "Not every episode got its own pause and resume (%d attempted).", f.EpisodesAttempted)
		if f.SelfCheckFailures > 0 {
			fmt.Fprintf(&w, " The helper logged %d overlay self-check failure(s); on each the service holds the recording paused until a later self-check passes, so the episode in flight reads no RECORDING and the next one finds the recording already paused.", f.SelfCheckFailures)
		}
		w.WriteString(" Incomplete episodes:\n\n")
		for _, x := range f.Incomplete {
			fmt.Fprintf(&w, "- %s\n", x)
		}
		w.WriteString("\n")
	}

	bars := filepath.Join(b.Out, "footprint_rss.png")
	err := plotBars(bars, "Resident memory", "MiB", []string{"service", "helper"}, []series{
		{Name: "idle VmRSS", Y: []float64{f.Service.IdleRSSMiB, f.Helper.IdleRSSMiB}},
		{Name: fmt.Sprintf("VmRSS after %d episodes", f.EpisodesAttempted), Y: []float64{f.Service.AfterRSSMiB, f.Helper.AfterRSSMiB}},
		{Name: "VmHWM (peak) after", Y: []float64{f.Service.AfterHWMMiB, f.Helper.AfterHWMMiB}},
	}, hline{Name: fmt.Sprintf("target %d MiB", fpRSSTargetMiB), Y: fpRSSTargetMiB})
	if err == nil {
		fmt.Fprintf(&w, "![RSS idle and after the episodes](%s)\n\n", filepath.Base(bars))
	}
	if len(f.RSSSamples) > 1 {
		line := filepath.Join(b.Out, "footprint_rss_episodes.png")
		var sv, hv series
		sv.Name, hv.Name = "service", "helper"
		for _, s := range f.RSSSamples {
			sv.X, sv.Y = append(sv.X, float64(s.Episodes)), append(sv.Y, s.ServiceMiB)
			hv.X, hv.Y = append(hv.X, float64(s.Episodes)), append(hv.Y, s.HelperMiB)
		}
		if e := plotLines(line, "VmRSS during the episodes", "episodes", "MiB", false, []series{sv, hv},
			hline{Name: fmt.Sprintf("target %d MiB", fpRSSTargetMiB), Y: fpRSSTargetMiB}); e == nil {
			fmt.Fprintf(&w, "![VmRSS during the episodes](%s)\n\n", filepath.Base(line))
		} else {
			err = errors.Join(err, e)
		}
	}

	if len(f.Detector) > 0 {
		w.WriteString("**Detector, per key** (`go test -run '^$' -bench 'BenchmarkDetectorKey|BenchmarkGuardKey' -benchmem ./hooks/detect`; the keys of a grouped card number then Backspaces, the guard with a no-op mask):\n\n| benchmark | ns/op | B/op | allocs/op |\n|---|---|---|---|\n")
		for _, g := range f.Detector {
			fmt.Fprintf(&w, "| `%s` | %.1f | %.0f | %.0f |\n", g.Name, g.NsPerOp, g.BytesPerOp, g.AllocsPerOp)
		}
		w.WriteString("\n")
	}
	if len(f.Binaries) > 0 {
		w.WriteString("**Binaries** (as found when the section started, so the service and helper measured above are these files; `make build` links with `-s -w`, so a file that still has a symbol table is larger than what ships):\n\n| file | size | symbol table |\n|---|---|---|\n")
		for _, bin := range f.Binaries {
			sym := "stripped"
			if bin.Symbols {
				sym = "**present** (not the shipped size)"
			}
			fmt.Fprintf(&w, "| `%s` | %.1f MiB (%d bytes) | %s |\n", bin.Path, float64(bin.Bytes)/(1<<20), bin.Bytes, sym)
		}
		w.WriteString("\n")
	}
	for _, n := range f.Notes {
		fmt.Fprintf(&w, "- Note: %s\n", n)
	}
	return w.String(), err
}

func (f *FootprintResult) targets() []target {
	rss := func(who, when string, v float64) target {
		return target{what: fmt.Sprintf("%s RSS %s", who, when), goal: fmt.Sprintf("≤ %d MiB", fpRSSTargetMiB),
			got: fmt.Sprintf("%.1f MiB", v), met: v <= fpRSSTargetMiB, known: v > 0}
	}
	cpu := func(who string, v float64) target {
		return target{what: who + " idle CPU", goal: fmt.Sprintf("≤ %.1f %% of one core", fpIdleCPUTargetPct),
			got: fmt.Sprintf("%.3f %% over %.0f s", v, f.IdleWindowS), met: v <= fpIdleCPUTargetPct, known: f.IdleWindowS > 0}
	}
	after := fmt.Sprintf("after %d episodes", f.EpisodesAttempted)
	return []target{
		rss("service", "idle", f.Service.IdleRSSMiB),
		rss("service", after, f.Service.AfterRSSMiB),
		rss("helper", "idle", f.Helper.IdleRSSMiB),
		rss("helper", after, f.Helper.AfterRSSMiB),
		cpu("service", f.Service.IdleCPUPct),
		cpu("helper", f.Helper.IdleCPUPct),
	}
}

func fpMiB(kib int64) float64 { return float64(kib) / 1024 }

func fpSecs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func fpSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func fpFirstLine(b []byte) string {
	l, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return l
}
