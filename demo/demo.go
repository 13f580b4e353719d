// Package demo plays the seed's auto-rollback scenario against a real roman
// server started in-process on a throwaway SQLite database (`roman demo`).
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/odyssey-1/roman/config"
	"github.com/odyssey-1/roman/executor"
	"github.com/odyssey-1/roman/server"
)

// DefaultSpeed plays the whole demo in about 40 seconds.
const DefaultSpeed = 10.0

// MaxSpeed is the fastest the demo plays: beyond it the windows get shorter
// than the monitor's tick.
const MaxSpeed = 1000.0

// The seed's example timeline (ROLLBACK_PROCEDURES.md, "Example
// Auto-Rollback Scenario") at speed 1.
const (
	demoWatchWindow  = 5 * time.Minute // the watch window of v2.5.3
	demoVerifyWindow = time.Minute     // verification of the rolled-back system
	demoSpikeAt      = 2 * time.Minute // T+2 min: the error spike starts
	demoSpikeRate    = 8               // errors per minute in the spike
	demoRecoveryFor  = 1 * time.Minute // how long recovery is shown
	demoRecoveryRate = 0.2             // errors per minute after the rollback
	demoEnvironment  = "production"    // the seed's environment
	demoBadVersion   = "v2.5.3"        // the seed's bad release
	demoGoodVersion  = "v2.5.2"        // the seed's last good release
	demoGoodCommit   = "a7f3b29"       // the seed's commit of v2.5.2
	demoBadCommit    = "b81c4d0"       // a commit for v2.5.3
	demoErrorMessage = "TypeError: Cannot read properties of undefined (reading 'total') at checkout.js:88"
)

// Options are the flags of `roman demo`.
type Options struct {
	// Speed is how many times faster than the seed's timeline the scenario
	// plays, between 1 and MaxSpeed.
	Speed float64
	// Listen is the demo server's address; port 0 picks a free one.
	Listen string
	// Stay keeps the server up after the scenario until ctx ends.
	Stay bool
	// JudgeShadow also runs the baseline judge in shadow mode (the
	// threshold judge still acts) and narrates what it recorded about the
	// bad release.
	JudgeShadow bool
}

// Run plays the scenario. The server is torn down and the temporary
// directory removed however it ends (done, failed or interrupted).
func Run(ctx context.Context, o Options, out io.Writer) (err error) {
	if o.Speed < 1 || o.Speed > MaxSpeed {
		return fmt.Errorf("--speed must be between 1 and %g, not %g", MaxSpeed, o.Speed)
	}
	dir, err := os.MkdirTemp("", "roman-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	readKey, deployKey := "roman_demo_read_"+randomHex(12), "roman_demo_deploy_"+randomHex(12)
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) / o.Speed) }
	env := map[string]string{
		"ROMAN_DATABASE":      "sqlite://" + dir + "/roman.db",
		"ROMAN_LISTEN":        o.Listen,
		"ROMAN_API_KEYS":      "read:" + readKey + ",deploy:" + deployKey,
		"ROMAN_WATCH_WINDOW":  scale(demoWatchWindow).String(),
		"ROMAN_VERIFY_WINDOW": scale(demoVerifyWindow).String(),
		"ROMAN_EXECUTOR":      executor.TypeNone,
	}
	if o.JudgeShadow {
		env["ROMAN_JUDGE_SHADOW"] = "true"
	}
	cfg, err := config.Load("", func(k string) string { return env[k] })
	if err != nil {
		return err
	}
	m := &server.Server{Config: cfg, Stdout: io.Discard,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	if err := m.Open(ctx); err != nil {
		return err
	}
	defer func() {
		if cerr := m.Close(); err == nil {
			err = cerr
		}
	}()
	d := &demo{out: out, speed: o.Speed, shadow: o.JudgeShadow, base: m.URL(), read: readKey, deploy: deployKey, start: time.Now(),
		tty: isTerminal(out), scale: scale}
	d.say("roman demo: the seed's auto-rollback scenario at %gx speed, on a throwaway database in %s", o.Speed, dir)
	d.say("")
	d.say("  Dashboard: %s/app/admin/roman-dashboard", m.URL())
	d.say("  Read key:  %s   (paste it into the sign-in form)", readKey)
	d.say("")
	if err := d.play(ctx); err != nil {
		if ctx.Err() != nil {
			d.say("\nInterrupted: stopping the server and deleting %s.", dir)
			return nil
		}
		return err
	}
	if o.Stay {
		d.say("\nThe server and dashboard stay up at %s/app/admin/roman-dashboard. Press Ctrl-C to stop;", m.URL())
		d.say("the temporary database is deleted then.")
		<-ctx.Done()
		d.say("\nStopping the server and deleting %s.", dir)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// isTerminal reports whether w is a character device, where the progress
// line may redraw itself with \r.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// demo is one run of the scenario, talking to the server over HTTP only.
type demo struct {
	out                io.Writer
	speed              float64
	base, read, deploy string
	start              time.Time
	tty                bool
	scale              func(time.Duration) time.Duration
	progress           bool // a progress line is on screen
	shadow             bool // narrate the shadow judge's verdicts
}

// say prints a narration line (ending any progress line first).
func (d *demo) say(format string, args ...any) {
	if d.progress {
		fmt.Fprint(d.out, "\r\033[K")
		d.progress = false
	}
	fmt.Fprintf(d.out, format+"\n", args...)
}

// event prints a narration line stamped with the scenario's own clock
// (T+m:ss at speed 1), as the seed's timeline writes it.
func (d *demo) event(format string, args ...any) {
	t := time.Duration(float64(time.Since(d.start)) * d.speed)
	d.say("  T+%d:%02d  %s", int(t.Minutes()), int(t.Seconds())%60, fmt.Sprintf(format, args...))
}

// show draws the progress line: on a terminal in place, elsewhere never
// (logs and tests get the narration only).
func (d *demo) show(line string) {
	if !d.tty {
		return
	}
	fmt.Fprint(d.out, "\r\033[K"+line)
	d.progress = true
}

// bar renders a progress bar of width w for fraction f.
func bar(f float64, w int) string {
	n := int(min(max(f, 0), 1) * float64(w))
	return "[" + strings.Repeat("█", n) + strings.Repeat("·", w-n) + "]"
}
