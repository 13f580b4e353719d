package roman_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
)

func TestJSONTextProblem(t *testing.T) {
	for _, tc := range []struct {
		raw    string
		stored bool
		want   string
	}{
		{`"plain"`, true, ""},
		{`{"a":"\u0000"}`, false, "contains \\u0000 (NUL), which cannot be stored"},
		{`{"a\u0000":1}`, true, "contains \\u0000 (NUL), which cannot be stored"},
		{`"C:\\u0000dir"`, true, ""}, // an escaped backslash, then text
		{`"\\\u0000"`, true, "contains \\u0000 (NUL), which cannot be stored"},
		{`"\u00001"`, false, "contains \\u0000 (NUL), which cannot be stored"},
		{`"\u0001\t\n"`, true, ""},
		{`"\ud83d\ude00"`, true, ""},
		{`"\uD83D\uDE00"`, true, ""},
		{`"\ud800"`, true, "contains an unpaired UTF-16 surrogate escape"},
		{`"\ud800x"`, true, "contains an unpaired UTF-16 surrogate escape"},
		{`"\ud800\u0041"`, true, "contains an unpaired UTF-16 surrogate escape"},
		{`"\udc00\ud800"`, true, "contains an unpaired UTF-16 surrogate escape"},
		{`"\ud800"`, false, ""}, // decoded into a string: becomes U+FFFD
		{"\"a\xffb\"", true, "not valid UTF-8"},
		{"\"a\xffb\"", false, ""},
	} {
		if got := roman.JSONTextProblem([]byte(tc.raw), tc.stored); got != tc.want {
			t.Errorf("JSONTextProblem(%s, %v) = %q, want %q", tc.raw, tc.stored, got, tc.want)
		}
	}
}

// TestDeploymentValidate pins the deployment's rules and the messages the
// API answers with, since the API and the deployment service both apply
// them.
func TestDeploymentValidate(t *testing.T) {
	valid := func() *roman.Deployment {
		return &roman.Deployment{Environment: "production", Version: "v1", GitCommit: "abc", GitBranch: "main"}
	}
	bob := "bob"
	for _, tc := range []struct {
		name string
		edit func(d *roman.Deployment)
		want string // "" for valid
	}{
		{"valid", func(*roman.Deployment) {}, ""},
		{"defaults left zero", func(d *roman.Deployment) { d.DeploymentID, d.Status = "", "" }, ""},
		{"missing all", func(d *roman.Deployment) { *d = roman.Deployment{} }, `missing required fields "environment", "version", "git_commit", "git_branch"`},
		{"blank version", func(d *roman.Deployment) { d.Version = "  " }, `missing required field "version"`},
		{"bad environment", func(d *roman.Deployment) { d.Environment = "Prod!" }, `invalid value for field "environment": must match [a-z0-9_-]{1,64}`},
		{"long commit", func(d *roman.Deployment) { d.GitCommit = strings.Repeat("c", 257) }, `invalid value for field "git_commit": longer than 256 bytes`},
		{"NUL in version", func(d *roman.Deployment) { d.Version = "v1\x00" }, `invalid value for field "version": contains a NUL character, which cannot be stored`},
		{"invalid UTF-8 in branch", func(d *roman.Deployment) { d.GitBranch = "ma\xffin" }, `invalid value for field "git_branch": not valid UTF-8`},
		{"bad deployed_by", func(d *roman.Deployment) { d.DeployedBy = &bob }, `invalid value for field "deployed_by": must be a UUID`},
		{"bad deployment_id", func(d *roman.Deployment) { d.DeploymentID = "abc-123" }, `invalid value for field "deployment_id": must be a UUID`},
		{"rolled_back", func(d *roman.Deployment) { d.Status = roman.StatusRolledBack }, `invalid value for field "status": a deployment is rolled back through POST /auto-rollback`},
		{"bad status", func(d *roman.Deployment) { d.Status = "done" }, `invalid value for field "status"`},
		{"deployed_at year -1", func(d *roman.Deployment) { d.DeployedAt = time.Date(-1, 12, 31, 23, 0, 0, 0, time.UTC) }, `invalid value for field "deployed_at": before 1970`},
		{"metadata array", func(d *roman.Deployment) { d.Metadata = json.RawMessage(`[1]`) }, `invalid value for field "metadata": expected object`},
		{"metadata null", func(d *roman.Deployment) { d.Metadata = json.RawMessage(`null`) }, ""},
		{"metadata NUL", func(d *roman.Deployment) { d.Metadata = json.RawMessage(`{"a":"\u0000"}`) }, `invalid value for field "metadata": contains \u0000`},
		{"details not JSON", func(d *roman.Deployment) { d.HealthCheckDetails = json.RawMessage(`{"a":`) }, `invalid value for field "health_check_details": not valid JSON`},
	} {
		d := valid()
		tc.edit(d)
		err := d.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (roman.ErrorCode(err) != roman.EINVALID || !strings.Contains(roman.ErrorMessage(err), tc.want)):
			t.Errorf("%s: got %v, want EINVALID containing %q", tc.name, err, tc.want)
		}
	}
}

func TestDeploymentUpdateValidate(t *testing.T) {
	status := func(s string) *string { return &s }
	yes := true
	for _, tc := range []struct {
		name string
		u    roman.DeploymentUpdate
		want string // "" for valid
	}{
		{"status", roman.DeploymentUpdate{Status: status(roman.StatusSuccess)}, ""},
		{"health only", roman.DeploymentUpdate{HealthCheckPassed: &yes}, ""},
		{"details only", roman.DeploymentUpdate{HealthCheckDetails: json.RawMessage(`{"ok":true}`)}, ""},
		{"empty", roman.DeploymentUpdate{}, `at least one of "status", "health_check_passed", "health_check_details" is required`},
		{"null details only", roman.DeploymentUpdate{HealthCheckDetails: json.RawMessage(`null`)}, "at least one of"},
		{"rolled_back", roman.DeploymentUpdate{Status: status(roman.StatusRolledBack)}, `invalid value for field "status": a deployment is rolled back through POST /auto-rollback`},
		{"bad status", roman.DeploymentUpdate{Status: status("ok")}, `invalid value for field "status": must be one of pending, in_progress, success, failed`},
		{"details string", roman.DeploymentUpdate{HealthCheckDetails: json.RawMessage(`"fine"`)}, `invalid value for field "health_check_details": expected object`},
	} {
		err := tc.u.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (roman.ErrorCode(err) != roman.EINVALID || !strings.Contains(roman.ErrorMessage(err), tc.want)):
			t.Errorf("%s: got %v, want EINVALID containing %q", tc.name, err, tc.want)
		}
	}
}
