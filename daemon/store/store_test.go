package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"pcipause/daemon/audit"
	"pcipause/daemon/cxone"
)

func quietLog(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, nil))
}

func TestOpenCreatesLatestSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.Schema()
	if err != nil || v != SchemaVersion() {
		t.Fatalf("schema = %d, %v; want %d", v, err, SchemaVersion())
	}
	if s.MovedAside() != "" {
		t.Errorf("fresh file reported moved aside: %s", s.MovedAside())
	}
}

func TestRoundTrip(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	ep := Episode{AgentID: "a", Episode: "e", InteractionID: "i", Field: "f", Reason: "PCI_DATA_DETECTED", OpenedAt: now}
	tg := Target{Target: cxone.Target{Kind: cxone.KindRecording, ID: "r", AgentID: "a", InteractionID: "i"}, PausedByUs: true, Known: cxone.StatusPaused}
	err = s.Update(func(tx *Tx) error {
		if err := tx.PutEpisode(ep); err != nil {
			return err
		}
		if err := tx.PutTarget(tg); err != nil {
			return err
		}
		if err := tx.PutAgent(Agent{AgentID: "a", LastCloseAt: now}); err != nil {
			return err
		}
		if err := tx.PutIntent(Intent{AgentID: "a", Desired: cxone.StatusPaused, Since: now}); err != nil {
			return err
		}
		return tx.PutInteraction(Interaction{ID: "i", AgentID: "a", PCIOpen: true, Since: now, Desired: cxone.StatusPaused})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(func(tx *Tx) error {
		eps, err := tx.Episodes()
		if err != nil || len(eps) != 1 || eps[0] != ep {
			t.Errorf("episodes = %+v, %v", eps, err)
		}
		ts, err := tx.Targets()
		if err != nil || len(ts) != 1 || ts[0].Target != tg.Target || !ts[0].PausedByUs {
			t.Errorf("targets = %+v, %v", ts, err)
		}
		ins, err := tx.Interactions()
		if err != nil || len(ins) != 1 || !ins[0].PCIOpen {
			t.Errorf("interactions = %+v, %v", ins, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writeSchema builds a state file at the given schema version using the real migration list.
func writeSchema(t *testing.T, path string, version uint64, fill func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var steps []migration
	for _, m := range migrations {
		if m.version <= version {
			steps = append(steps, m)
		}
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := migrate(tx, steps); err != nil {
			return err
		}
		if fill != nil {
			return fill(tx)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMigrations(t *testing.T) {
	opened := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	epJSON := func(e Episode) []byte { b, _ := json.Marshal(e); return b }
	tests := []struct {
		name  string
		from  uint64
		fill  func(tx *bolt.Tx) error
		check func(t *testing.T, s *Store)
	}{
		{"empty file to latest", 0, nil, func(t *testing.T, s *Store) {
			if err := s.View(func(tx *Tx) error { _, err := tx.Intents(); return err }); err != nil {
				t.Error(err)
			}
		}},
		{"v1 to v2 backfills interactions from open episodes", 1, func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketEpisodes)
			if err := b.Put([]byte(EpisodeKey("a", "e1")), epJSON(Episode{AgentID: "a", Episode: "e1", InteractionID: "i1", OpenedAt: opened})); err != nil {
				return err
			}
			if err := b.Put([]byte(EpisodeKey("a", "e2")), epJSON(Episode{AgentID: "a", Episode: "e2", InteractionID: "i2", OpenedAt: opened, ClosedAt: opened.Add(time.Second)})); err != nil {
				return err
			}
			return b.Put([]byte(EpisodeKey("a", "e3")), epJSON(Episode{AgentID: "a", Episode: "e3", OpenedAt: opened}))
		}, func(t *testing.T, s *Store) {
			var ins []Interaction
			if err := s.View(func(tx *Tx) (err error) { ins, err = tx.Interactions(); return err }); err != nil {
				t.Fatal(err)
			}
			got := map[string]Interaction{}
			for _, in := range ins {
				got[in.ID] = in
			}
			if len(got) != 2 {
				t.Fatalf("interactions = %+v, want i1 and i2", ins)
			}
			if !got["i1"].PCIOpen || got["i1"].Desired != cxone.StatusPaused || !got["i1"].Since.Equal(opened) {
				t.Errorf("i1 = %+v, want open and paused since %s", got["i1"], opened)
			}
			if got["i2"].PCIOpen || got["i2"].Desired != cxone.StatusRecording {
				t.Errorf("i2 = %+v, want closed and recording", got["i2"])
			}
		}},
		{"v2 file opens unchanged", 2, func(tx *bolt.Tx) error {
			return tx.Bucket(bucketIntents).Put([]byte("a"), []byte(`{"agent_id":"a","desired":"PAUSED","since":"2026-01-02T03:04:05Z"}`))
		}, func(t *testing.T, s *Store) {
			var ins []Intent
			if err := s.View(func(tx *Tx) (err error) { ins, err = tx.Intents(); return err }); err != nil || len(ins) != 1 {
				t.Errorf("intents = %+v, %v", ins, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			if tt.from > 0 {
				writeSchema(t, path, tt.from, tt.fill)
			}
			s, err := Open(path, Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.MovedAside() != "" {
				t.Fatalf("migration moved the file aside: %s", s.MovedAside())
			}
			if v, _ := s.Schema(); v != SchemaVersion() {
				t.Fatalf("schema %d after open, want %d", v, SchemaVersion())
			}
			tt.check(t, s)
		})
	}
}

func TestCorruptStateFileRecovered(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string) (cleanup func())
		reason  string
	}{
		{"truncated", func(t *testing.T, path string) func() {
			writeSchema(t, path, SchemaVersion(), nil)
			if err := os.Truncate(path, 1000); err != nil {
				t.Fatal(err)
			}
			return nil
		}, "truncated"},
		{"truncated mid file", func(t *testing.T, path string) func() {
			writeSchema(t, path, SchemaVersion(), func(tx *bolt.Tx) error {
				b := tx.Bucket(bucketTargets)
				for i := range 2000 {
					if err := b.Put([]byte(strings.Repeat("k", 20)+string(rune('a'+i%26))+time.Duration(i).String()), bytes.Repeat([]byte("v"), 200)); err != nil {
						return err
					}
				}
				return nil
			})
			fi, _ := os.Stat(path)
			if err := os.Truncate(path, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
			return nil
		}, "corrupt"},
		{"garbage", func(t *testing.T, path string) func() {
			if err := os.WriteFile(path, bytes.Repeat([]byte("not a bbolt file "), 2000), 0o600); err != nil {
				t.Fatal(err)
			}
			return nil
		}, "corrupt"},
		{"locked by another process", func(t *testing.T, path string) func() {
			writeSchema(t, path, SchemaVersion(), nil)
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			return func() { db.Close() }
		}, "locked"},
		{"newer schema", func(t *testing.T, path string) func() {
			writeSchema(t, path, SchemaVersion(), func(tx *bolt.Tx) error {
				var v [8]byte
				binary.BigEndian.PutUint64(v[:], SchemaVersion()+1)
				return tx.Bucket(bucketMeta).Put(keySchema, v[:])
			})
			return nil
		}, "newer schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			if cleanup := tt.prepare(t, path); cleanup != nil {
				defer cleanup()
			}
			var logs bytes.Buffer
			s, err := Open(path, Options{Timeout: 100 * time.Millisecond}, quietLog(&logs))
			if err != nil {
				t.Fatalf("Open = %v, want recovery", err)
			}
			defer s.Close()
			aside := s.MovedAside()
			if aside == "" {
				t.Fatal("file was not moved aside")
			}
			if _, err := os.Stat(aside); err != nil {
				t.Errorf("moved-aside file: %v", err)
			}
			if !strings.Contains(logs.String(), aside) {
				t.Errorf("log does not name %s:\n%s", aside, logs.String())
			}
			var out bytes.Buffer
			if _, err := s.Export(time.Time{}, &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), audit.TypeStateFile) || !strings.Contains(out.String(), filepath.Base(aside)) ||
				!strings.Contains(out.String(), tt.reason) {
				t.Errorf("audit does not record the move (want %q):\n%s", tt.reason, out.String())
			}
			if _, err := s.Verify(); err != nil {
				t.Errorf("fresh chain: %v", err)
			}
			if err := s.Update(func(tx *Tx) error { return tx.PutIntent(Intent{AgentID: "a"}) }); err != nil {
				t.Errorf("fresh file not writable: %v", err)
			}
		})
	}
}

func TestWriteAfterCloseIsAnError(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Append(context.Background(), audit.Record{Type: audit.TypeFault}); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close = %v, want ErrClosed", err)
	}
}

func TestUnwritableDirectoryIsAnErrorNotAMoveAside(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores directory permissions; use a path under a regular file instead.
		f := filepath.Join(t.TempDir(), "file")
		os.WriteFile(f, nil, 0o600)
		if _, err := Open(filepath.Join(f, "state.db"), Options{}, nil); err == nil {
			t.Fatal("Open under a regular file succeeded")
		}
		return
	}
	dir := filepath.Join(t.TempDir(), "ro")
	os.Mkdir(dir, 0o500)
	if _, err := Open(filepath.Join(dir, "state.db"), Options{}, nil); err == nil {
		t.Fatal("Open in a read-only directory succeeded")
	}
}

func TestCommitGroupsAndIsolatesFailures(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 50
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- s.Commit(func(tx *Tx) error {
				if i == 7 {
					return errors.New("refused")
				}
				return tx.PutIntent(Intent{AgentID: fmt.Sprint("a", i)})
			})
		}()
	}
	failed := 0
	for range n {
		if err := <-errs; err != nil {
			if !strings.Contains(err.Error(), "refused") {
				t.Errorf("unexpected error %v", err)
			}
			failed++
		}
	}
	var ins []Intent
	s.View(func(tx *Tx) (err error) { ins, err = tx.Intents(); return err })
	if failed != 1 || len(ins) != n-1 {
		t.Errorf("%d failed, %d committed; want 1 and %d", failed, len(ins), n-1)
	}
}
