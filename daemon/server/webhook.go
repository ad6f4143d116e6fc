package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"pcipause/daemon/cxone/webhook"
)

// runWebhook serves CXone's screen-recording.ended webhook: each verified event ends the
// recording in the controller, which drops any pending resume for it.
func (s *Server) runWebhook(ctx context.Context) error {
	wc := s.cfg.Webhook
	secret, err := os.ReadFile(wc.SecretFile)
	if err != nil {
		return fmt.Errorf("webhook.secret_file: %w", err)
	}
	h, err := webhook.New(webhook.Options{Secret: []byte(strings.TrimSpace(string(secret))), ReplayWindow: wc.ReplayWindow.Duration,
		MaxBody: wc.MaxBody, OnEnded: func(ctx context.Context, ev webhook.Event) error {
			return s.ctl.TargetEnded(ctx, ev.RecordingID)
		}}, s.log.With("component", "webhook"))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	mux := http.NewServeMux()
	path := wc.Path
	if path == "" {
		path = "/"
	}
	mux.Handle(path, h)
	ln, err := net.Listen("tcp", wc.Listen)
	if err != nil {
		return fmt.Errorf("webhook.listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	defer stop()
	s.log.Info("webhook receiver listening", "addr", ln.Addr().String(), "path", path)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("webhook: %w", err)
	}
	return nil
}
