package main

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/odyssey-1/roman"
)

// newErrorsListCmd returns `roman errors list DEPLOYMENT_ID` (GET
// /deployments/{deployment_id}/errors).
func newErrorsListCmd(o *clientOptions) *cobra.Command {
	var f roman.ErrorGroupFilter
	cmd := &cobra.Command{
		Use:   "list DEPLOYMENT_ID",
		Short: "List a release's errors grouped by fingerprint, new ones first",
		Long: "Print a release's error events grouped by fingerprint (the client's, else roman's\n" +
			"own from the error type, the normalised message and the stack's top frames): NEW\n" +
			"when no earlier release of the service in the environment had the fingerprint,\n" +
			"else known; the count, first and last occurrence and a sample message. New ones\n" +
			"first, then by count. With -q only the fingerprints.",
		Example: "  roman errors list 6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c9a01 --new",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			list, err := c.DeploymentErrors(cmd.Context(), args[0], f)
			if err != nil {
				return o.apiError(err)
			}
			w := cmd.OutOrStdout()
			return printList(w, o, list, func(g roman.ErrorGroup) string { return g.Fingerprint }, "No errors.", func() error {
				t := newTable(w, "FINGERPRINT", "STATE", "COUNT", "FIRST SEEN", "LAST SEEN", "MESSAGE")
				for _, g := range list {
					state := "known"
					if g.New {
						state = "NEW"
					}
					msg := g.Message
					if g.ErrorType != "" {
						msg = g.ErrorType + ": " + msg
					}
					t.row(g.Fingerprint, state, strconv.FormatInt(g.Count, 10), formatTime(g.FirstSeen), formatTime(g.LastSeen), msg)
				}
				return t.flush()
			})
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.NewOnly, "new", false, "only the fingerprints this release introduced")
	fl.IntVar(&f.Limit, "limit", 0, "at most this many fingerprints (default: the server's, 100)")
	o.bindQuiet(cmd)
	return cmd
}
