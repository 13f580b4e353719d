package roman_test

import (
	"context"
	"strings"
	"testing"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/mock"
)

func TestAttribute(t *testing.T) {
	const (
		idOld = "11111111-1111-4111-8111-111111111111"
		idCur = "22222222-2222-4222-8222-222222222222"
	)
	old := &roman.Deployment{DeploymentID: idOld, Service: "api", Environment: "production", Version: "v1"}
	cur := &roman.Deployment{DeploymentID: idCur, Service: "api", Environment: "production", Version: "v2"}
	st := &mock.DeploymentStore{
		GetDeploymentFn: func(_ context.Context, id string) (*roman.Deployment, error) {
			for _, d := range []*roman.Deployment{old, cur} {
				if d.DeploymentID == id {
					return d, nil
				}
			}
			return nil, roman.Errorf(roman.ENOTFOUND, "not found")
		},
		ListDeploymentsFn: func(_ context.Context, f roman.DeploymentFilter) ([]*roman.Deployment, error) {
			if f.Service != "api" || f.Environment != "production" {
				return nil, nil
			}
			return []*roman.Deployment{cur, old}, nil
		},
		CurrentDeploymentFn: func(_ context.Context, service, env string) (*roman.Deployment, error) {
			if service == "api" && env == "production" {
				return cur, nil
			}
			if env == "qa" {
				return nil, nil // as the real store answers "none"
			}
			return nil, roman.Errorf(roman.ENOTFOUND, "none")
		},
	}
	for _, tc := range []struct {
		name     string
		req      roman.AttributionRequest
		wantID   string
		wantRule string
		wantNote bool
		wantCode string
		wantMsg  string
	}{
		{"by id", roman.AttributionRequest{DeploymentID: strings.ToUpper(idOld)}, idOld, roman.AttributedByDeploymentID, false, "", ""},
		{"by version", roman.AttributionRequest{Service: "api", Environment: "production", Version: "v1"}, idOld, roman.AttributedByVersion, false, "", ""},
		{"unknown version", roman.AttributionRequest{Service: "api", Environment: "production", Version: "v9"}, idCur, roman.AttributedByCurrent, true, "", ""},
		{"current", roman.AttributionRequest{Service: "api", Environment: "production"}, idCur, roman.AttributedByCurrent, false, "", ""},
		{"unknown id", roman.AttributionRequest{DeploymentID: "33333333-3333-4333-8333-333333333333"}, "", "", false, roman.ENOTFOUND, "deployment 33333333-3333-4333-8333-333333333333 not found"},
		{"bad id", roman.AttributionRequest{DeploymentID: "x"}, "", "", false, roman.EINVALID, "not a UUID"},
		{"no environment", roman.AttributionRequest{Service: "api"}, "", "", false, roman.ENOTFOUND, "no environment"},
		{"bad environment", roman.AttributionRequest{Environment: "Prod!"}, "", "", false, roman.EINVALID, "environment"},
		{"empty environment", roman.AttributionRequest{Service: "web", Environment: "staging"}, "", "", false, roman.ENOTFOUND, "no deployment of service web in environment staging"},
		{"no current deployment", roman.AttributionRequest{Service: "web", Environment: "qa"}, "", "", false, roman.ENOTFOUND, "no deployment of service web in environment qa"},
	} {
		a, err := roman.Attribute(context.Background(), st, tc.req)
		if tc.wantCode != "" {
			if roman.ErrorCode(err) != tc.wantCode || !strings.Contains(roman.ErrorMessage(err), tc.wantMsg) {
				t.Errorf("%s: err = %v, want %s containing %q", tc.name, err, tc.wantCode, tc.wantMsg)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if a.Deployment.DeploymentID != tc.wantID || a.Rule != tc.wantRule || (a.Note != "") != tc.wantNote {
			t.Errorf("%s: got %s by %s (note %q), want %s by %s", tc.name, a.Deployment.DeploymentID, a.Rule, a.Note, tc.wantID, tc.wantRule)
		}
	}
}
