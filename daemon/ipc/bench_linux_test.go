//go:build linux

package ipc

import (
	"context"
	"path/filepath"
	"testing"
)

func BenchmarkEncodePCIOpen(b *testing.B) {
	m := PCIOpen{Episode: 7, Field: "credit_card_number", Rule: "crm-card", Kind: KindPAN, Confirmed: true, At: at}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSocketPCIOpen is one pci_open from a helper's Conn to the service's Conn over the
// unix socket: encode, write, read, decode, validate.
func BenchmarkSocketPCIOpen(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "b.sock")
	if len(path) > 100 {
		b.Skip("temp path too long for a unix socket")
	}
	l, err := Listen(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	acc := make(chan *Conn, 1)
	go func() { c, _ := l.Accept(); acc <- c }()
	cli, err := Dial(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	srv := <-acc
	defer srv.Close()
	m := PCIOpen{Episode: 7, Field: "credit_card_number", Rule: "crm-card", Kind: KindPAN, Confirmed: true, At: at}
	b.ReportAllocs()
	for b.Loop() {
		if err := cli.Send(m); err != nil {
			b.Fatal(err)
		}
		if _, err := srv.Recv(); err != nil {
			b.Fatal(err)
		}
	}
}
