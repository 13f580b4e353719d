package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/odyssey-1/roman"
)

// versionInfo is the JSON form of `roman version --output json`.
type versionInfo struct {
	Version  string `json:"version"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// newVersionCmd returns `roman version`, which needs no server.
func newVersionCmd(o *clientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print roman's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			info := versionInfo{Version: roman.Version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			if o.json() {
				return printJSON(cmd.OutOrStdout(), info)
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "roman %s (%s, %s)\n", info.Version, info.Go, info.Platform)
			return err
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", outputTable, "output format: table or json")
	return cmd
}
