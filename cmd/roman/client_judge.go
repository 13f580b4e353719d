package main

import (
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/odyssey-1/roman/api"
)

// newJudgementsCmd returns `roman judgements DEPLOYMENT_ID` (GET
// /deployments/{deployment_id}/judgements).
func newJudgementsCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "judgements DEPLOYMENT_ID",
		Short: "Show the judge's verdicts about a deployment, with their evidence",
		Long: "Print the deployment's health_judgement rows, newest first: when, why it was\n" +
			"recorded (verdict change, trigger, suppression, window end), the judge (shadow\n" +
			"verdicts marked), the verdict, the e-value and the why line. With --output json,\n" +
			"every field of the evidence.",
		Example: "  roman judgements 6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c9a01",
		Args:    exactArgs("DEPLOYMENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			list, err := c.ListJudgements(cmd.Context(), args[0])
			if err != nil {
				return o.apiError(err)
			}
			w := cmd.OutOrStdout()
			if o.json() {
				return printJSON(w, list)
			}
			return printJudgements(w, list)
		},
	}
}

// printJudgements writes one line per judgement.
func printJudgements(w io.Writer, list *api.JudgementList) error {
	t := newTable(w, "TIME", "RECORD", "JUDGE", "VERDICT", "E-VALUE", "WHY")
	for _, j := range list.Judgements {
		judge := j.Judge
		if j.Shadow {
			judge += " (shadow)"
		}
		t.row(formatTime(j.Timestamp), j.Record, judge, j.Verdict, strconv.FormatFloat(j.EValue, 'g', 3, 64), j.Why)
	}
	return t.flush()
}
