package cxonesim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// The control API under /sim/ seeds the tenant and reads back what happened. It is for tests
// and the demo, has no authentication and must only listen on loopback.

// FaultsJSON is Faults on the wire, durations as Go duration strings ("250ms").
type FaultsJSON struct {
	Latency    string  `json:"latency,omitempty"`
	LatencyMax string  `json:"latency_max,omitempty"`
	ErrorRate  float64 `json:"error_rate,omitempty"`
	ResetRate  float64 `json:"reset_rate,omitempty"`
	Next5xx    int     `json:"next_5xx,omitempty"`
	NextResets int     `json:"next_resets,omitempty"`
	Next429    int     `json:"next_429,omitempty"`
	RetryAfter string  `json:"retry_after,omitempty"`
	TokenToo   bool    `json:"token_too,omitempty"`
}

func (f FaultsJSON) faults() (Faults, error) {
	out := Faults{ErrorRate: f.ErrorRate, ResetRate: f.ResetRate, Next5xx: f.Next5xx,
		NextResets: f.NextResets, Next429: f.Next429, TokenToo: f.TokenToo}
	var err error
	if f.Latency != "" {
		if out.Latency, err = time.ParseDuration(f.Latency); err != nil || out.Latency < 0 {
			return out, fmt.Errorf("latency: not a duration: %q", f.Latency)
		}
	}
	if f.LatencyMax != "" {
		if out.LatencyMax, err = time.ParseDuration(f.LatencyMax); err != nil || out.LatencyMax < out.Latency {
			return out, fmt.Errorf("latency_max: not a duration at least latency: %q", f.LatencyMax)
		}
	}
	if f.RetryAfter != "" {
		if out.RetryAfter, err = time.ParseDuration(f.RetryAfter); err != nil || out.RetryAfter < 0 {
			return out, fmt.Errorf("retry_after: not a duration: %q", f.RetryAfter)
		}
	}
	if out.ErrorRate < 0 || out.ErrorRate > 1 || out.ResetRate < 0 || out.ResetRate > 1 {
		return out, fmt.Errorf("error_rate and reset_rate must be within [0,1]")
	}
	if out.Next5xx < 0 || out.NextResets < 0 || out.Next429 < 0 {
		return out, fmt.Errorf("next_* counters must not be negative")
	}
	return out, nil
}

func toFaultsJSON(f Faults) FaultsJSON {
	j := FaultsJSON{ErrorRate: f.ErrorRate, ResetRate: f.ResetRate, Next5xx: f.Next5xx,
		NextResets: f.NextResets, Next429: f.Next429, TokenToo: f.TokenToo}
	if f.Latency > 0 {
		j.Latency = f.Latency.String()
	}
	if f.LatencyMax > 0 {
		j.LatencyMax = f.LatencyMax.String()
	}
	if f.RetryAfter > 0 {
		j.RetryAfter = f.RetryAfter.String()
	}
	return j
}

// decodeControl decodes a control request body strictly into v.
func decodeControl(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{"bad_request", "malformed JSON: " + noDigits(err.Error())})
		return false
	}
	return true
}

func (s *Server) controlRoutes() {
	m := s.mux
	m.HandleFunc("POST /sim/agents", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			ID string `json:"id"`
		}
		if !decodeControl(w, r, &b) {
			return
		}
		if b.ID == "" {
			writeJSON(w, http.StatusBadRequest, errorBody{"bad_request", "id missing"})
			return
		}
		s.AddAgent(b.ID)
		writeJSON(w, http.StatusCreated, map[string]string{"id": b.ID})
	})
	m.HandleFunc("POST /sim/interactions", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			AgentID  string `json:"agentId"`
			Internal bool   `json:"internal"`
		}
		if !decodeControl(w, r, &b) {
			return
		}
		if b.AgentID == "" {
			writeJSON(w, http.StatusBadRequest, errorBody{"bad_request", "agentId missing"})
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"id": s.startInteraction(b.AgentID, b.Internal)})
	})
	m.HandleFunc("POST /sim/interactions/{id}/end", func(w http.ResponseWriter, r *http.Request) {
		if !s.EndInteraction(r.PathValue("id")) {
			writeJSON(w, http.StatusNotFound, errorBody{"not_found", "no open interaction with that id"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id"), "status": "CLOSED"})
	})
	m.HandleFunc("POST /sim/recordings", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			InteractionID string `json:"interactionId"`
		}
		if !decodeControl(w, r, &b) {
			return
		}
		id := s.StartRecording(b.InteractionID)
		if id == "" {
			writeJSON(w, http.StatusNotFound, errorBody{"not_found", "no open interaction with that id"})
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"id": id})
	})
	m.HandleFunc("POST /sim/recordings/{id}/end", func(w http.ResponseWriter, r *http.Request) {
		if !s.EndRecording(r.PathValue("id")) {
			writeJSON(w, http.StatusNotFound, errorBody{"not_found", "no active recording with that id"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id"), "status": Ended})
	})
	m.HandleFunc("GET /sim/recordings/{id}", func(w http.ResponseWriter, r *http.Request) {
		st, ok := s.RecordingStatus(r.PathValue("id"))
		if !ok {
			writeJSON(w, http.StatusNotFound, errorBody{"not_found", "unknown or purged recording"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id"), "status": st})
	})
	m.HandleFunc("GET /sim/faults", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		f := s.faults
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, toFaultsJSON(f))
	})
	m.HandleFunc("PUT /sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var b FaultsJSON
		if !decodeControl(w, r, &b) {
			return
		}
		f, err := b.faults()
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{"bad_request", err.Error()})
			return
		}
		s.SetFaults(f)
		writeJSON(w, http.StatusOK, toFaultsJSON(f))
	})
	m.HandleFunc("PUT /sim/ratelimit", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Rate  float64 `json:"rate"`
			Burst int     `json:"burst"`
		}
		if !decodeControl(w, r, &b) {
			return
		}
		if b.Rate >= 0 && b.Burst < 1 {
			writeJSON(w, http.StatusBadRequest, errorBody{"bad_request", "burst must be at least 1"})
			return
		}
		s.SetRateLimit(b.Rate, b.Burst)
		writeJSON(w, http.StatusOK, b)
	})
	m.HandleFunc("POST /sim/clients", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			ID     string   `json:"id"`
			Secret string   `json:"secret"`
			Scopes []string `json:"scopes"`
		}
		if !decodeControl(w, r, &b) {
			return
		}
		if b.ID == "" || b.Secret == "" {
			writeJSON(w, http.StatusBadRequest, errorBody{"bad_request", "id and secret are required"})
			return
		}
		s.AddClient(b.ID, b.Secret, b.Scopes...)
		writeJSON(w, http.StatusCreated, map[string]string{"id": b.ID})
	})
	m.HandleFunc("POST /sim/access-keys", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			ID     string   `json:"id"`
			Secret string   `json:"secret"`
			UserID string   `json:"userId"`
			Scopes []string `json:"scopes"`
		}
		if !decodeControl(w, r, &b) {
			return
		}
		if b.ID == "" || b.Secret == "" || b.UserID == "" {
			writeJSON(w, http.StatusBadRequest, errorBody{"bad_request", "id, secret and userId are required"})
			return
		}
		s.AddAccessKey(b.ID, b.Secret, b.UserID, b.Scopes...)
		writeJSON(w, http.StatusCreated, map[string]string{"id": b.ID})
	})
	m.HandleFunc("POST /sim/webhooks", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			URL    string `json:"url"`
			Secret string `json:"secret"`
		}
		if !decodeControl(w, r, &b) {
			return
		}
		if b.URL == "" || b.Secret == "" {
			writeJSON(w, http.StatusBadRequest, errorBody{"bad_request", "url and secret are required"})
			return
		}
		s.RegisterWebhook(b.URL, b.Secret)
		writeJSON(w, http.StatusCreated, map[string]string{"url": b.URL})
	})
	m.HandleFunc("GET /sim/webhooks/deliveries", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"deliveries": nonNil(s.Deliveries())})
	})
	m.HandleFunc("GET /sim/calls", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"calls": nonNil(s.Calls())})
	})
	m.HandleFunc("DELETE /sim/calls", func(w http.ResponseWriter, r *http.Request) {
		s.ResetCalls()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /sim/intervals", func(w http.ResponseWriter, r *http.Request) {
		t := r.URL.Query().Get("target")
		if t == "" {
			writeJSON(w, http.StatusBadRequest, errorBody{"bad_request", "target query parameter missing"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"target": t, "intervals": nonNil(s.PausedIntervals(t))})
	})
	m.HandleFunc("POST /sim/tokens/expire", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireTokens()
		w.WriteHeader(http.StatusNoContent)
	})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
