package icons

//go:generate go run ./gen -out . -docs ../../docs/img

import (
	"embed"
	"fmt"
)

// The generated files; `go run ./tray/icons/gen` rewrites them from Draw and a test fails
// when they no longer match it.
//
//go:embed *.png *.ico
var files embed.FS

// PNG returns the embedded PNGSize×PNGSize PNG of the icon (for StatusNotifierItem hosts).
func PNG(i Icon) ([]byte, error) { return file(i, ".png") }

// ICO returns the embedded multi-size ICO of the icon (for Shell_NotifyIcon).
func ICO(i Icon) ([]byte, error) { return file(i, ".ico") }

func file(i Icon, ext string) ([]byte, error) {
	if i < Recording || i > NotRecording {
		return nil, fmt.Errorf("icon file: unknown icon %d", int(i))
	}
	b, err := files.ReadFile(i.Name() + ext)
	if err != nil {
		return nil, fmt.Errorf("icon file %s%s: %w", i.Name(), ext, err)
	}
	return b, nil
}
