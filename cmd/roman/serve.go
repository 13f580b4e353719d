package main

import (
	"github.com/spf13/cobra"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/config"
	"github.com/odyssey-1/roman/server"
)

func newServeCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the roman server (API, monitor, executor, dashboard)",
		Long: `Run the roman server. With no configuration it stores everything in ./roman.db
(SQLite) and listens on 127.0.0.1:8080. Set ROMAN_DATABASE=postgres://... for PostgreSQL.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(cfgPath, nil)
			if err != nil {
				return err
			}
			m := &server.Server{Config: cfg, Stdout: cmd.OutOrStdout()}
			if err := m.Open(cmd.Context()); err != nil {
				return err
			}
			m.Logger.Info("roman listening", "addr", m.Addr(), "version", roman.Version)
			<-cmd.Context().Done()
			return m.Close()
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "YAML configuration file (default: $ROMAN_CONFIG, or none)")
	return cmd
}
