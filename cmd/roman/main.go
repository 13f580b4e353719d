// Command roman is the roman auto-rollback service and its CLI client.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/odyssey-1/roman"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "roman:", err)
		os.Exit(1)
	}
}

// newRootCmd builds the whole command tree. Each subcommand lives in its own
// file.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "roman",
		Short:         "roman watches production deploys and rolls back bad ones within seconds",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       roman.Version,
	}
	root.SetVersionTemplate("roman {{.Version}}\n")
	root.AddCommand(newServeCmd())
	root.AddCommand(newDemoCmd())
	root.AddCommand(newPolicyCmd())
	root.AddCommand(newDiscordCmd())
	for _, c := range clientCommands() {
		root.AddCommand(c)
	}
	return root
}
