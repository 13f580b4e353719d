package api

import (
	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sentry"
)

// builtinRoutes is the API's route table as far as this package serves
// it. Later features (error and metric ingest, migrations, policy validate,
// /metrics, Discord, the dashboard) add theirs with Handle or HandleRoute,
// and must add them to openapi.json too: the drift test walks Routes().
func (s *Server) builtinRoutes() []Route {
	return []Route{
		{Method: "POST", Path: "/deployments", Role: roman.RoleDeploy, Handler: s.recordDeployment},
		{Method: "GET", Path: "/deployments", Role: roman.RoleRead, Handler: s.listDeployments},
		{Method: "GET", Path: "/deployments/{deployment_id}", Role: roman.RoleRead, Handler: s.getDeployment},
		{Method: "PATCH", Path: "/deployments/{deployment_id}", Role: roman.RoleDeploy, Handler: s.updateDeployment},
		{Method: "POST", Path: "/deployments/{deployment_id}/snapshots", Role: roman.RoleDeploy, Handler: s.createSnapshot},
		{Method: "GET", Path: "/deployments/{deployment_id}/snapshots", Role: roman.RoleRead, Handler: s.listSnapshots},
		{Method: "POST", Path: "/deployments/{deployment_id}/migrations", Role: roman.RoleDeploy, Handler: s.recordMigration},
		{Method: "GET", Path: "/deployments/{deployment_id}/migrations", Role: roman.RoleRead, Handler: s.listMigrations},
		{Method: "GET", Path: "/deployments/{deployment_id}/explain", Role: roman.RoleRead, Handler: s.explainDeployment},
		{Method: "GET", Path: "/events", Role: roman.RoleRead, Handler: s.listEvents},
		{Method: "GET", Path: "/snapshots/{snapshot_id}", Role: roman.RoleRead, Handler: s.getSnapshot},
		{Method: "GET", Path: "/snapshots/{snapshot_id}/diff/{other_snapshot_id}", Role: roman.RoleRead, Handler: s.diffSnapshots},

		{Method: "POST", Path: "/auto-rollback", Role: roman.RoleRollback, Handler: s.executeRollback, SeedAlias: true},
		{Method: "POST", Path: "/auto-rollback/check", Role: roman.RoleRead, Handler: s.checkRollback, SeedAlias: true},
		{Method: "GET", Path: "/auto-rollback/check", Role: roman.RoleRead, Handler: s.checkRollback, SeedAlias: true},
		{Method: "GET", Path: "/auto-rollback/history", Role: roman.RoleRead, Handler: s.rollbackHistory, SeedAlias: true},
		{Method: "POST", Path: "/auto-rollback/validate", Role: roman.RoleRead, Handler: s.validateRollback, SeedAlias: true},

		{Method: "GET", Path: "/app/admin/roman-dashboard/summary", Role: roman.RoleRead, Handler: s.dashboardSummary},
		{Method: "GET", Path: "/app/admin/roman-dashboard/events", Role: roman.RoleRead, Handler: s.dashboardEvents},
		{Method: "GET", Path: "/metrics", Handler: s.metrics},

		{Method: "POST", Path: "/errors", Role: roman.RoleDeploy, Handler: s.postErrors, Ingest: true},
		{Method: "POST", Path: "/metrics/samples", Role: roman.RoleDeploy, Handler: s.postMetricSamples, Ingest: true},

		{Method: "POST", Path: "/discord/interactions", Handler: s.discordInteractions, MaxBodyBytes: MaxDiscordBodyBytes},

		{Method: "GET", Path: "/healthz", Handler: s.healthz},
		{Method: "GET", Path: "/readyz", Handler: s.readyz},
		{Method: "GET", Path: "/openapi.json", Handler: s.openAPI},

		{Method: "GET", Path: "/deployments/{deployment_id}/errors", Role: roman.RoleRead, Handler: s.deploymentErrors},
		{Method: "POST", Path: "/integrations/sentry", Handler: s.sentryWebhook, MaxBodyBytes: sentry.MaxBodyBytes},
		{Method: "POST", Path: "/v1/logs", Role: roman.RoleDeploy, Handler: s.otlpLogs, Ingest: true},
		{Method: "POST", Path: "/v1/traces", Role: roman.RoleDeploy, Handler: s.otlpTraces, Ingest: true},
		{Method: "POST", Path: "/integrations/alertmanager", Role: roman.RoleDeploy, Handler: s.postAlertmanager, Ingest: true},
		{Method: "GET", Path: "/deployments/{deployment_id}/judgements", Role: roman.RoleRead, Handler: s.listJudgements},
	}
}
