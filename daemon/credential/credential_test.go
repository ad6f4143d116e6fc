package credential

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const testSecret = "s3cr3t-Client-Secret-Value"

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Secrets
		err  string
	}{
		{"client only", `{"client_secret":"a"}`, Secrets{ClientSecret: "a"}, ""},
		{"both", `{"client_secret":"a","access_key_secret":"b"}`, Secrets{ClientSecret: "a", AccessKeySecret: "b"}, ""},
		{"empty", ``, Secrets{}, "empty"},
		{"raw secret", testSecret, Secrets{}, "not a JSON object"},
		{"truncated", `{"client_secret":"` + testSecret, Secrets{}, "not a JSON object"},
		{"unknown field", `{"client_secret":"a","` + testSecret + `":"x"}`, Secrets{}, "unknown field"},
		{"number", `{"client_secret":5}`, Secrets{}, `"client_secret" must be a string`},
		{"missing client", `{"access_key_secret":"b"}`, Secrets{}, "client_secret is missing"},
		{"trailing", `{"client_secret":"a"} {"x":1}`, Secrets{}, "data after"},
		{"too big", `{"client_secret":"` + strings.Repeat("a", MaxSize) + `"}`, Secrets{}, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.in))
			if tt.err == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Decode = %v, %v; want %v", got, err, tt.want)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Decode error %v, want ErrMalformed mentioning %q", err, tt.err)
			}
			if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "s3cr") {
				t.Errorf("error leaks the input: %v", err)
			}
		})
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	s := Secrets{ClientSecret: testSecret, AccessKeySecret: testSecret + "2"}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(f, s); strings.Contains(out, "s3cr") {
			t.Errorf("%s prints the secret: %s", f, out)
		}
	}
	if _, err := Encode(Secrets{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("Encode(empty) = %v", err)
	}
}

func TestWipe(t *testing.T) {
	b := []byte(testSecret)
	Wipe(b)
	for _, c := range b {
		if c != 0 {
			t.Fatalf("Wipe left %q", b)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"client_secret":"a"}`, `{"client_secret":"a","access_key_secret":"b"}`, `{"x":1}`, `[`, ``, `{"client_secret":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		enc, err := Encode(s)
		if err != nil {
			t.Fatalf("decoded secrets do not encode: %v", err)
		}
		s2, err := Decode(enc)
		if err != nil || s2 != s {
			t.Fatalf("round trip: %v, %v", s2, err)
		}
	})
}
