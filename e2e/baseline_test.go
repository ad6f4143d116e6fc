package e2e

import (
	"bytes"
	"context"
	"image"
	"testing"
	"time"

	"pcipause/e2e/frames"
	"pcipause/e2e/xenv"
	"pcipause/overlay"
)

// testPAN is a documented test card number; it is passed to the typing tool and the analysis
// in memory only.
const testPAN = "4111111111111111"

// typeAndMeasure records the app's field while typing text and returns the frame analysis.
func typeAndMeasure(t *testing.T, env *xenv.Env, app *xenv.App, text string, delay time.Duration) *frames.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var video bytes.Buffer
	rec, err := env.Record(ctx, app.Field, 30, &video)
	if err != nil {
		t.Fatal(err)
	}
	typeErr := env.Type(ctx, text, delay)
	// Let the last keystroke render and be captured by a few frames.
	time.Sleep(300 * time.Millisecond)
	if err := rec.Stop(); err != nil {
		t.Fatal(err)
	}
	if typeErr != nil {
		t.Fatal(typeErr)
	}
	crop := image.Rectangle{Max: rec.Region.Size()}
	res, err := frames.Analyze(ctx, video.Bytes(), frames.Options{Crop: crop, PAN: testPAN, Workers: 2})
	video.Reset()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s", app.Kind, res.Summary)
	return res
}

func TestBaselineReadsUnmaskedDigits(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; skipped with -short")
	}
	for _, kind := range xenv.AllApps {
		t.Run(string(kind), func(t *testing.T) {
			env := xenv.ForTest(t, xenv.Options{}, append(kind.Programs(), "ffmpeg", "tesseract")...)
			app, err := env.StartApp(context.Background(), kind, "pcipause e2e "+string(kind))
			if err != nil {
				t.Fatal(err)
			}
			res := typeAndMeasure(t, env, app, testPAN, 20*time.Millisecond)
			if res.Summary.MaxDigits < 14 {
				t.Errorf("unmasked %s: analysis read at most %d of 16 digits, want >= 14 (it could not detect a leak)", kind, res.Summary.MaxDigits)
			}
		})
	}
}

func TestOverlayHidesTypedDigits(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; skipped with -short")
	}
	for _, kind := range xenv.AllApps {
		t.Run(string(kind), func(t *testing.T) {
			env := xenv.ForTest(t, xenv.Options{}, append(kind.Programs(), "ffmpeg", "tesseract")...)
			app, err := env.StartApp(context.Background(), kind, "pcipause e2e "+string(kind))
			if err != nil {
				t.Fatal(err)
			}
			ov, err := overlay.New(context.Background(), overlay.Options{Display: env.Display}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ov.Close()
			if err := ov.Show(app.Field, "Hidden from recording · 16 digits · checksum OK"); err != nil {
				t.Fatal(err)
			}
			res := typeAndMeasure(t, env, app, testPAN, 20*time.Millisecond)
			// The readback the session helper relies on agrees with the recording.
			if err := ov.Check(); err != nil {
				t.Errorf("overlay self-check over %s: %v", kind, err)
			}
			if res.Summary.MaxDigits > 2 {
				t.Errorf("masked %s: %d digits readable in frame %d, want 0-2", kind, res.Summary.MaxDigits, res.Summary.WorstIndex)
			}
			if res.Summary.MinBlack < 0.7 {
				t.Errorf("masked %s: field only %.0f%% black in some frame, want >= 70%%", kind, 100*res.Summary.MinBlack)
			}
		})
	}
}
