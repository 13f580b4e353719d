package sqldb_test

import (
	"math/rand"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// TestErrorPeaksFromCounters checks, on both stores, that ErrorPeaks
// narrowed by the per-second counters gives exactly what a scan of every
// error gives (counts and the earliest times reaching them), on a steady
// storm, bursts, errors sharing a timestamp and ranges cut inside seconds.
func TestErrorPeaksFromCounters(t *testing.T) {
	prev := sqldb.SetPeaksScanBelow(0)
	t.Cleanup(func() { sqldb.SetPeaksScanBelow(prev) })
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		rng := rand.New(rand.NewSource(7))
		for n, gen := range []func() []time.Time{
			func() []time.Time { // a steady storm: 20 a second for 12 minutes, evenly
				var out []time.Time
				for i := 0; i < 12*60*20; i++ {
					out = append(out, base.Add(time.Duration(i)*50*time.Millisecond))
				}
				return out
			},
			func() []time.Time { // random, with bursts and shared timestamps
				var out []time.Time
				for i := 0; i < 3000; i++ {
					at := base.Add(time.Duration(rng.Int63n(int64(12 * time.Minute))))
					out = append(out, at)
					if i%50 == 0 {
						for k := 0; k < 40; k++ { // a burst in the same second
							out = append(out, at.Add(time.Duration(rng.Int63n(int64(time.Second)))))
						}
						out = append(out, at, at) // the same time thrice
					}
				}
				return out
			},
			func() []time.Time { // two equal bursts: the earlier one wins the tie
				var out []time.Time
				for _, start := range []time.Duration{2 * time.Minute, 8 * time.Minute} {
					for i := 0; i < 500; i++ {
						out = append(out, base.Add(start+time.Duration(i)*100*time.Millisecond+time.Duration(i%7)*time.Microsecond))
					}
				}
				return out
			},
		} {
			d := newDeployment("prod", "v1", base.Add(-time.Hour), roman.StatusSuccess)
			mustCreate(t, db, d)
			var evs []roman.ErrorEvent
			for _, at := range gen() {
				evs = append(evs, roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: "prod", OccurredAt: at, Message: "boom", Severity: "error"})
			}
			if err := db.InsertErrorEvents(ctx, evs); err != nil {
				t.Fatal(err)
			}
			for _, r := range [][2]time.Time{
				{base, base.Add(12 * time.Minute)},
				{base.Add(37*time.Second + 123456*time.Microsecond), base.Add(9*time.Minute + 500*time.Millisecond)},
				{base.Add(-time.Minute), base.Add(time.Hour)},
				{base.Add(3 * time.Minute), base.Add(4 * time.Minute)},
			} {
				got, err := db.ErrorPeaks(ctx, d.DeploymentID, r[0], r[1])
				if err != nil {
					t.Fatal(err)
				}
				want, err := db.ErrorPeaksScan(ctx, d.DeploymentID, r[0], r[1])
				if err != nil {
					t.Fatal(err)
				}
				if !got.MinuteAt.Equal(want.MinuteAt) || !got.FiveMinutesAt.Equal(want.FiveMinutesAt) || got.Minute != want.Minute || got.FiveMinutes != want.FiveMinutes {
					t.Errorf("data %d, range %v–%v: ErrorPeaks = %+v, the scan says %+v", n, r[0], r[1], got, want)
				}
			}
		}
	})
}
