package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"pcipause/daemon/audit"
	"pcipause/daemon/cxone"
	"pcipause/daemon/store"
)

// statusNotApplicable marks a target the back end refused as not maskable (422 internal call).
const statusNotApplicable cxone.Status = "NOT_APPLICABLE"

// errYield makes a low-priority reconcile step give its worker to waiting pause work.
var errYield = errors.New("yield to pause work")

// Run reconciles until ctx is cancelled; it returns nil then. It owns its worker goroutines
// and waits for them before returning.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range c.cfg.Workers {
		wg.Go(func() { c.worker(ctx) })
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

func (c *Controller) worker(ctx context.Context) {
	for {
		a, p, ok := c.next(ctx)
		if !ok {
			return
		}
		err := c.reconcile(ctx, a, p)
		c.finish(ctx, a, err)
	}
}

// next hands out the most urgent due agent: pause work first, then the earliest due.
func (c *Controller) next(ctx context.Context) (*agentState, prio, bool) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	c.mu.Lock()
	c.idle++
	defer func() { c.mu.Lock(); c.idle--; c.mu.Unlock() }()
	for {
		if ctx.Err() != nil {
			c.mu.Unlock()
			return nil, 0, false
		}
		now := time.Now()
		var best *agentState
		bestP := prioLow
		wait := time.Hour
		for _, a := range c.ags {
			if a.running || a.due.IsZero() {
				continue
			}
			if d := a.due.Sub(now); d > 0 {
				wait = min(wait, d)
				continue
			}
			p := c.prioLocked(a)
			if best == nil || p > bestP || p == bestP && a.due.Before(best.due) {
				best, bestP = a, p
			}
		}
		if best != nil {
			best.running, best.again, best.runPrio = true, false, bestP
			c.mu.Unlock()
			return best, bestP, true
		}
		ch := c.chg
		c.mu.Unlock()
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil, 0, false
		case <-ch:
		case <-timer.C:
		}
		c.mu.Lock()
	}
}

func (c *Controller) prioLocked(a *agentState) prio {
	if len(a.episodes) > 0 && !a.converged {
		return prioPause
	}
	return prioLow
}

// reconcile moves one agent one step towards its desired state.
func (c *Controller) reconcile(ctx context.Context, a *agentState, p prio) error {
	c.mu.Lock()
	open := len(a.episodes) > 0
	opening := a.opening > 0
	holdUntil := a.lastClose.Add(c.cfg.HoldDown)
	poll := a.poll
	a.poll = false
	c.mu.Unlock()
	switch {
	case open:
		return c.ensurePaused(ctx, a, p, poll)
	case opening:
		return nil // the Open being committed triggers the agent when its window is in
	case time.Now().Before(holdUntil):
		return nil // finish schedules the end of the hold-down
	default:
		return c.ensureResumed(ctx, a, poll)
	}
}

// finish schedules the agent's next step.
func (c *Controller) finish(ctx context.Context, a *agentState, err error) {
	var dropIntent bool
	c.mu.Lock()
	defer func() {
		c.signalLocked()
		c.mu.Unlock()
		if dropIntent {
			if err := c.st.Commit(func(tx *store.Tx) error { return tx.DeleteIntent(a.id) }); err != nil {
				c.fault("drop intent", err)
			}
		}
	}()
	a.running = false
	now := time.Now()
	if ctx.Err() != nil {
		return
	}
	if a.again {
		a.again, a.due = false, now
		return
	}
	if errors.Is(err, errYield) {
		a.due = now
		return
	}
	if err != nil {
		a.attempt++
		a.due = now.Add(c.backoffLocked(err, a.attempt))
		if !errors.Is(err, errPendingWork) {
			c.lerr, c.lat = err.Error(), now
		}
		return
	}
	a.attempt = 0
	switch {
	case len(a.episodes) > 0:
		a.converged = true
		a.due, a.poll = now.Add(c.cfg.PollIntervalPaused), true
	case now.Before(a.lastClose.Add(c.cfg.HoldDown)):
		a.due = a.lastClose.Add(c.cfg.HoldDown)
	default:
		pausedByUs := false
		for _, k := range a.listed {
			if t := c.tgs[k]; t != nil && t.PausedByUs {
				pausedByUs = true
			}
		}
		switch {
		case pausedByUs:
			a.due, a.poll = now.Add(c.cfg.PollIntervalPaused), true
		case len(a.listed) > 0:
			a.due, a.poll = now.Add(c.cfg.PollInterval), true
			dropIntent = a.intent
			a.intent = false
		default:
			a.due = time.Time{}
			dropIntent = a.intent
			a.intent = false
		}
	}
}

// errPendingWork is a soft error: something is still being applied (202/425) and will be
// re-read after the paused poll interval, not backed off exponentially.
var errPendingWork = errors.New("change still being applied")

func (c *Controller) backoffLocked(err error, attempt int) time.Duration {
	if errors.Is(err, errPendingWork) {
		return c.cfg.PollIntervalPaused
	}
	var ae *cxone.APIError
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		j := min(ae.RetryAfter/2, time.Second)
		return ae.RetryAfter + time.Duration(c.rnd.Int64N(int64(j)+1))
	}
	d := c.cfg.BaseBackoff
	for i := 1; i < attempt && d < c.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.cfg.MaxBackoff)
	return d/2 + time.Duration(c.rnd.Int64N(int64(d/2)+1))
}

// acquire waits for permission to make one call: the org-wide 429 block, then (for low
// priority) until no pause work is running or waiting, then a token.
func (c *Controller) acquire(ctx context.Context, p prio, cost int) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		c.mu.Lock()
		wait := c.bu.Sub(now)
		var ch chan struct{}
		if wait <= 0 && p == prioLow {
			running, ready := c.pauseWorkLocked(now)
			if ready > 0 && c.idle == 0 {
				c.mu.Unlock()
				return errYield
			}
			if running > 0 || ready > 0 {
				ch = c.chg
			}
		}
		c.mu.Unlock()
		if wait <= 0 && ch == nil {
			if p == prioPause {
				return c.lim.WaitN(ctx, cost)
			}
			// Low priority never queues a reservation ahead of a pause: take a token only
			// when one is there now.
			r := c.lim.ReserveN(time.Now(), cost)
			d := r.Delay()
			if d == 0 {
				return nil
			}
			r.Cancel()
			wait = d
		}
		if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		case <-ch:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	}
}

func (c *Controller) pauseWorkLocked(now time.Time) (running, ready int) {
	for _, a := range c.ags {
		if a.running {
			if a.runPrio == prioPause {
				running++
			}
			continue
		}
		if len(a.episodes) > 0 && !a.converged && !a.due.IsZero() && !a.due.After(now) {
			ready++
		}
	}
	return running, ready
}

// outcome is the audit word for a call's result.
func outcome(err error) (string, int) {
	if err == nil {
		return "ok", 0
	}
	var ae *cxone.APIError
	code := 0
	if errors.As(err, &ae) {
		code = ae.StatusCode
	}
	for _, k := range []error{cxone.ErrNotFound, cxone.ErrConflict, cxone.ErrRateLimited, cxone.ErrPending,
		cxone.ErrNotApplicable, cxone.ErrForbidden, cxone.ErrUnauthorized, cxone.ErrTransient,
		cxone.ErrMalformed, cxone.ErrBadRequest, context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, k) {
			return k.Error(), code
		}
	}
	return "error", code
}

// call makes one rate-limited CXone call and returns its audit record.
func (c *Controller) call(ctx context.Context, p prio, rec audit.Record, fn func(context.Context) error) (audit.Record, error) {
	cost := 1
	if rec.Op == "list" && c.be.Name() == cxone.BackendWEMv1 {
		cost = 2 // wem-v1 lists RECORDING and PAUSED recordings in two requests
	}
	if err := c.acquire(ctx, p, cost); err != nil {
		return rec, err
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	start := time.Now()
	err := fn(cctx)
	lat := time.Since(start)
	cancel()
	rec.Type = audit.TypeAPICall
	rec.Time = start
	rec.LatencyUS = lat.Microseconds()
	rec.Outcome, rec.HTTPStatus = outcome(err)
	if err != nil {
		var ae *cxone.APIError
		if errors.As(err, &ae) {
			if ae.RetryAfter > 0 && errors.Is(err, cxone.ErrRateLimited) {
				c.mu.Lock()
				j := time.Duration(c.rnd.Int64N(int64(min(ae.RetryAfter/2, time.Second)) + 1))
				if bu := time.Now().Add(ae.RetryAfter + j); bu.After(c.bu) {
					c.bu = bu
				}
				c.mu.Unlock()
			}
			if ae.Scope != "" {
				rec.Detail = "likely missing scope " + ae.Scope
			}
		}
		c.log.Warn("cxone call failed", "op", rec.Op, "target", rec.Target, "agent", rec.Agent, "err", err)
	}
	return rec, err
}

// interactionKey is the interactions-bucket key of a target: its interaction, or
// "agent:<id>" when the back end does not say.
func interactionKey(t cxone.Target) string {
	if t.InteractionID != "" {
		return t.InteractionID
	}
	return "agent:" + t.AgentID
}

// commit makes target changes and audit records durable together.
func (c *Controller) commit(ts []store.Target, rs []audit.Record) {
	c.commitAll(ts, nil, rs)
}

func (c *Controller) commitAll(ts []store.Target, ins []store.Interaction, rs []audit.Record) {
	if len(ts) == 0 && len(rs) == 0 && len(ins) == 0 {
		return
	}
	err := c.st.Commit(func(tx *store.Tx) error {
		for _, in := range ins {
			if err := tx.PutInteraction(in); err != nil {
				return err
			}
		}
		for _, t := range ts {
			if t.Target.ID == "" {
				continue // forgotten meanwhile (ended by the webhook or a poll)
			}
			if t.Ended {
				if err := tx.DeleteTarget(t.Target); err != nil {
					return err
				}
				continue
			}
			if err := tx.PutTarget(t); err != nil {
				return err
			}
		}
		for _, r := range rs {
			if err := tx.Audit(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.fault("persist", err)
	}
}

// list re-reads the agent's active targets. A target missing from the listing that we never
// paused is forgotten; one we paused stays until a read confirms it ended.
func (c *Controller) list(ctx context.Context, a *agentState, p prio) error {
	var got []cxone.Target
	rec, err := c.call(ctx, p, audit.Record{Op: "list", Agent: a.id}, func(ctx context.Context) error {
		var err error
		got, err = c.be.ListActive(ctx, a.id)
		return err
	})
	if err != nil {
		if errors.Is(err, errYield) || ctx.Err() != nil {
			return err
		}
		c.commit(nil, []audit.Record{rec})
		return fmt.Errorf("list agent %s: %w", a.id, err)
	}
	now := time.Now()
	var changed []store.Target
	var recs []audit.Record
	rec.Detail = fmt.Sprintf("%d active", len(got))
	recs = append(recs, rec)
	c.mu.Lock()
	seen := map[string]bool{}
	var keys []string
	for _, t := range got {
		if t.AgentID == "" {
			t.AgentID = a.id
		}
		if t.AgentID != a.id || t.ID == "" {
			continue // never adopt another agent's target
		}
		k := t.String()
		if seen[k] {
			continue
		}
		seen[k] = true
		keys = append(keys, k)
		old := c.tgs[k]
		switch {
		case old == nil:
			nt := &store.Target{Target: t, LastSeen: now, Updated: now}
			c.tgs[k] = nt
			changed = append(changed, *nt)
		case old.Target.InteractionID != t.InteractionID:
			// The back end now binds this id to another interaction: take its word and
			// forget what we knew, so no state crosses interactions.
			recs = append(recs, audit.Record{Type: audit.TypeTargetStatus, Agent: a.id, Target: k,
				Interaction: t.InteractionID, Detail: "target now reported on interaction " + t.InteractionID + " (was " + old.Target.InteractionID + ")"})
			old.Target = t
			if old.Known == statusNotApplicable {
				old.Known = ""
			}
			old.LastSeen, old.Updated = now, now
			changed = append(changed, *old)
		default:
			old.LastSeen = now
		}
	}
	for _, k := range a.listed {
		if seen[k] {
			continue
		}
		t := c.tgs[k]
		if t == nil {
			continue
		}
		if t.PausedByUs {
			keys = append(keys, k) // keep it until a read confirms it ended
			a.vanished = append(a.vanished, k)
			continue
		}
		c.endLocked(t)
		changed = append(changed, *t)
		recs = append(recs, audit.Record{Type: audit.TypeTargetEnded, Agent: a.id, Interaction: t.Target.InteractionID,
			Target: k, Detail: "no longer in the agent's active list"})
	}
	sort.Strings(keys)
	a.listed, a.listedAt = keys, now
	c.mu.Unlock()
	c.commit(changed, recs)
	return nil
}

// needListLocked: an open window names an interaction the last listing, taken before the
// window opened, does not know; the cached ids may belong to an earlier interaction.
func (c *Controller) needListLocked(a *agentState) bool {
	for _, e := range a.episodes {
		if e.InteractionID == "" || !a.listedAt.Before(e.OpenedAt) {
			continue
		}
		found := false
		for _, k := range a.listed {
			if t := c.tgs[k]; t != nil && t.Target.InteractionID == e.InteractionID {
				found = true
			}
		}
		if !found {
			return true
		}
	}
	return false
}

type scopeNote struct {
	episode store.Episode
	kind    string // audit.TypeAmbiguous or "none"
	detail  string
}

// scopeLocked is the set of target keys that must be paused for the agent's open windows.
func (c *Controller) scopeLocked(a *agentState) []string {
	keys, _ := c.scopeNotesLocked(a)
	return keys
}

func (c *Controller) scopeNotesLocked(a *agentState) ([]string, []scopeNote) {
	var live []*store.Target
	for _, k := range a.listed {
		if t := c.tgs[k]; t != nil && !t.Ended && t.Known != statusNotApplicable {
			live = append(live, t)
		}
	}
	want := map[string]bool{}
	var notes []scopeNote
	for _, e := range a.episodes {
		if e.InteractionID != "" {
			n := 0
			for _, t := range live {
				if t.Target.InteractionID == e.InteractionID {
					want[t.Target.String()] = true
					n++
				}
			}
			if n > 0 {
				continue
			}
		}
		inter := map[string]bool{}
		for _, t := range live {
			want[t.Target.String()] = true
			inter[t.Target.InteractionID] = true
		}
		switch {
		case len(live) == 0:
			notes = append(notes, scopeNote{e, "none", "no active recording for the agent"})
		case e.InteractionID != "":
			notes = append(notes, scopeNote{e, audit.TypeAmbiguous, fmt.Sprintf("interaction %s has no active recording in the listing; paused all %d of the agent's", e.InteractionID, len(live))})
		case len(inter) > 1 || inter[""] && len(live) > 1:
			notes = append(notes, scopeNote{e, audit.TypeAmbiguous, fmt.Sprintf("interaction unknown and the agent has %d active targets on %d interactions; paused all", len(live), len(inter))})
		}
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, notes
}

// pauseRequestLocked builds the guide's pause payload from the earliest open window that
// concerns the target.
func (c *Controller) pauseRequestLocked(a *agentState, t cxone.Target) (cxone.PauseRequest, string) {
	var best *store.Episode
	for _, e := range a.episodes {
		e := e
		if best == nil || (e.InteractionID == t.InteractionID && best.InteractionID != t.InteractionID) ||
			(e.InteractionID == best.InteractionID) && e.OpenedAt.Before(best.OpenedAt) {
			best = &e
		}
	}
	if best == nil {
		return cxone.PauseRequest{Reason: ReasonPCIDetected, DetectionTimestamp: time.Now()}, ""
	}
	return cxone.PauseRequest{Reason: best.Reason, Field: best.Field, DetectionTimestamp: best.OpenedAt,
		ComplianceRule: best.Rule}, best.Episode
}

// ensurePaused pauses every in-scope target of an agent with open windows.
func (c *Controller) ensurePaused(ctx context.Context, a *agentState, p prio, poll bool) error {
	for round := 0; round < 3; round++ {
		c.mu.Lock()
		need := poll || a.listedAt.IsZero() || time.Since(a.listedAt) >= c.cfg.RefreshInterval || c.needListLocked(a)
		c.mu.Unlock()
		poll = false
		var listErr error
		if need {
			if err := c.list(ctx, a, p); err != nil {
				if errors.Is(err, errYield) || ctx.Err() != nil {
					return err
				}
				listErr = err // fail closed: still pause what we know
			}
		}
		c.confirmVanished(ctx, a, p)
		again, err := c.pauseScope(ctx, a, p)
		if err != nil {
			return err
		}
		if listErr != nil {
			return listErr
		}
		if !again {
			return nil
		}
		// A target in scope turned out to be gone: the listing was stale, read it again.
		c.mu.Lock()
		a.listedAt = time.Time{}
		c.mu.Unlock()
	}
	return nil
}

func (c *Controller) pauseScope(ctx context.Context, a *agentState, p prio) (relist bool, err error) {
	c.mu.Lock()
	scope, notes := c.scopeNotesLocked(a)
	var mark []store.Target
	var recs []audit.Record
	for _, n := range notes {
		seen := a.ambiguous
		if n.kind == "none" {
			seen = a.noTargets
		}
		if seen[n.episode.Episode] {
			continue
		}
		seen[n.episode.Episode] = true
		typ := n.kind
		if typ == "none" {
			typ = audit.TypeFault
		}
		recs = append(recs, audit.Record{Type: typ, Agent: a.id, Interaction: n.episode.InteractionID,
			Episode: n.episode.Episode, Detail: n.detail})
	}
	now := time.Now()
	var ins []store.Interaction
	seenIn := map[string]bool{}
	for _, k := range scope {
		t := c.tgs[k]
		if t.PausedByUs && t.Desired == cxone.StatusPaused {
			continue
		}
		t.PausedByUs, t.Desired, t.Updated = true, cxone.StatusPaused, now
		mark = append(mark, *t)
		if id := interactionKey(t.Target); !seenIn[id] {
			seenIn[id] = true
			ins = append(ins, store.Interaction{ID: id, AgentID: a.id, PCIOpen: true, Since: now, Desired: cxone.StatusPaused})
		}
	}
	c.mu.Unlock()
	// The intent for each target is durable before its first call.
	c.commitAll(mark, ins, recs)

	var firstErr error
	pending := false
	for _, k := range scope {
		c.mu.Lock()
		tp := c.tgs[k]
		if tp == nil || len(a.episodes) == 0 {
			c.mu.Unlock()
			continue
		}
		t := *tp
		req, ep := c.pauseRequestLocked(a, t.Target)
		c.mu.Unlock()
		if t.Known == cxone.StatusPaused && !t.Pending {
			continue // the store knows it is applied
		}
		var err error
		var ended bool
		if t.Pending {
			ended, pending, err = c.readPending(ctx, a, p, t, true)
		} else {
			ended, pending, err = c.pauseOne(ctx, a, p, t, req, ep)
		}
		if ended {
			relist = true
		}
		if err != nil {
			if errors.Is(err, errYield) || ctx.Err() != nil {
				return false, err
			}
			if firstErr == nil || errors.Is(err, cxone.ErrRateLimited) {
				firstErr = err
			}
		}
	}
	if firstErr != nil {
		return relist, firstErr
	}
	if pending {
		return relist, errPendingWork
	}
	return relist, nil
}

// update applies fn to the live target record and returns a copy for commit.
func (c *Controller) update(k string, fn func(t *store.Target)) (store.Target, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tgs[k]
	if t == nil {
		return store.Target{}, false
	}
	fn(t)
	t.Updated = time.Now()
	if t.Ended {
		c.endLocked(t)
	}
	return *t, true
}

func (c *Controller) pauseOne(ctx context.Context, a *agentState, p prio, t store.Target, req cxone.PauseRequest, ep string) (ended, pending bool, err error) {
	k := t.Target.String()
	rec, err := c.call(ctx, p, audit.Record{Op: "pause", Agent: a.id, Interaction: t.Target.InteractionID, Episode: ep,
		Target: k, Reason: req.Reason, Field: req.Field, Rule: req.ComplianceRule,
		Meta: map[string]string{"detectionTimestamp": stamp(req.DetectionTimestamp)}},
		func(ctx context.Context) error { return c.be.Pause(ctx, t.Target, req) })
	if errors.Is(err, errYield) || ctx.Err() != nil && err != nil {
		return false, false, err
	}
	recs := []audit.Record{rec}
	switch {
	case err == nil:
		nt, ok := c.update(k, func(t *store.Target) { t.Known, t.Pending = cxone.StatusPaused, false })
		if ok {
			c.commit([]store.Target{nt}, recs)
		}
		return false, false, nil
	case errors.Is(err, cxone.ErrPending):
		nt, _ := c.update(k, func(t *store.Target) { t.Pending = true })
		c.commit([]store.Target{nt}, recs)
		return false, true, nil
	case errors.Is(err, cxone.ErrNotFound):
		nt, _ := c.update(k, func(t *store.Target) { t.Ended = true })
		recs = append(recs, audit.Record{Type: audit.TypeDrop, Agent: a.id, Target: k, Interaction: t.Target.InteractionID,
			Op: "pause", Detail: "target not found (ended or no active call); pause dropped"})
		c.commit([]store.Target{nt}, recs)
		return true, false, nil
	case errors.Is(err, cxone.ErrNotApplicable):
		nt, _ := c.update(k, func(t *store.Target) { t.Known, t.PausedByUs = statusNotApplicable, false })
		recs = append(recs, audit.Record{Type: audit.TypeDrop, Agent: a.id, Target: k, Interaction: t.Target.InteractionID,
			Op: "pause", Detail: "back end says the call cannot be masked (internal call); pause dropped"})
		c.commit([]store.Target{nt}, recs)
		return false, false, nil
	case errors.Is(err, cxone.ErrConflict):
		c.commit(nil, recs)
		return c.readPending(ctx, a, p, t, true)
	default:
		c.commit(nil, recs)
		return false, false, err
	}
}

// readPending GETs a target after a 409 or while a change is still being applied, and
// records what it says. For pauses (wantPaused) a RECORDING answer is returned as an error so
// the pause is retried after a backoff, never stacked.
func (c *Controller) readPending(ctx context.Context, a *agentState, p prio, t store.Target, wantPaused bool) (ended, pending bool, err error) {
	k := t.Target.String()
	var st cxone.State
	rec, err := c.call(ctx, p, audit.Record{Op: "get", Agent: a.id, Target: k, Interaction: t.Target.InteractionID},
		func(ctx context.Context) error {
			var err error
			st, err = c.be.Get(ctx, t.Target)
			return err
		})
	if errors.Is(err, errYield) || ctx.Err() != nil && err != nil {
		return false, false, err
	}
	if err == nil {
		rec.Detail = string(st.Status)
		if st.Pending {
			rec.Detail += " (pending)"
		}
	}
	recs := []audit.Record{rec}
	switch {
	case errors.Is(err, cxone.ErrNotFound) || err == nil && st.Status == cxone.StatusEnded:
		nt, _ := c.update(k, func(t *store.Target) { t.Ended = true })
		recs = append(recs, audit.Record{Type: audit.TypeDrop, Agent: a.id, Target: k, Interaction: t.Target.InteractionID,
			Detail: "target ended; pending work dropped"})
		c.commit([]store.Target{nt}, recs)
		return true, false, nil
	case err != nil:
		c.commit(nil, recs)
		return false, false, err
	case st.Pending:
		c.commit(nil, recs)
		return false, true, nil
	}
	nt, _ := c.update(k, func(t *store.Target) { t.Known, t.Pending = st.Status, false })
	c.commit([]store.Target{nt}, recs)
	if wantPaused && st.Status != cxone.StatusPaused {
		return false, false, fmt.Errorf("target %s reads %s after a conflict: %w", k, st.Status, cxone.ErrConflict)
	}
	return false, false, nil
}

// ensureResumed resumes the targets we paused for an agent with no open window whose hold-down
// has passed: read first, resume only a PAUSED target, drop an ended one.
func (c *Controller) ensureResumed(ctx context.Context, a *agentState, poll bool) error {
	if poll {
		c.mu.Lock()
		hasPaused := false
		for _, k := range a.listed {
			if t := c.tgs[k]; t != nil && t.PausedByUs {
				hasPaused = true
			}
		}
		c.mu.Unlock()
		if !hasPaused {
			// Idle poll: keep the listing fresh and notice ended targets.
			return c.list(ctx, a, prioLow)
		}
	}
	c.mu.Lock()
	var todo []store.Target
	for _, k := range a.listed {
		if t := c.tgs[k]; t != nil && t.PausedByUs && !t.Ended {
			todo = append(todo, *t)
		}
	}
	c.mu.Unlock()
	var firstErr error
	pending := false
	for _, t := range todo {
		err := c.resumeOne(ctx, a, t)
		if errors.Is(err, errPendingWork) {
			pending = true
			continue
		}
		if errors.Is(err, errReentered) {
			return nil // the Open that re-entered has already re-triggered the agent
		}
		if err != nil {
			if errors.Is(err, errYield) || ctx.Err() != nil {
				return err
			}
			if firstErr == nil || errors.Is(err, cxone.ErrRateLimited) {
				firstErr = err
			}
		}
	}
	if firstErr != nil {
		return firstErr
	}
	if pending {
		return errPendingWork
	}
	return nil
}

var errReentered = errors.New("pci window re-entered")

// confirmVanished reads each target we paused that the last listing no longer showed; an
// ended one is dropped with its pending resume. Errors leave it for the next poll.
func (c *Controller) confirmVanished(ctx context.Context, a *agentState, p prio) {
	c.mu.Lock()
	keys := a.vanished
	a.vanished = nil
	var todo []store.Target
	for _, k := range keys {
		if t := c.tgs[k]; t != nil {
			todo = append(todo, *t)
		}
	}
	c.mu.Unlock()
	for _, t := range todo {
		if _, _, err := c.readPending(ctx, a, p, t, false); err != nil && ctx.Err() == nil {
			c.log.Warn("could not confirm a vanished target", "target", t.Target.String(), "err", err)
		}
	}
}

func (c *Controller) reentered(a *agentState) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(a.episodes) > 0 || a.opening > 0 || time.Now().Before(a.lastClose.Add(c.cfg.HoldDown))
}

func (c *Controller) resumeOne(ctx context.Context, a *agentState, t store.Target) error {
	k := t.Target.String()
	if c.reentered(a) {
		return errReentered
	}
	var st cxone.State
	rec, err := c.call(ctx, prioLow, audit.Record{Op: "get", Agent: a.id, Target: k, Interaction: t.Target.InteractionID,
		Reason: ReasonPCICleared}, func(ctx context.Context) error {
		var err error
		st, err = c.be.Get(ctx, t.Target)
		return err
	})
	if errors.Is(err, errYield) || ctx.Err() != nil && err != nil {
		return err
	}
	if err == nil {
		rec.Detail = string(st.Status)
		if st.Pending {
			rec.Detail += " (pending)"
		}
	}
	recs := []audit.Record{rec}
	switch {
	case errors.Is(err, cxone.ErrNotFound) || err == nil && st.Status == cxone.StatusEnded:
		nt, _ := c.update(k, func(t *store.Target) { t.Ended = true })
		recs = append(recs, audit.Record{Type: audit.TypeDrop, Agent: a.id, Target: k, Interaction: t.Target.InteractionID,
			Op: "resume", Reason: ReasonPCICleared, Detail: "target ended while paused; resume dropped, not retried"})
		c.commit([]store.Target{nt}, recs)
		return nil
	case err != nil:
		c.commit(nil, recs)
		return err
	case st.Pending:
		c.commit(nil, recs)
		return errPendingWork
	case st.Status == cxone.StatusRecording:
		nt, _ := c.update(k, func(t *store.Target) {
			t.Known, t.PausedByUs, t.Pending, t.Desired = cxone.StatusRecording, false, false, cxone.StatusRecording
		})
		recs = append(recs, audit.Record{Type: audit.TypeTargetStatus, Agent: a.id, Target: k, Interaction: t.Target.InteractionID,
			Detail: "already recording; no resume sent"})
		c.commit([]store.Target{nt}, recs)
		return nil
	case st.Status != cxone.StatusPaused:
		c.commit(nil, recs)
		return fmt.Errorf("target %s reads unexpected status %q", k, st.Status)
	}
	// From the moment a resume may reach CXone the target is no longer known to be paused:
	// if the answer is lost (timeout, crash) and a window reopens, the pause must be re-sent,
	// not skipped. This is committed before the call, like a pause intent.
	nt, _ := c.update(k, func(t *store.Target) { t.Known = "" })
	c.commit([]store.Target{nt}, recs)
	if c.reentered(a) {
		return errReentered
	}
	clear := time.Now()
	c.mu.Lock()
	if !a.lastClose.IsZero() {
		clear = a.lastClose
	}
	c.mu.Unlock()
	req := cxone.ResumeRequest{Reason: ReasonPCICleared, ClearTimestamp: clear}
	rec, err = c.call(ctx, prioLow, audit.Record{Op: "resume", Agent: a.id, Target: k, Interaction: t.Target.InteractionID,
		Reason: req.Reason, Meta: map[string]string{"clearTimestamp": stamp(clear)}},
		func(ctx context.Context) error { return c.be.Resume(ctx, t.Target, req) })
	if errors.Is(err, errYield) || ctx.Err() != nil && err != nil {
		return err
	}
	recs = []audit.Record{rec}
	switch {
	case err == nil:
		nt, _ := c.update(k, func(t *store.Target) {
			t.Known, t.PausedByUs, t.Pending, t.Desired = cxone.StatusRecording, false, false, cxone.StatusRecording
		})
		c.commitAll([]store.Target{nt}, []store.Interaction{{ID: interactionKey(t.Target), AgentID: a.id,
			Since: time.Now(), Desired: cxone.StatusRecording}}, recs)
		return nil
	case errors.Is(err, cxone.ErrPending):
		nt, _ := c.update(k, func(t *store.Target) { t.Pending = true })
		c.commit([]store.Target{nt}, recs)
		return errPendingWork
	case errors.Is(err, cxone.ErrNotFound):
		nt, _ := c.update(k, func(t *store.Target) { t.Ended = true })
		recs = append(recs, audit.Record{Type: audit.TypeDrop, Agent: a.id, Target: k, Op: "resume",
			Detail: "target not found; resume dropped, not retried"})
		c.commit([]store.Target{nt}, recs)
		return nil
	case errors.Is(err, cxone.ErrConflict):
		// Not in the state we read a moment ago: read again next round.
		nt, _ := c.update(k, func(t *store.Target) { t.Pending = true })
		c.commit([]store.Target{nt}, recs)
		return errPendingWork
	default:
		c.commit(nil, recs)
		return err
	}
}
