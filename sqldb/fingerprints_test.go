package sqldb_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// errs returns n error events of d with fingerprint fp, a second apart from
// at.
func errs(d *roman.Deployment, fp string, n int, at time.Time) []roman.ErrorEvent {
	out := make([]roman.ErrorEvent, n)
	for i := range out {
		out[i] = roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: d.Environment, OccurredAt: at.Add(time.Duration(i) * time.Second),
			Message: fmt.Sprintf("%s failed for user %d", fp, i), Severity: "error", Fingerprint: fp, ErrorType: "E" + fp}
	}
	return out
}

func mustInsert(t *testing.T, db *sqldb.DB, batches ...[]roman.ErrorEvent) {
	t.Helper()
	for _, b := range batches {
		if err := db.InsertErrorEvents(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
}

func newCounts(t *testing.T, db *sqldb.DB, ds ...*roman.Deployment) map[string]roman.NewErrorCounts {
	t.Helper()
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.DeploymentID
	}
	got, err := db.NewErrorsBatch(ctx, append(ids, "not-a-uuid"))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// groups renders a release's error groups as "fp:new|known:count" items.
func groups(t *testing.T, db *sqldb.DB, d *roman.Deployment, f roman.ErrorGroupFilter) string {
	t.Helper()
	gs, err := db.DeploymentErrors(ctx, d.DeploymentID, f)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, g := range gs {
		state := "known"
		if g.New {
			state = "new"
		}
		parts = append(parts, fmt.Sprintf("%s:%s:%d", g.Fingerprint, state, g.Count))
	}
	return strings.Join(parts, " ")
}

// TestFingerprintsFirstSeen: a fingerprint seen on v1 is known on v2; one
// that v1 never had is new on v2; another service or environment shares
// nothing; an older release's events stored late take the first sighting
// back from the newer release; both stores.
func TestFingerprintsFirstSeen(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		v1 := newDeployment("production", "v1", t0, roman.StatusSuccess)
		v2 := newDeployment("production", "v2", t0.Add(time.Hour), roman.StatusSuccess)
		other := newDeployment("staging", "v2", t0.Add(time.Hour), roman.StatusSuccess)
		api := newDeployment("production", "v2", t0.Add(time.Hour), roman.StatusSuccess)
		api.Service = "api"
		mustCreate(t, db, v1, v2, other, api)

		mustInsert(t, db, errs(v1, "A", 3, t0.Add(time.Minute)))
		// One batch across releases: A is known on v2, B and C are new;
		// the same fingerprints elsewhere are new there.
		batch := append(errs(v2, "A", 5, t0.Add(61*time.Minute)), errs(v2, "B", 4, t0.Add(62*time.Minute))...)
		batch = append(batch, errs(v2, "C", 1, t0.Add(63*time.Minute))...)
		batch = append(batch, errs(other, "A", 2, t0.Add(61*time.Minute))...)
		batch = append(batch, errs(api, "A", 7, t0.Add(61*time.Minute))...)
		mustInsert(t, db, batch)
		mustInsert(t, db, errs(v2, "B", 2, t0.Add(64*time.Minute))) // a second batch adds to B

		// v1, staging's and api's first releases have nothing to compare
		// with: no new errors, though the listing says where each was
		// first seen.
		got := newCounts(t, db, v1, v2, other, api)
		want := map[string]roman.NewErrorCounts{
			v2.DeploymentID: {Events: 7, Fingerprints: 2},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("new errors = %v, want %v", got, want)
		}
		if g := groups(t, db, v2, roman.ErrorGroupFilter{}); g != "B:new:6 C:new:1 A:known:5" {
			t.Errorf("v2 groups = %q", g)
		}
		if g := groups(t, db, v2, roman.ErrorGroupFilter{NewOnly: true, Limit: 1}); g != "B:new:6" {
			t.Errorf("v2 new groups, limit 1 = %q", g)
		}
		if g := groups(t, db, other, roman.ErrorGroupFilter{}); g != "A:new:2" {
			t.Errorf("staging groups = %q", g)
		}
		// A second staging release: A is known there now, B new.
		other2 := newDeployment("staging", "v3", t0.Add(2*time.Hour), roman.StatusSuccess)
		mustCreate(t, db, other2)
		mustInsert(t, db, append(errs(other2, "A", 2, t0.Add(121*time.Minute)), errs(other2, "B", 3, t0.Add(121*time.Minute))...))
		if got := newCounts(t, db, other2)[other2.DeploymentID]; got != (roman.NewErrorCounts{Events: 3, Fingerprints: 1}) {
			t.Errorf("second staging release: %v", got)
		}
		gs, err := db.DeploymentErrors(ctx, v2.DeploymentID, roman.ErrorGroupFilter{})
		if err != nil {
			t.Fatal(err)
		}
		b, a := gs[0], gs[2]
		us := time.Microsecond // the stores keep microseconds
		if !b.FirstSeen.Equal(t0.Add(62*time.Minute).Truncate(us)) || !b.LastSeen.Equal(t0.Add(64*time.Minute+time.Second).Truncate(us)) ||
			b.Message != "B failed for user 0" || b.ErrorType != "EB" || b.FirstDeploymentID != v2.DeploymentID {
			t.Errorf("group B = %+v", b)
		}
		if a.New || a.FirstDeploymentID != v1.DeploymentID {
			t.Errorf("group A = %+v, want known, first seen on v1", a)
		}

		// v1 reports C late (its own clock, stored after v2's): C was
		// not new on v2 after all.
		mustInsert(t, db, errs(v1, "C", 1, t0.Add(30*time.Minute)))
		got = newCounts(t, db, v1, v2)
		if got[v2.DeploymentID] != (roman.NewErrorCounts{Events: 6, Fingerprints: 1}) || len(got) != 1 {
			t.Errorf("after v1's late C: %v", got)
		}
		// Events without a fingerprint are not grouped.
		mustInsert(t, db, []roman.ErrorEvent{{DeploymentID: v2.DeploymentID, Environment: "production", OccurredAt: t0.Add(65 * time.Minute), Message: "x", Severity: "error"}})
		if g := groups(t, db, v2, roman.ErrorGroupFilter{}); g != "B:new:6 A:known:5 C:known:1" {
			t.Errorf("v2 groups after all = %q", g)
		}
		if _, err := db.DeploymentErrors(ctx, roman.NewUUID(), roman.ErrorGroupFilter{}); roman.ErrorCode(err) != roman.ENOTFOUND {
			t.Errorf("unknown deployment: %v", err)
		}
	})
}

// TestMarkNewFingerprint: an issue marked new on a release makes its events
// there new unless an earlier release had it; marking on a later release
// changes nothing; bad input is refused naming the field; both stores.
func TestMarkNewFingerprint(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		v1 := newDeployment("production", "v1", t0, roman.StatusSuccess)
		v2 := newDeployment("production", "v2", t0.Add(time.Hour), roman.StatusSuccess)
		v3 := newDeployment("production", "v3", t0.Add(2*time.Hour), roman.StatusSuccess)
		mustCreate(t, db, v1, v2, v3)
		at := t0.Add(90 * time.Minute)
		if err := db.MarkNewFingerprint(ctx, v2.DeploymentID, "sentry-123", at); err != nil {
			t.Fatal(err)
		}
		mustInsert(t, db, errs(v2, "sentry-123", 4, at))
		if got := newCounts(t, db, v2)[v2.DeploymentID]; got != (roman.NewErrorCounts{Events: 4, Fingerprints: 1}) {
			t.Errorf("v2 after mark and events: %v", got)
		}
		// A later release marking it again: v2 keeps it.
		if err := db.MarkNewFingerprint(ctx, v3.DeploymentID, "sentry-123", t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		mustInsert(t, db, errs(v3, "sentry-123", 2, t0.Add(3*time.Hour)))
		if got := newCounts(t, db, v2, v3); got[v3.DeploymentID].Events != 0 || got[v2.DeploymentID].Events != 4 {
			t.Errorf("after v3's mark: %v", got)
		}
		// An earlier release marking it takes it over.
		if err := db.MarkNewFingerprint(ctx, v1.DeploymentID, "sentry-123", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got := newCounts(t, db, v1, v2); got[v2.DeploymentID].Events != 0 {
			t.Errorf("after v1's mark: %v", got)
		}
		for _, tc := range []struct {
			id, fp, code, msg string
		}{
			{"nope", "x", roman.EINVALID, "deployment_id"},
			{"", "x", roman.EINVALID, "deployment_id"},
			{v1.DeploymentID, " ", roman.EINVALID, "fingerprint: required"},
			{v1.DeploymentID, strings.Repeat("f", 257), roman.EINVALID, "fingerprint: longer than"},
			{v1.DeploymentID, "a\x00b", roman.EINVALID, "fingerprint"},
			{roman.NewUUID(), "x", roman.ENOTFOUND, "not found"},
		} {
			err := db.MarkNewFingerprint(ctx, tc.id, tc.fp, at)
			if roman.ErrorCode(err) != tc.code || !strings.Contains(roman.ErrorMessage(err), tc.msg) {
				t.Errorf("MarkNewFingerprint(%q, %q) = %v, want %s naming %q", tc.id, tc.fp, err, tc.code, tc.msg)
			}
		}
	})
}
