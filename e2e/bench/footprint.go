package main

import (
	"context"
	"errors"
)

// FootprintResult: placeholder until the footprint section lands.
type FootprintResult struct{}

func runFootprint(ctx context.Context, b *Bench, r *Results) error {
	return errors.New("not implemented yet")
}

func (f *FootprintResult) report(b *Bench) (string, error) { return "", nil }
func (f *FootprintResult) targets() []target             { return nil }
