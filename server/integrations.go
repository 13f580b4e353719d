package server

import (
	"github.com/odyssey-1/roman/alertmanager"
	"github.com/odyssey-1/roman/config"
)

// alertTriggers returns the alert_triggers of each environment.
func alertTriggers(cfg *config.Config) func(env string) []string {
	return func(env string) []string { return cfg.Environment(env).AlertTriggers }
}

// alertmanager returns the receiver of POST /integrations/alertmanager.
func (m *Server) alertmanager() *alertmanager.Service {
	return &alertmanager.Service{Deployments: m.Store, Store: m.Store, Hub: m.Hub, AlertTriggers: alertTriggers(m.Config),
		Unattributed: m.Metrics.AddUnattributed, Clock: m.Clock, Logger: m.Logger}
}
