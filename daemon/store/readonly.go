package store

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FileName is the state file's name inside the service's state directory.
const FileName = "pcipause.db"

// OpenReadOnly opens a state file for reading (audit export and verify) without ever changing
// it. When the running service holds the file's lock, it reads a consistent copy instead: the
// file is copied to a temporary directory and the copy checked page by page; a copy torn by a
// concurrent commit is retried. The returned Store's Close removes any copy.
func OpenReadOnly(path string, timeout time.Duration, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "store")
	if timeout <= 0 {
		timeout = 500 * time.Millisecond
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open state file read-only: %w", err)
	}
	s, err := openRO(path, timeout)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open state file read-only: %w", err)
	}
	log.Info("state file in use; reading a copy", "path", path)
	var lastErr error
	for range 5 {
		dir, err := os.MkdirTemp("", "pcipause-state-copy-")
		if err != nil {
			return nil, fmt.Errorf("copy state file: %w", err)
		}
		cp := filepath.Join(dir, FileName)
		if err := copyFile(path, cp); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("copy state file: %w", err)
		}
		s, err := openRO(cp, timeout)
		if err == nil {
			s.tmpDir = dir
			return s, nil
		}
		os.RemoveAll(dir)
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("state file in use and no consistent copy could be read: %w", lastErr)
}

func openRO(path string, timeout time.Duration) (s *Store, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("state file corrupt: %v", p)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		return nil, err
	}
	err = db.View(func(tx *bolt.Tx) error {
		if v := schemaOf(tx); v > SchemaVersion() {
			return fmt.Errorf("%w: file has schema %d, this build knows up to %d", ErrNewerSchema, v, SchemaVersion())
		}
		for cerr := range tx.Check() {
			return fmt.Errorf("state file corrupt: %w", cerr)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, path: path, log: slog.New(slog.DiscardHandler), now: time.Now, readOnly: true}, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
