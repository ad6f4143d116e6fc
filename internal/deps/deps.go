//go:build tools

// Package deps pins the modules other packages are being written against, so go.mod keeps
// them while the code that imports them lands. Removed once every one is imported for real.
package deps

import (
	_ "fyne.io/systray"
	_ "github.com/BurntSushi/toml"
	_ "github.com/Microsoft/go-winio"
	_ "github.com/godbus/dbus/v5"
	_ "github.com/jezek/xgb"
	_ "github.com/kardianos/service"
	_ "github.com/pelletier/go-toml/v2"
	_ "go.etcd.io/bbolt"
	_ "go.uber.org/goleak"
	_ "golang.org/x/oauth2/clientcredentials"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/sys/windows"
	_ "golang.org/x/time/rate"
	_ "gonum.org/v1/plot"
)
