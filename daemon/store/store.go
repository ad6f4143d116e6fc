// Package store is the service's durable state: one bbolt file holding the PCI windows, the
// targets the controller knows, the per-interaction desired state, the intent queue and the
// audit chain. It opens with a timeout, migrates the schema forward, and when the file cannot
// be used (truncated, garbage, locked, newer schema) moves it aside, starts a fresh one and
// says so in the audit trail, so the service keeps running fail-closed.
//
// Bucket tree (keys → values; values are JSON copied out of each transaction):
//
//	meta/
//	    schema            → uint64 big endian, the schema version (see migrations)
//	episodes/
//	    <agent>\x00<episode> → Episode   one PCI window from one helper
//	interactions/
//	    <interactionId>   → Interaction  PCI open/closed, since, desired state (schema ≥ 2)
//	targets/
//	    <kind>:<id>       → Target     recording or user, its interaction, last known status
//	agents/
//	    <agent>           → Agent      when its targets were last listed, last window close
//	intents/
//	    <agent>           → Intent     durable "this agent has work" marker, written before a call
//	audit/
//	    <seq uint64 BE>   → audit.Record (hash-chained, see package audit)
//	audit_head/
//	    head              → seq || sha256 of the newest record
package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"pcipause/daemon/audit"
	"pcipause/daemon/cxone"
)

var (
	bucketMeta         = []byte("meta")
	bucketEpisodes     = []byte("episodes")
	bucketInteractions = []byte("interactions")
	bucketTargets      = []byte("targets")
	bucketAgents       = []byte("agents")
	bucketIntents      = []byte("intents")
	keySchema          = []byte("schema")
)

// Sentinel errors.
var (
	ErrNewerSchema = errors.New("state file written by a newer schema")
	ErrClosed      = errors.New("store closed")
)

// Options tune Open. The zero value is usable.
type Options struct {
	// Timeout bounds the wait for the file lock (default 1s).
	Timeout time.Duration
	// Now stamps audit records; default time.Now.
	Now func() time.Time
	// NoSync skips fsync on commit. Only for benchmarks that measure everything else.
	NoSync bool
}

// Store is the open state file. Safe for concurrent use.
type Store struct {
	db         *bolt.DB
	path       string
	log        *slog.Logger
	now        func() time.Time
	movedAside string
	mu         sync.Mutex // serialises audit-only appends with Close
	closed     bool
	readOnly   bool
	gmu        sync.Mutex // guards queue and leading (group commit)
	queue      []*commitReq
	leading    bool
	tmpDir     string // a copy read by OpenReadOnly, removed on Close
}

// Episode is one PCI window from one helper.
type Episode struct {
	AgentID       string    `json:"agent_id"`
	Episode       string    `json:"episode"`
	InteractionID string    `json:"interaction_id,omitempty"`
	Field         string    `json:"field,omitempty"`
	Rule          string    `json:"rule,omitempty"`
	Kind          string    `json:"kind,omitempty"`
	Reason        string    `json:"reason"`
	OpenedAt      time.Time `json:"opened_at"`
	ClosedAt      time.Time `json:"closed_at,omitzero"`
}

// Open reports whether the window is still open.
func (e Episode) Open() bool { return e.ClosedAt.IsZero() }

// Interaction is the controller's per-interaction view. ID "agent:<agentId>" stands for an
// agent whose current interaction could not be told apart.
type Interaction struct {
	ID       string       `json:"id"`
	AgentID  string       `json:"agent_id"`
	PCIOpen  bool         `json:"pci_open"`
	Since    time.Time    `json:"since"`
	Desired  cxone.Status `json:"desired"`
	ClosedAt time.Time    `json:"closed_at,omitzero"`
}

// Target is what the controller knows about one pausable thing.
type Target struct {
	Target     cxone.Target `json:"target"`
	Desired    cxone.Status `json:"desired,omitempty"`
	Known      cxone.Status `json:"known,omitempty"`
	PausedByUs bool         `json:"paused_by_us,omitempty"`
	Pending    bool         `json:"pending,omitempty"`
	Ended      bool         `json:"ended,omitempty"`
	LastSeen   time.Time    `json:"last_seen,omitzero"`
	Updated    time.Time    `json:"updated,omitzero"`
}

// Agent is per-agent bookkeeping.
type Agent struct {
	AgentID     string    `json:"agent_id"`
	ListedAt    time.Time `json:"listed_at,omitzero"`
	LastCloseAt time.Time `json:"last_close_at,omitzero"`
}

// Intent marks an agent whose desired state the controller has not reached yet. It is written
// in the same transaction as the PCI window it serves, before any API call.
type Intent struct {
	AgentID string       `json:"agent_id"`
	Desired cxone.Status `json:"desired"`
	Since   time.Time    `json:"since"`
}

// Open opens or creates the state file at path. A file that cannot be used is moved aside
// (the new name is logged and audited) and a fresh one created in its place.
func Open(path string, opts Options, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "store")
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open state file: %w", err)
	}
	s, err := openAndMigrate(path, opts, log)
	if err == nil {
		return s, nil
	}
	if errors.Is(err, errIO) {
		return nil, err
	}
	aside := fmt.Sprintf("%s.unusable-%s", path, opts.Now().UTC().Format("20060102T150405.000000000Z"))
	log.Error("state file unusable, moving it aside and starting fresh", "path", path, "moved_to", aside, "err", err)
	if rerr := os.Rename(path, aside); rerr != nil {
		return nil, fmt.Errorf("open state file: %w; moving it aside: %w", err, rerr)
	}
	s, err2 := openAndMigrate(path, opts, log)
	if err2 != nil {
		return nil, fmt.Errorf("open fresh state file after moving %s aside: %w", aside, err2)
	}
	s.movedAside = aside
	if aerr := s.Append(context.Background(), audit.Record{
		Type:   audit.TypeStateFile,
		Op:     "moved_aside",
		Detail: fmt.Sprintf("state file was unusable (%v); moved to %s; fresh state file created; any open PCI windows must be re-reported by the helpers", err, aside),
	}); aerr != nil {
		s.Close()
		return nil, fmt.Errorf("audit state file recovery: %w", aerr)
	}
	return s, nil
}

// errIO marks failures that moving the file aside would not fix (permissions, disk).
var errIO = errors.New("state file i/o")

func openAndMigrate(path string, opts Options, log *slog.Logger) (s *Store, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("state file corrupt: %v", p)
		}
	}()
	if fi, statErr := os.Stat(path); statErr == nil && fi.Size() > 0 && fi.Size() < 4096*2 {
		return nil, fmt.Errorf("state file truncated: %d bytes", fi.Size())
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, NoSync: opts.NoSync})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("state file locked by another process (waited %s): %w", opts.Timeout, err)
		}
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("%w: %w", errIO, err)
		}
		return nil, fmt.Errorf("state file corrupt: %w", err)
	}
	s = &Store{db: db, path: path, log: log, now: opts.Now}
	if err := db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations) }); err != nil {
		db.Close()
		return nil, err
	}
	// Walk every page once: a file with a valid meta page but garbage further in is caught
	// here rather than by a panic in the middle of a pause.
	if err := db.View(func(tx *bolt.Tx) error {
		for cerr := range tx.Check() {
			return fmt.Errorf("state file corrupt: %w", cerr)
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// MovedAside is the name an unusable state file was moved to during Open, or "".
func (s *Store) MovedAside() string { return s.movedAside }

// Close closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.db.Close()
	if s.tmpDir != "" {
		os.RemoveAll(s.tmpDir)
	}
	return err
}

// Append adds one audit record in its own transaction.
func (s *Store) Append(ctx context.Context, r audit.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	return s.Update(func(tx *Tx) error { return tx.Audit(r) })
}

// Update runs fn in a writable transaction and commits it (fsync) before returning.
func (s *Store) Update(fn func(*Tx) error) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	err := s.db.Update(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx, now: s.now}) })
	if err != nil {
		return fmt.Errorf("store update: %w", err)
	}
	return nil
}

// Batch is Update coalesced with concurrent callers into fewer commits (bbolt's Batch): still
// durable when it returns, but fn may run more than once and must be idempotent.
func (s *Store) Batch(fn func(*Tx) error) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	err := s.db.Batch(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx, now: s.now}) })
	if err != nil {
		return fmt.Errorf("store batch: %w", err)
	}
	return nil
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Tx) error) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	err := s.db.View(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx, now: s.now}) })
	if err != nil {
		return fmt.Errorf("store view: %w", err)
	}
	return nil
}

// Verify checks the audit chain.
func (s *Store) Verify() (n int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		n, err = audit.VerifyTx(tx)
		return err
	})
	return n, err
}

// Export writes audit records at or after since as JSON lines.
func (s *Store) Export(since time.Time, w io.Writer) (n int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		n, err = audit.ExportTx(tx, since, w)
		return err
	})
	return n, err
}

// Schema returns the file's schema version.
func (s *Store) Schema() (v uint64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v = schemaOf(tx)
		return nil
	})
	return v, err
}

// Tx is one transaction over the state buckets.
type Tx struct {
	tx  *bolt.Tx
	now func() time.Time
}

// Audit appends an audit record in this transaction.
func (t *Tx) Audit(r audit.Record) error {
	if r.Time.IsZero() {
		r.Time = t.now()
	}
	_, err := audit.AppendTx(t.tx, r)
	return err
}

func (t *Tx) put(bucket []byte, key string, v any) error {
	b := t.tx.Bucket(bucket)
	if b == nil {
		return fmt.Errorf("bucket %s missing", bucket)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s/%q: %w", bucket, key, err)
	}
	if err := b.Put([]byte(key), data); err != nil {
		return fmt.Errorf("put %s: %w", bucket, err)
	}
	return nil
}

func (t *Tx) del(bucket []byte, key string) error {
	b := t.tx.Bucket(bucket)
	if b == nil {
		return fmt.Errorf("bucket %s missing", bucket)
	}
	if err := b.Delete([]byte(key)); err != nil {
		return fmt.Errorf("delete %s: %w", bucket, err)
	}
	return nil
}

func all[T any](t *Tx, bucket []byte) ([]T, error) {
	b := t.tx.Bucket(bucket)
	if b == nil {
		return nil, fmt.Errorf("bucket %s missing", bucket)
	}
	var out []T
	err := b.ForEach(func(k, v []byte) error {
		var x T
		if err := json.Unmarshal(v, &x); err != nil {
			return fmt.Errorf("decode %s/%q: %w", bucket, k, err)
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

// EpisodeKey is the key of one episode.
func EpisodeKey(agent, episode string) string { return agent + "\x00" + episode }

func (t *Tx) PutEpisode(e Episode) error {
	return t.put(bucketEpisodes, EpisodeKey(e.AgentID, e.Episode), e)
}
func (t *Tx) DeleteEpisode(agent, episode string) error {
	return t.del(bucketEpisodes, EpisodeKey(agent, episode))
}
func (t *Tx) Episodes() ([]Episode, error) { return all[Episode](t, bucketEpisodes) }

func (t *Tx) PutInteraction(i Interaction) error { return t.put(bucketInteractions, i.ID, i) }
func (t *Tx) DeleteInteraction(id string) error  { return t.del(bucketInteractions, id) }
func (t *Tx) Interactions() ([]Interaction, error) {
	return all[Interaction](t, bucketInteractions)
}

func (t *Tx) PutTarget(x Target) error           { return t.put(bucketTargets, x.Target.String(), x) }
func (t *Tx) DeleteTarget(tg cxone.Target) error { return t.del(bucketTargets, tg.String()) }
func (t *Tx) Targets() ([]Target, error)         { return all[Target](t, bucketTargets) }

func (t *Tx) PutAgent(a Agent) error      { return t.put(bucketAgents, a.AgentID, a) }
func (t *Tx) DeleteAgent(id string) error { return t.del(bucketAgents, id) }
func (t *Tx) Agents() ([]Agent, error)    { return all[Agent](t, bucketAgents) }

func (t *Tx) PutIntent(i Intent) error        { return t.put(bucketIntents, i.AgentID, i) }
func (t *Tx) DeleteIntent(agent string) error { return t.del(bucketIntents, agent) }
func (t *Tx) Intents() ([]Intent, error)      { return all[Intent](t, bucketIntents) }

func schemaOf(tx *bolt.Tx) uint64 {
	b := tx.Bucket(bucketMeta)
	if b == nil {
		return 0
	}
	v := b.Get(keySchema)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func setSchema(tx *bolt.Tx, v uint64) error {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], v)
	return tx.Bucket(bucketMeta).Put(keySchema, buf[:])
}
