package githubdeploy_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/notify/githubdeploy"
)

// lookup is a roman.MirrorLookup over fixed deployments and queued kinds.
type lookup struct {
	deps     map[string]*roman.Deployment
	replaced *roman.Deployment
	queued   map[string]bool // deployment id + " " + kind
}

func (l *lookup) Deployment(id string) (*roman.Deployment, error) { return l.deps[id], nil }
func (l *lookup) Replaced(*roman.Deployment) (*roman.Deployment, error) {
	return l.replaced, nil
}
func (l *lookup) Queued(channel, kind, id string) (bool, error) {
	return channel == roman.ChannelGitHub && l.queued[id+" "+kind], nil
}

// TestMirrorPicksTheJobs is the table of events and the GitHub jobs they
// queue.
func TestMirrorPicksTheJobs(t *testing.T) {
	cur := &roman.Deployment{DeploymentID: "11111111-1111-4111-8111-111111111111", Environment: "production", Version: "v2",
		Service: "default", Status: roman.StatusSuccess}
	prev := &roman.Deployment{DeploymentID: "22222222-2222-4222-8222-222222222222", Environment: "production", Version: "v1",
		Service: "default", Status: roman.StatusSuccess}
	rolled := *cur
	rolled.Status = roman.StatusRolledBack
	staging := *cur
	staging.Environment = "staging"
	created := map[string]bool{cur.DeploymentID + " " + roman.MirrorCreateDeployment: true, prev.DeploymentID + " " + roman.MirrorCreateDeployment: true}
	failed := map[string]bool{cur.DeploymentID + " " + roman.MirrorCreateDeployment: true, cur.DeploymentID + " " + roman.MirrorStatusFailure: true}
	cfg := func(env string) githubdeploy.Config {
		if env == "staging" {
			return githubdeploy.Config{}
		}
		return githubdeploy.Config{Repository: "octocat/example", Token: "t"}
	}
	mirror := githubdeploy.Mirror(cfg)
	for _, tc := range []struct {
		name     string
		typ      string
		meta     map[string]any
		d        *roman.Deployment
		replaced *roman.Deployment
		queued   map[string]bool
		want     string
	}{
		{"recorded", roman.EventDeploymentRecorded, nil, cur, nil, nil, "[github_deployment " + cur.DeploymentID + " ]"},
		{"recorded in an environment not mirrored", roman.EventDeploymentRecorded, nil, &staging, nil, nil, "[]"},
		{"watch started", roman.EventWatchStarted, nil, cur, nil, created, "[github_in_progress " + cur.DeploymentID + " msg]"},
		{"watch started, never created", roman.EventWatchStarted, nil, cur, nil, nil, "[]"},
		{"passed, replacing", roman.EventWatchPassed, nil, cur, prev, created,
			"[github_success " + cur.DeploymentID + " msg github_inactive " + prev.DeploymentID + " Replaced by v2, which passed roman's watch]"},
		{"passed after its rollback began", roman.EventWatchPassed, nil, cur, nil, failed, "[]"},
		{"rollback", roman.EventRollbackStarted, map[string]any{"trigger_reason": "High error rate: 9 errors/minute"}, cur, nil, created,
			"[github_failure " + cur.DeploymentID + " Rolled back by roman: High error rate: 9 errors/minute]"},
		{"window failed, not rolled back", roman.EventWatchFailed, nil, cur, nil, created, "[github_failure " + cur.DeploymentID + " msg]"},
		{"window failed, rolled back", roman.EventWatchFailed, nil, &rolled, nil, created, "[]"},
		{"rollback completed restores its target", roman.EventRollbackCompleted, map[string]any{"target_deployment_id": prev.DeploymentID}, cur, nil, created,
			"[github_success " + prev.DeploymentID + " Restored by roman: rollback of v2 complete]"},
		{"other events", roman.EventHealthWarning, nil, cur, nil, created, "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta := map[string]any{"deployment_id": tc.d.DeploymentID}
			for k, v := range tc.meta {
				meta[k] = v
			}
			raw, _ := json.Marshal(meta)
			rows, err := mirror(&roman.RomanEvent{EventType: tc.typ, Message: "msg", Metadata: raw},
				&lookup{deps: map[string]*roman.Deployment{tc.d.DeploymentID: tc.d, prev.DeploymentID: prev}, replaced: tc.replaced, queued: tc.queued})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				if r.Channel != roman.ChannelGitHub {
					t.Errorf("channel %q", r.Channel)
				}
				got = append(got, r.Alert.Kind+" "+r.Alert.DeploymentID+" "+r.Alert.Detail)
			}
			if s := fmt.Sprint(got); s != tc.want && !(len(got) == 0 && tc.want == "[]") {
				t.Errorf("got %s\nwant %s", s, tc.want)
			}
		})
	}
}
