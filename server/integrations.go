package server

import (
	"github.com/odyssey-1/roman/alertmanager"
	"github.com/odyssey-1/roman/config"
	"github.com/odyssey-1/roman/ingest"
	"github.com/odyssey-1/roman/otlp"
	"github.com/odyssey-1/roman/sentry"
)

// sentryReceiver builds the Sentry webhook receiver. Its error events go
// through the ingest service, so the monitor hears of them at once; each
// created issue's fingerprint is marked new on its release, for the
// new_errors signal.
func (m *Server) sentryReceiver(ing *ingest.Service) *sentry.Receiver {
	return &sentry.Receiver{Secret: m.Config.Sentry.ClientSecret, Deployments: m.Store, Ingest: m.countIngest(ing),
		Events: m.Store, Clock: m.Clock, Unattributed: m.Metrics.AddUnattributed, Marker: m.Store}
}

// otlpReceiver builds the OTLP/HTTP logs and traces receiver, which stores
// through the ingest service like sentryReceiver.
func (m *Server) otlpReceiver(ing *ingest.Service) *otlp.Receiver {
	return &otlp.Receiver{Deployments: m.Store, Ingest: m.countIngest(ing), Events: m.Store, Clock: m.Clock,
		Unattributed: m.Metrics.AddUnattributed}
}

// alertTriggers returns the alert_triggers of each environment.
func alertTriggers(cfg *config.Config) func(env string) []string {
	return func(env string) []string { return cfg.Environment(env).AlertTriggers }
}

// alertmanager returns the receiver of POST /integrations/alertmanager.
func (m *Server) alertmanager() *alertmanager.Service {
	return &alertmanager.Service{Deployments: m.Store, Store: m.Store, Hub: m.Hub, AlertTriggers: alertTriggers(m.Config),
		Unattributed: m.Metrics.AddUnattributed, Clock: m.Clock, Logger: m.Logger}
}
