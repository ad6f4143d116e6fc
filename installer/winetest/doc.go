// Package winetest runs the Windows build of pcipause under Wine: the Windows unit test
// executables, then end to end — the service installed and controlled through the Wine SCM,
// a session helper masking a card number typed into Wine's notepad, the simulator seeing the
// pause. The tests carry the build tag winetest and expect the environment `make test-windows`
// sets up (installer/winetest/wineenv.sh: a private prefix with the ProcessPrng shim, a
// private Xvfb).
package winetest
