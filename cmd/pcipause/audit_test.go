package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"pcipause/daemon/audit"
	"pcipause/daemon/store"
)

// TestAuditCLIWhileServiceRuns exports and verifies a state file another open (the service)
// holds locked, then detects an altered record.
func TestAuditCLIWhileServiceRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), store.FileName)
	st, err := store.Open(path, store.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := st.Append(context.Background(), audit.Record{Type: audit.TypeAPICall, Op: "pause", Outcome: "ok", LatencyUS: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	var out, errb bytes.Buffer
	if err := run(ctx, []string{"audit", "verify", "--db", path}, &out, &errb); err != nil {
		t.Fatalf("verify while locked: %v (%s)", err, errb.String())
	}
	if !strings.Contains(out.String(), "5 records") {
		t.Errorf("verify output %q", out.String())
	}
	exp := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := run(ctx, []string{"audit", "export", "--db", path, "--out", exp, "--since", "1h"}, &out, &errb); err != nil {
		t.Fatalf("export while locked: %v", err)
	}
	data, _ := os.ReadFile(exp)
	if strings.Count(string(data), "\n") != 5 {
		t.Errorf("export has %d lines, want 5", strings.Count(string(data), "\n"))
	}
	out.Reset()
	if err := run(ctx, []string{"audit", "verify", "--in", exp}, &out, &errb); err != nil {
		t.Fatalf("verify export: %v", err)
	}
	st.Close()

	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(audit.BucketRecords)
		k := []byte{0, 0, 0, 0, 0, 0, 0, 3}
		return b.Put(k, bytes.Replace(b.Get(k), []byte(`"ok"`), []byte(`"KO"`), 1))
	})
	db.Close()
	err = run(ctx, []string{"audit", "verify", "--db", path}, &out, &errb)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code == 0 || !strings.Contains(err.Error(), "record 3") {
		t.Fatalf("verify of altered file = %v, want a non-zero exit naming record 3", err)
	}
}

func TestAuditCLIBadInput(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"audit", "export", "--since", "yesterday", "--db", "x"}, "--since"},
		{[]string{"audit", "verify", "--db", filepath.Join(t.TempDir(), "missing.db")}, "no such file"},
		{[]string{"audit", "verify", "extra"}, "unexpected argument"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v = %v, want error containing %q", tt.args, err, tt.want)
		}
	}
}
