package policy_test

import (
	"context"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/policy"
)

func TestBasic(t *testing.T) {
	th := roman.DefaultThresholds()
	calm := roman.EvaluateHealth(roman.HealthInputs{}, th, time.Now())
	spike := roman.EvaluateHealth(roman.HealthInputs{ErrorsLastMinute: 9, ErrorsLast5Minutes: 9}, th, time.Now())
	target := &roman.Deployment{DeploymentID: roman.NewUUID(), Version: "v2.5.2"}
	ok := roman.DatabaseState{Consistent: true}
	bad := roman.DatabaseState{Reason: "migration failed"}
	stable := "System already stable: error rate 0/minute"
	for _, tc := range []struct {
		name       string
		in         roman.ValidationInput
		compliant  bool
		violations []string
		warnings   []string
	}{
		{"automatic spike approved", roman.ValidationInput{Trigger: "automatic", Health: spike, Target: target, Database: ok}, true, nil, nil},
		{"automatic stable rejected", roman.ValidationInput{Trigger: "automatic", Health: calm, Target: target, Database: ok}, false, []string{stable}, nil},
		{"manual stable warns", roman.ValidationInput{Trigger: "manual", Health: calm, Target: target, Database: ok}, true, nil, []string{stable}},
		{"no target", roman.ValidationInput{Trigger: "manual", Health: spike, Database: ok}, false, []string{policy.MsgNoTarget}, nil},
		{"no target survives override", roman.ValidationInput{Trigger: "manual", Health: spike, Database: ok, Override: true}, false, []string{policy.MsgNoTarget}, nil},
		{"inconsistent db", roman.ValidationInput{Trigger: "manual", Health: spike, Target: target, Database: bad}, false, []string{policy.MsgDatabaseInconsist}, nil},
		{"override turns db into warning", roman.ValidationInput{Trigger: "manual", Health: spike, Target: target, Database: bad, Override: true}, true, nil, []string{policy.MsgDatabaseInconsist}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Thresholds = th
			v, err := policy.Basic{}.Validate(context.Background(), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if v.Compliant != tc.compliant || !equal(v.Violations, tc.violations) || !equal(v.Warnings, tc.warnings) {
				t.Fatalf("got %+v", v)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
