// Package audit is the append-only, hash-chained audit trail a PCI assessor can verify. Each
// record carries the SHA-256 of the record before it, computed over a canonical encoding, and
// the chain head (last sequence number and hash) is kept beside the records so that removing
// the newest records is detected too. Records live in a bbolt bucket owned by the state file;
// this package only knows the bucket layout, the encoding and the chain.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket names inside the state file.
var (
	BucketRecords = []byte("audit")      // seq (8-byte big endian) → canonical JSON record
	BucketHead    = []byte("audit_head") // "head" → seq(8) || sha256(32)
	keyHead       = []byte("head")
)

// Record types. Every record has one; the set is open so the service can add its own.
const (
	TypePCIOpen      = "pci.open"      // a PCI window opened (field, rule, detector kind)
	TypePCIClose     = "pci.close"     // a PCI window closed
	TypeAPICall      = "api.call"      // one CXone call: op, target, reason, outcome, latency
	TypeDrop         = "drop"          // a pending action was dropped (ended, 404, not applicable)
	TypeAmbiguous    = "ambiguous"     // the interaction could not be told apart: all paused
	TypeRecovery     = "recovery"      // work found in the state file after a restart
	TypeFault        = "fault"         // an error the operator should see (store, scope, API down)
	TypeConfig       = "config"        // a configuration change
	TypeStateFile    = "state.file"    // the state file was moved aside or created
	TypeTargetEnded  = "target.ended"  // a recording ended or an interaction closed
	TypeTargetStatus = "target.status" // a read changed what we know about a target
)

// GenesisHash is the Prev of the first record of a chain.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Record is one audit entry. It never holds card digits: fields, rules and detector kinds are
// names, and Detail is written by code, never copied from user input.
type Record struct {
	Seq         uint64            `json:"seq"`
	Time        time.Time         `json:"time"`
	Type        string            `json:"type"`
	Agent       string            `json:"agent,omitempty"`
	Interaction string            `json:"interaction,omitempty"`
	Episode     string            `json:"episode,omitempty"`
	Target      string            `json:"target,omitempty"`
	Field       string            `json:"field,omitempty"`
	Rule        string            `json:"rule,omitempty"`
	Kind        string            `json:"kind,omitempty"`
	Reason      string            `json:"reason,omitempty"`
	Op          string            `json:"op,omitempty"`
	Outcome     string            `json:"outcome,omitempty"`
	HTTPStatus  int               `json:"http_status,omitempty"`
	LatencyUS   int64             `json:"latency_us,omitempty"`
	Detail      string            `json:"detail,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
	Prev        string            `json:"prev"`
	Hash        string            `json:"hash"`
}

// canonical is the byte string the hash covers: the record as JSON with Hash empty. Go's
// encoder writes struct fields in declaration order and map keys sorted, so the encoding is
// stable across runs and versions of this program.
func canonical(r Record) ([]byte, error) {
	r.Hash = ""
	r.Time = r.Time.UTC()
	var buf bytes.Buffer
	buf.WriteString("pcipause-audit-v1\n")
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encode audit record: %w", err)
	}
	return buf.Bytes(), nil
}

// HashOf computes the record's hash from its content and Prev.
func HashOf(r Record) (string, error) {
	b, err := canonical(r)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// EnsureBuckets creates the audit buckets; call it inside the store's set-up transaction.
func EnsureBuckets(tx *bolt.Tx) error {
	for _, b := range [][]byte{BucketRecords, BucketHead} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	return nil
}

func head(tx *bolt.Tx) (uint64, string, error) {
	hb := tx.Bucket(BucketHead)
	if hb == nil {
		return 0, "", errors.New("audit head bucket missing")
	}
	v := hb.Get(keyHead)
	if v == nil {
		return 0, GenesisHash, nil
	}
	if len(v) != 8+sha256.Size {
		return 0, "", fmt.Errorf("audit head: %d bytes, want %d", len(v), 8+sha256.Size)
	}
	return binary.BigEndian.Uint64(v[:8]), hex.EncodeToString(v[8:]), nil
}

// AppendTx appends r inside a writable transaction, filling Seq, Prev and Hash (and Time when
// zero). The record is committed with the transaction, so state changes and their audit
// records are durable together or not at all. It returns the stored record.
func AppendTx(tx *bolt.Tx, r Record) (Record, error) {
	seq, prev, err := head(tx)
	if err != nil {
		return Record{}, fmt.Errorf("audit append: %w", err)
	}
	b := tx.Bucket(BucketRecords)
	if b == nil {
		return Record{}, errors.New("audit append: records bucket missing")
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.Time = r.Time.UTC()
	r.Seq = seq + 1
	r.Prev = prev
	if r.Hash, err = HashOf(r); err != nil {
		return Record{}, fmt.Errorf("audit append: %w", err)
	}
	v, err := json.Marshal(r)
	if err != nil {
		return Record{}, fmt.Errorf("audit append: %w", err)
	}
	if err := b.Put(seqKey(r.Seq), v); err != nil {
		return Record{}, fmt.Errorf("audit append: %w", err)
	}
	sum, _ := hex.DecodeString(r.Hash)
	hv := append(seqKey(r.Seq), sum...)
	if err := tx.Bucket(BucketHead).Put(keyHead, hv); err != nil {
		return Record{}, fmt.Errorf("audit append: %w", err)
	}
	return r, nil
}

// Decode parses one stored or exported record.
func Decode(b []byte) (Record, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("decode audit record: %w", err)
	}
	if dec.More() {
		return Record{}, errors.New("decode audit record: trailing data")
	}
	return r, nil
}

// VerifyError names the first record that breaks the chain.
type VerifyError struct {
	Seq    uint64 // the stored key of the bad record (0 for the head)
	Reason string
}

func (e *VerifyError) Error() string {
	if e.Seq == 0 {
		return "audit chain broken at head: " + e.Reason
	}
	return fmt.Sprintf("audit chain broken at record %d: %s", e.Seq, e.Reason)
}

// VerifyTx walks the chain in a read transaction and returns the number of records checked,
// or a *VerifyError naming the first record that was altered, removed, inserted or reordered.
func VerifyTx(tx *bolt.Tx) (int, error) {
	b := tx.Bucket(BucketRecords)
	if b == nil {
		return 0, &VerifyError{Reason: "no audit bucket in this state file"}
	}
	want := uint64(1)
	prev := GenesisHash
	n := 0
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			return n, &VerifyError{Seq: want, Reason: fmt.Sprintf("key of %d bytes where a sequence number belongs", len(k))}
		}
		seq := binary.BigEndian.Uint64(k)
		if seq != want {
			return n, &VerifyError{Seq: want, Reason: fmt.Sprintf("record %d missing (next stored is %d)", want, seq)}
		}
		r, err := Decode(v)
		if err != nil {
			return n, &VerifyError{Seq: seq, Reason: err.Error()}
		}
		if r.Seq != seq {
			return n, &VerifyError{Seq: seq, Reason: fmt.Sprintf("stored under %d but says seq %d (reordered)", seq, r.Seq)}
		}
		if r.Prev != prev {
			return n, &VerifyError{Seq: seq, Reason: "prev hash does not match the record before (removed or reordered)"}
		}
		h, err := HashOf(r)
		if err != nil {
			return n, &VerifyError{Seq: seq, Reason: err.Error()}
		}
		if h != r.Hash {
			return n, &VerifyError{Seq: seq, Reason: "content does not match its hash (altered)"}
		}
		prev = r.Hash
		want++
		n++
	}
	hseq, hhash, err := head(tx)
	if err != nil {
		return n, &VerifyError{Reason: err.Error()}
	}
	if hseq != want-1 || (n > 0 && hhash != prev) {
		return n, &VerifyError{Seq: want, Reason: fmt.Sprintf("head says %d records, found %d (newest removed or head altered)", hseq, want-1)}
	}
	return n, nil
}

// ExportTx writes every record with Time at or after since (zero: all) as JSON lines.
func ExportTx(tx *bolt.Tx, since time.Time, w io.Writer) (int, error) {
	b := tx.Bucket(BucketRecords)
	if b == nil {
		return 0, errors.New("audit export: no audit bucket in this state file")
	}
	n := 0
	err := b.ForEach(func(_, v []byte) error {
		r, err := Decode(v)
		if err != nil {
			return err
		}
		if !since.IsZero() && r.Time.Before(since) {
			return nil
		}
		line, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(line, '\n')); err != nil {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("audit export: %w", err)
	}
	return n, nil
}

// VerifyLines checks an exported JSON-lines stream on its own (no state file needed). A
// stream exported with --since starts mid-chain, so the first record's Prev is trusted.
func VerifyLines(r io.Reader) (int, error) {
	dec := json.NewDecoder(r)
	var prev string
	var want uint64
	n := 0
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return n, &VerifyError{Seq: want, Reason: "line does not decode: " + err.Error()}
		}
		rec, err := Decode(raw)
		if err != nil {
			return n, &VerifyError{Seq: want, Reason: err.Error()}
		}
		if n == 0 {
			want, prev = rec.Seq, rec.Prev
		}
		if rec.Seq != want {
			return n, &VerifyError{Seq: want, Reason: fmt.Sprintf("record %d missing (next is %d)", want, rec.Seq)}
		}
		if rec.Prev != prev {
			return n, &VerifyError{Seq: rec.Seq, Reason: "prev hash does not match the record before"}
		}
		h, err := HashOf(rec)
		if err != nil {
			return n, &VerifyError{Seq: rec.Seq, Reason: err.Error()}
		}
		if h != rec.Hash {
			return n, &VerifyError{Seq: rec.Seq, Reason: "content does not match its hash (altered)"}
		}
		prev = rec.Hash
		want++
		n++
	}
	return n, nil
}
