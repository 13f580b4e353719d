package roman

import (
	"context"
	"fmt"
	"strings"
)

// Attribution rules: how an event that came from another tool (Alertmanager,
// Sentry, OpenTelemetry) was tied to a release.
const (
	// AttributedByDeploymentID: the event named the deployment id.
	AttributedByDeploymentID = "deployment_id"
	// AttributedByVersion: the event named a version that a deployment of
	// its (service, environment) has.
	AttributedByVersion = "version"
	// AttributedByCurrent: the event named neither (or a version no
	// deployment has) and went to the current deployment of its
	// (service, environment).
	AttributedByCurrent = "current"
)

// AttributionVersionDepth is how many of a (service, environment)'s most
// recent deployments a version is looked up among.
const AttributionVersionDepth = 50

// AttributionRequest is what an integration knows of an event's release.
// Service may be empty (the default service).
type AttributionRequest struct {
	Service      string
	Environment  string
	DeploymentID string
	Version      string
}

// Attribution is the release an event was tied to and the rule that tied it.
type Attribution struct {
	Deployment *Deployment
	// Rule is one of the Attributed* constants.
	Rule string
	// Note explains a fallback, e.g. that a version matched no deployment
	// and the current one was used; empty otherwise.
	Note string
}

// Attribute ties an event to a release: the deployment it names, else the
// most recent deployment of its (service, environment) with its version,
// else the current deployment of that (service, environment). It returns
// an EINVALID error naming what is malformed (an environment or service
// that is not a valid name) and an ENOTFOUND error naming what is missing
// when the event maps to nothing (no environment and no deployment id, an
// unknown deployment id, no deployment in the environment). The messages
// are safe to record as warnings.
func Attribute(ctx context.Context, st DeploymentStore, req AttributionRequest) (*Attribution, error) {
	if req.DeploymentID != "" {
		id := strings.ToLower(strings.TrimSpace(req.DeploymentID))
		if !ValidUUID(id) {
			return nil, Errorf(EINVALID, "deployment id %q is not a UUID", req.DeploymentID)
		}
		d, err := st.GetDeployment(ctx, id)
		if ErrorCode(err) == ENOTFOUND {
			return nil, Errorf(ENOTFOUND, "deployment %s not found", id)
		} else if err != nil {
			return nil, err
		}
		return &Attribution{Deployment: d, Rule: AttributedByDeploymentID}, nil
	}
	if req.Environment == "" {
		return nil, Errorf(ENOTFOUND, "no environment and no deployment id")
	}
	if !ValidEnvironment(req.Environment) {
		return nil, Errorf(EINVALID, "environment %q is not a valid name ([a-z0-9_-]{1,64})", req.Environment)
	}
	if req.Service != "" && !ValidService(req.Service) {
		return nil, Errorf(EINVALID, "service %q is not a valid name ([a-z0-9_-]{1,64})", req.Service)
	}
	service := ServiceOrDefault(req.Service)
	note := ""
	if req.Version != "" {
		ds, err := st.ListDeployments(ctx, DeploymentFilter{Service: service, Environment: req.Environment, Limit: AttributionVersionDepth})
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if d.Version == req.Version {
				return &Attribution{Deployment: d, Rule: AttributedByVersion}, nil
			}
		}
		note = fmt.Sprintf("version %q matches none of the last %d deployments of %s in %s", req.Version, AttributionVersionDepth, service, req.Environment)
	}
	d, err := st.CurrentDeployment(ctx, service, req.Environment)
	// CurrentDeployment answers nil (no error) when there is none.
	if ErrorCode(err) == ENOTFOUND || err == nil && d == nil {
		return nil, Errorf(ENOTFOUND, "no deployment of service %s in environment %s", service, req.Environment)
	} else if err != nil {
		return nil, err
	}
	return &Attribution{Deployment: d, Rule: AttributedByCurrent, Note: note}, nil
}
