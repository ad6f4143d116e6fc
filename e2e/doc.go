// Package e2e holds pcipause's end-to-end tests: real applications on a private Xvfb, typed
// into with xdotool, recorded with ffmpeg and judged frame by frame (see e2e/frames).
package e2e
