//go:build race

package server

// raceDetector reports whether the tests run under the race detector, which
// makes every step several times slower; long randomized tests run fewer
// steps then (make test runs this package only with -race).
const raceDetector = true
