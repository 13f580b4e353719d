//go:build !race

package server

// raceDetector reports whether the tests run under the race detector.
const raceDetector = false
