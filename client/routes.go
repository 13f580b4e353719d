package client

import (
	"net/url"
	"reflect"
	"strings"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/api"
)

// Route is one operation of roman's API that the client calls. Every
// method of Client goes through one, so this table is the complete list of
// what the client can do; a test checks it against the OpenAPI document
// (method, path, operationId, and the JSON fields of the request and
// response types).
type Route struct {
	// Method and Path are as in the OpenAPI document
	// ("GET", "/deployments/{deployment_id}").
	Method, Path string
	// OperationID is the operation's operationId in the OpenAPI document.
	OperationID string
	// Request and Response are the Go types of the JSON bodies; nil when
	// the operation has none.
	Request, Response reflect.Type
}

// expand fills the path's {parameters}, in order, with values escaped as
// path segments.
func (r *Route) expand(values ...string) string {
	p := r.Path
	for _, v := range values {
		i := strings.IndexByte(p, '{')
		j := strings.IndexByte(p, '}')
		if i < 0 || j < i {
			break
		}
		p = p[:i] + url.PathEscape(v) + p[j+1:]
	}
	return p
}

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// The client's routes, one per operation.
var (
	routeRecordDeployment = &Route{"POST", "/deployments", "recordDeployment", typeOf[RecordDeploymentRequest](), typeOf[roman.Deployment]()}
	routeListDeployments  = &Route{"GET", "/deployments", "listDeployments", nil, typeOf[api.DeploymentList]()}
	routeGetDeployment    = &Route{"GET", "/deployments/{deployment_id}", "getDeployment", nil, typeOf[roman.Deployment]()}
	routeUpdateDeployment = &Route{"PATCH", "/deployments/{deployment_id}", "updateDeployment", typeOf[UpdateDeploymentRequest](), typeOf[roman.Deployment]()}
	routeCreateSnapshot   = &Route{"POST", "/deployments/{deployment_id}/snapshots", "createSnapshot", typeOf[api.CreateSnapshotRequest](), typeOf[roman.Snapshot]()}
	routeListSnapshots    = &Route{"GET", "/deployments/{deployment_id}/snapshots", "listSnapshots", nil, typeOf[api.SnapshotList]()}
	routeRecordMigration  = &Route{"POST", "/deployments/{deployment_id}/migrations", "recordMigration", typeOf[RecordMigrationRequest](), typeOf[roman.Migration]()}
	routeListMigrations   = &Route{"GET", "/deployments/{deployment_id}/migrations", "listMigrations", nil, typeOf[api.MigrationList]()}
	routeExplain          = &Route{"GET", "/deployments/{deployment_id}/explain", "explainDeployment", nil, typeOf[roman.Explanation]()}
	routeJudgements       = &Route{"GET", "/deployments/{deployment_id}/judgements", "listJudgements", nil, typeOf[api.JudgementList]()}
	routeDeploymentErrors = &Route{"GET", "/deployments/{deployment_id}/errors", "deploymentErrors", nil, typeOf[api.ErrorGroupList]()}
	routeEvents           = &Route{"GET", "/events", "listEvents", nil, typeOf[api.EventList]()}
	routeGetSnapshot      = &Route{"GET", "/snapshots/{snapshot_id}", "getSnapshot", nil, typeOf[roman.Snapshot]()}
	routeDiffSnapshots    = &Route{"GET", "/snapshots/{snapshot_id}/diff/{other_snapshot_id}", "diffSnapshots", nil, typeOf[roman.SnapshotDiff]()}
	routeRollback         = &Route{"POST", "/auto-rollback", "executeRollback", typeOf[roman.RollbackRequest](), typeOf[roman.RollbackResult]()}
	routeCheck            = &Route{"POST", "/auto-rollback/check", "checkRollback", typeOf[api.CheckRequest](), typeOf[roman.CheckResult]()}
	routeHistory          = &Route{"GET", "/auto-rollback/history", "rollbackHistory", nil, typeOf[api.RollbackHistory]()}
	routeValidate         = &Route{"POST", "/auto-rollback/validate", "validateRollback", typeOf[roman.RollbackRequest](), typeOf[roman.Validation]()}
	routeSendErrors       = &Route{"POST", "/errors", "postErrors", typeOf[api.ErrorsRequest](), typeOf[api.IngestResponse]()}
	routeSendMetrics      = &Route{"POST", "/metrics/samples", "postMetricSamples", typeOf[api.MetricsRequest](), typeOf[api.IngestResponse]()}
	routeHealthz          = &Route{"GET", "/healthz", "healthz", nil, typeOf[api.StatusResponse]()}
	routeReadyz           = &Route{"GET", "/readyz", "readyz", nil, typeOf[api.StatusResponse]()}
)

// routes lists every route above.
var routes = []*Route{
	routeRecordDeployment, routeListDeployments, routeGetDeployment, routeUpdateDeployment,
	routeCreateSnapshot, routeListSnapshots, routeRecordMigration, routeListMigrations,
	routeExplain, routeDeploymentErrors, routeJudgements, routeEvents, routeGetSnapshot, routeDiffSnapshots,
	routeRollback, routeCheck, routeHistory, routeValidate,
	routeSendErrors, routeSendMetrics, routeHealthz, routeReadyz,
}

// Routes returns the operations the client implements, for tools that
// check it against a server's OpenAPI document.
func Routes() []Route {
	out := make([]Route, len(routes))
	for i, r := range routes {
		out[i] = *r
	}
	return out
}
