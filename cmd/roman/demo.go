package main

import (
	"github.com/spf13/cobra"

	"github.com/odyssey-1/roman/demo"
)

func newDemoCmd() *cobra.Command {
	o := demo.Options{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Play the seed's auto-rollback scenario on a throwaway server, with the dashboard",
		Long: `Start a real roman server on a throwaway SQLite database in a temporary directory,
print the dashboard's URL and a read key, and play the seed's example: v2.5.2 is
healthy, v2.5.3 is deployed, an error spike of about 8 errors/minute begins, and
R.O.M.A.N. detects it, validates the rollback against the constitution, rolls back to
v2.5.2 and verifies recovery. Everything goes through the server's HTTP API; the
server runs its production code. --speed compresses the timeline (the watch and
verify windows are shortened and errors are fed faster). Ctrl-C stops the server
and deletes the temporary directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return demo.Run(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.Float64Var(&o.Speed, "speed", demo.DefaultSpeed, "how many times faster than the seed's real timeline (1 = real time, at most 1000)")
	f.StringVar(&o.Listen, "listen", "127.0.0.1:0", "address of the demo server (port 0 picks a free one)")
	f.BoolVar(&o.Stay, "stay", true, "keep the server and dashboard up after the scenario until Ctrl-C")
	f.BoolVar(&o.JudgeShadow, "judge-shadow", false, "also run the baseline judge in shadow mode and show what it recorded about the bad release")
	return cmd
}
