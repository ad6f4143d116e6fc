package xenv

import (
	"bytes"
	"context"
	"image"
	"io"
	"log"
	"os"
	"testing"
	"time"

	"github.com/jezek/xgb"

	"pcipause/e2e/frames"
)

func TestMain(m *testing.M) {
	xgb.Logger = log.New(io.Discard, "", 0) // private sessions have no auth cookie
	os.Exit(m.Run())
}

func TestStartPicksFreeDisplaysAndCleansUp(t *testing.T) {
	a := ForTest(t, Options{NoWM: true})
	b := ForTest(t, Options{NoWM: true, First: a.Num, Last: 84})
	if a.Num == b.Num {
		t.Fatalf("two sessions on display %s", a.Display)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b.dir); !os.IsNotExist(err) {
		t.Errorf("private config %s left behind after Close", b.dir)
	}
	if _, err := xgb.NewConnDisplay(b.Display); err == nil {
		t.Errorf("display %s still answers after Close", b.Display)
	}
}

func TestStartBadRange(t *testing.T) {
	if _, err := Start(context.Background(), Options{First: 80, Last: 79}); err == nil {
		t.Fatal("Start with an empty display range: want error")
	}
}

func TestRecordCapturesFrames(t *testing.T) {
	env := ForTest(t, Options{NoWM: true}, "ffmpeg")
	var v bytes.Buffer
	rec, err := env.Record(context.Background(), image.Rect(0, 0, 101, 51), 30, &v)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Region != image.Rect(0, 0, 100, 50) {
		t.Errorf("region %v, want odd sizes trimmed to (0,0)-(100,50)", rec.Region)
	}
	ready := time.Now()
	if err := rec.Stop(); err != nil {
		t.Fatal(err)
	}
	if v.Len() == 0 || !bytes.HasPrefix(v.Bytes(), []byte{0x1a, 0x45, 0xdf, 0xa3}) {
		t.Fatalf("recording is %d bytes and not Matroska", v.Len())
	}
	// Record returns only once x11grab is past its start-up stall: the film already holds
	// steadyFrames frames, stamped (-copyts) before Record returned.
	res, err := frames.Analyze(context.Background(), v.Bytes(), frames.Options{Crop: image.Rect(0, 0, 100, 50), PAN: "4111111111111111", Skip: func(time.Time) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	before := 0
	for _, f := range res.Frames {
		if f.PTS.Before(ready) {
			before++
		}
	}
	if before < steadyFrames {
		t.Errorf("%d of %d frames were captured before Record returned, want at least %d", before, len(res.Frames), steadyFrames)
	}
}

func TestStartAppUnknownKind(t *testing.T) {
	env := ForTest(t, Options{NoWM: true})
	if _, err := env.StartApp(context.Background(), AppKind("notepad"), "x"); err == nil {
		t.Fatal("StartApp with an unknown kind: want error")
	}
}
