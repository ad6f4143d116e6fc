package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"pcipause/daemon/audit"
)

func auditFile(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := s.Append(context.Background(), audit.Record{Type: audit.TypeAPICall, Op: "pause", Agent: "a",
			Target: "recording:r" + string(rune('0'+i%10)), Outcome: "ok", LatencyUS: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Verify(); err != nil {
		t.Fatalf("untouched chain: %v", err)
	}
	s.Close()
	return path
}

func key(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func TestAuditTamperDetected(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(b *bolt.Bucket, tx *bolt.Tx) error
		wantSeq uint64
	}{
		{"altered field", func(b *bolt.Bucket, _ *bolt.Tx) error {
			v := bytes.Replace(b.Get(key(5)), []byte(`"outcome":"ok"`), []byte(`"outcome":"no"`), 1)
			return b.Put(key(5), v)
		}, 5},
		{"altered and rehashed", func(b *bolt.Bucket, _ *bolt.Tx) error {
			r, _ := audit.Decode(b.Get(key(4)))
			r.Outcome = "forged"
			r.Hash, _ = audit.HashOf(r)
			v, _ := json.Marshal(r)
			return b.Put(key(4), v)
		}, 5},
		{"removed", func(b *bolt.Bucket, _ *bolt.Tx) error { return b.Delete(key(3)) }, 3},
		{"reordered", func(b *bolt.Bucket, _ *bolt.Tx) error {
			v2, v3 := append([]byte(nil), b.Get(key(2))...), append([]byte(nil), b.Get(key(3))...)
			if err := b.Put(key(2), v3); err != nil {
				return err
			}
			return b.Put(key(3), v2)
		}, 2},
		{"renumbered after removal", func(b *bolt.Bucket, _ *bolt.Tx) error {
			for s := uint64(3); s < 8; s++ {
				if err := b.Put(key(s), append([]byte(nil), b.Get(key(s+1))...)); err != nil {
					return err
				}
			}
			return b.Delete(key(8))
		}, 3},
		{"newest removed", func(b *bolt.Bucket, _ *bolt.Tx) error { return b.Delete(key(8)) }, 8},
		{"inserted", func(b *bolt.Bucket, _ *bolt.Tx) error {
			return b.Put(key(9), b.Get(key(8)))
		}, 9},
		{"garbage record", func(b *bolt.Bucket, _ *bolt.Tx) error { return b.Put(key(6), []byte("{")) }, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := auditFile(t, 8)
			db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bolt.Tx) error { return tt.tamper(tx.Bucket(audit.BucketRecords), tx) }); err != nil {
				t.Fatal(err)
			}
			db.Close()
			s, err := Open(path, Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, err = s.Verify()
			var ve *audit.VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("Verify = %v, want a VerifyError", err)
			}
			if ve.Seq != tt.wantSeq {
				t.Errorf("first bad record = %d (%v), want %d", ve.Seq, err, tt.wantSeq)
			}
			if !strings.Contains(err.Error(), "record") {
				t.Errorf("error does not name a record: %v", err)
			}
		})
	}
}

func TestAuditExportSinceAndVerifyLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s, err := Open(path, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 6 {
		if err := s.Append(context.Background(), audit.Record{Time: t0.Add(time.Duration(i) * time.Minute), Type: audit.TypeConfig, Detail: "change"}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		since time.Time
		want  int
	}{{time.Time{}, 6}, {t0.Add(2 * time.Minute), 4}, {t0.Add(time.Hour), 0}}
	for _, tt := range tests {
		var buf bytes.Buffer
		n, err := s.Export(tt.since, &buf)
		if err != nil || n != tt.want || strings.Count(buf.String(), "\n") != tt.want {
			t.Errorf("export since %s = %d, %v; want %d lines", tt.since, n, err, tt.want)
		}
		if n, err := audit.VerifyLines(&buf); err != nil || n != tt.want {
			t.Errorf("VerifyLines = %d, %v", n, err)
		}
	}
	var buf bytes.Buffer
	s.Export(time.Time{}, &buf)
	lines := strings.SplitAfter(buf.String(), "\n")
	altered := strings.Join(append(append([]string{}, lines[:2]...), lines[3:]...), "")
	if _, err := audit.VerifyLines(strings.NewReader(altered)); err == nil {
		t.Error("VerifyLines accepted an export with a line removed")
	}
}
