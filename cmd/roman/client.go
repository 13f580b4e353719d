package main

import "github.com/spf13/cobra"

// clientCommands returns the client subcommands (deploy, rollback, check,
// history, snapshot, version).
func clientCommands() []*cobra.Command { return nil }
