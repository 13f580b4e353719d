package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/odyssey-1/roman"
)

func TestJudgements(t *testing.T) {
	f := explainFakes()
	j := roman.Judgement{Judge: roman.JudgeBaseline, Verdict: roman.VerdictFail, EValue: 5100, Why: "Why: 42 errors in 3 min (14/minute) vs 9 in 30 min (0.3/minute) on v2.5.2 — 46.7x, p < 0.0001"}
	md, _ := json.Marshal(map[string]any{"deployment_id": cliDepID, "record": "trigger", "judgement": j})
	list := f.eventStore.ListRomanEventsFn
	f.eventStore.ListRomanEventsFn = func(ctx context.Context, fl roman.RomanEventFilter) ([]*roman.RomanEvent, error) {
		ev := &roman.RomanEvent{EventID: "j1", EventType: roman.EventHealthJudgement, Severity: roman.SeverityInfo, Message: "Judge baseline: fail", Metadata: md, Timestamp: cliT0}
		if fl.EventType == roman.EventHealthJudgement {
			return []*roman.RomanEvent{ev}, nil
		}
		evs, err := list(ctx, fl)
		return append(evs, ev), err
	}
	f.deployments.GetFn = f.depStore.GetDeploymentFn
	url := cliServe(t, f)
	out, _, err := cliRun(t, cliArgs(url, "judgements", cliDepID)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"trigger", "baseline", "fail", "5.1e+03", "Why: 42 errors in 3 min"} {
		if !strings.Contains(out, want) {
			t.Errorf("%q missing in:\n%s", want, out)
		}
	}
	out, _, err = cliRun(t, cliArgs(url, "explain", cliDepID)...)
	if err != nil || !strings.Contains(out, "Judge: baseline, fail. Why: 42 errors in 3 min") {
		t.Errorf("explain: %v\n%s", err, out)
	}
}
