package server

import (
	"context"
	"errors"

	"pcipause/daemon/config"
)

// TEMPORARY until daemon/credential and daemon/cxone/webhook land.
func readCredential(cfg *config.Config) (Secrets, error) {
	return Secrets{}, errors.New("credential store not available")
}

func (s *Server) runWebhook(ctx context.Context) error { return errors.New("webhook not available") }
