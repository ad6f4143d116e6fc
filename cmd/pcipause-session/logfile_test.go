package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenLogCreatesAppendsAndRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "pcipause-session.log")
	for _, line := range []string{"one\n", "two\n"} {
		f, err := openLog(path)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(line))
		f.Close()
	}
	if b, _ := os.ReadFile(path); string(b) != "one\ntwo\n" {
		t.Fatalf("log holds %q, want both lines appended", b)
	}
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), maxLogSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := openLog(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("fresh\n"))
	f.Close()
	if b, _ := os.ReadFile(path); string(b) != "fresh\n" {
		t.Errorf("after rotation the log holds %d bytes, want only the new line", len(b))
	}
	if fi, err := os.Stat(path + ".1"); err != nil || fi.Size() != maxLogSize+1 {
		t.Errorf("rotated generation: %v", err)
	}
}

func TestOpenLogBadPath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openLog(filepath.Join(file, "x.log")); err == nil {
		t.Error("a log under a regular file: want an error")
	}
}
