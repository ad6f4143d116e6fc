// Command pcipause-session is the per-user session helper: it watches focus and keys, masks
// card data on screen the instant it appears, shows the tray icon and tells the service, which
// pauses the recording. It holds no credential.
package main

import (
	"fmt"
	"os"

	"pcipause/daemon/buildinfo"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Println(buildinfo.String())
		return
	}
	fmt.Fprintln(os.Stderr, "pcipause-session: not yet wired")
	os.Exit(1)
}
