package cxone_test

import (
	"context"
	"testing"
	"time"

	"pcipause/daemon/cxone"
	"pcipause/daemon/cxone/cxonesim"
)

func benchEnv(b *testing.B, backend string) (*cxone.Client, cxone.Target) {
	s := cxonesim.New(cxonesim.Options{TLS: true, RateLimit: -1})
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	d := s.SeedDemo()
	o := cxone.Options{Backend: backend, ClientID: d.ClientID, ClientSecret: d.ClientSecret, HTTPClient: s.Client(),
		DiscoveryURL: s.URL(), Timeout: 5 * time.Second}
	t := cxone.Target{Kind: cxone.KindRecording, ID: d.RecordingID}
	if backend == cxone.BackendMask {
		o.AccessKeyID, o.AccessKeySecret, o.TenantID = d.AccessKeyID, d.AccessKeySecret, s.TenantID()
		t = cxone.Target{Kind: cxone.KindUser, ID: d.AgentID}
	} else {
		o.BaseURL, o.TokenURL = s.BaseURL(), s.TokenURL()
	}
	c, err := cxone.NewClient(o, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	if _, err := c.Get(context.Background(), t); err != nil { // token, discovery, connection
		b.Fatal(err)
	}
	return c, t
}

// BenchmarkPauseResume is one pause plus one resume, client to in-process simulator over
// loopback TLS with a warm connection and token.
func BenchmarkPauseResume(b *testing.B) {
	for _, backend := range []string{cxone.BackendWEMv1, cxone.BackendMask} {
		b.Run(backend, func(b *testing.B) {
			c, t := benchEnv(b, backend)
			ctx := context.Background()
			for b.Loop() {
				if err := c.Pause(ctx, t, pauseReq); err != nil {
					b.Fatal(err)
				}
				if err := c.Resume(ctx, t, resumeReq); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGet is one state read.
func BenchmarkGet(b *testing.B) {
	c, t := benchEnv(b, cxone.BackendWEMv1)
	ctx := context.Background()
	for b.Loop() {
		if _, err := c.Get(ctx, t); err != nil {
			b.Fatal(err)
		}
	}
}
