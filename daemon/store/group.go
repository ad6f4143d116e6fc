package store

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Group commit: every commit costs two fsyncs, so callers that arrive while a commit is in
// flight share the next one. A lone caller commits at once (no batching delay, unlike bbolt's
// Batch); under load each fsync carries everything that queued behind the previous one.

type commitReq struct {
	fn   func(*Tx) error
	done chan error
}

type fnError struct {
	i   int
	err error
}

func (e *fnError) Error() string { return e.err.Error() }

// Commit runs fn in a writable transaction shared with concurrent callers and returns once it
// is durable. If fn fails, only its own changes are dropped: the others are committed without
// it. fn may run more than once and must not have side effects outside tx.
func (s *Store) Commit(fn func(*Tx) error) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	req := &commitReq{fn: fn, done: make(chan error, 1)}
	s.gmu.Lock()
	s.queue = append(s.queue, req)
	if s.leading {
		s.gmu.Unlock()
		return <-req.done
	}
	s.leading = true
	for {
		batch := s.queue
		s.queue = nil
		if len(batch) == 0 {
			s.leading = false
			s.gmu.Unlock()
			break
		}
		s.gmu.Unlock()
		s.runBatch(batch)
		s.gmu.Lock()
	}
	return <-req.done
}

func (s *Store) runBatch(batch []*commitReq) {
	for len(batch) > 0 {
		err := s.db.Update(func(btx *bolt.Tx) error {
			tx := &Tx{tx: btx, now: s.now}
			for i, r := range batch {
				if err := r.fn(tx); err != nil {
					return &fnError{i, err}
				}
			}
			return nil
		})
		var fe *fnError
		if !errors.As(err, &fe) {
			if err != nil {
				err = fmt.Errorf("store commit: %w", err)
			}
			for _, r := range batch {
				r.done <- err
			}
			return
		}
		// Fail the one that failed; commit the rest without it.
		batch[fe.i].done <- fmt.Errorf("store commit: %w", fe.err)
		batch = append(batch[:fe.i:fe.i], batch[fe.i+1:]...)
	}
}
