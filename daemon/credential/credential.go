// Package credential keeps the service's CXone secrets: the OAuth2 client secret and, for the
// cxone-mask back end, the API user's access key secret. They live in one small JSON document
// in a store only the service can read — a root-owned 0600 file on Linux, DPAPI machine scope
// on Windows — and never in the config file, logs or errors.
package credential

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Store holds one secret document.
type Store interface {
	// Set replaces the stored secret atomically.
	Set(secret []byte) error
	// Get returns the stored secret. The caller should Wipe it when done.
	Get() ([]byte, error)
	// Present reports whether a secret is stored (it may still fail Get, e.g. on permissions).
	Present() bool
}

// MaxSize is the largest secret document accepted.
const MaxSize = 16 << 10

// Sentinel errors.
var (
	ErrNotFound    = errors.New("no credential stored")
	ErrPermissions = errors.New("credential file permissions are unsafe")
	ErrMalformed   = errors.New("malformed credential")
)

// Secrets is the stored document.
type Secrets struct {
	ClientSecret    string `json:"client_secret"`
	AccessKeySecret string `json:"access_key_secret,omitempty"` // cxone-mask only
}

// String never shows the secrets, so a Secrets printed by accident leaks nothing.
func (s Secrets) String() string {
	return fmt.Sprintf("credential.Secrets{client_secret:%s access_key_secret:%s}", set(s.ClientSecret), set(s.AccessKeySecret))
}

// GoString is String, for %#v.
func (s Secrets) GoString() string { return s.String() }

func set(s string) string {
	if s == "" {
		return "unset"
	}
	return "set"
}

// Encode makes the stored document.
func Encode(s Secrets) ([]byte, error) {
	if s.ClientSecret == "" {
		return nil, fmt.Errorf("credential: %w: client_secret is empty", ErrMalformed)
	}
	return json.Marshal(s)
}

// Decode parses the stored document strictly. Its errors say what is wrong but never quote
// the input.
func Decode(b []byte) (Secrets, error) {
	var s Secrets
	if len(b) > MaxSize {
		return s, fmt.Errorf("credential: %w: %d bytes, limit %d", ErrMalformed, len(b), MaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Secrets{}, fmt.Errorf("credential: %w: %s", ErrMalformed, describe(err))
	}
	if dec.More() {
		return Secrets{}, fmt.Errorf("credential: %w: data after the JSON document", ErrMalformed)
	}
	if s.ClientSecret == "" {
		return Secrets{}, fmt.Errorf("credential: %w: client_secret is missing or empty", ErrMalformed)
	}
	return s, nil
}

// describe summarises a JSON error without any byte of the input.
func describe(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("not a JSON object (syntax error at byte %d)", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be a string", te.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return "unknown field (only client_secret and access_key_secret are allowed)"
	case errors.Is(err, io.EOF):
		return "empty"
	}
	return "not a JSON object"
}

// Load reads and decodes the secrets from a store, wiping the raw bytes.
func Load(s Store) (Secrets, error) {
	b, err := s.Get()
	if err != nil {
		return Secrets{}, err
	}
	defer Wipe(b)
	return Decode(b)
}

// Save encodes and stores the secrets.
func Save(s Store, sec Secrets) error {
	b, err := Encode(sec)
	if err != nil {
		return err
	}
	defer Wipe(b)
	return s.Set(b)
}

// Read opens the store at path and loads its secrets.
func Read(path string) (Secrets, error) {
	st, err := Open(path)
	if err != nil {
		return Secrets{}, err
	}
	return Load(st)
}

// Wipe overwrites b with zeros.
func Wipe(b []byte) {
	clear(b)
}
