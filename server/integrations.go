package server

import (
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
