package main

import (
	"context"
	"errors"
)

// MaskResult: placeholder until the mask latency harness lands.
type MaskResult struct{}

func runMask(ctx context.Context, b *Bench, r *Results) error { return errors.New("not implemented yet") }

func (m *MaskResult) report(b *Bench) (string, error) { return "", nil }
func (m *MaskResult) targets() []target             { return nil }
