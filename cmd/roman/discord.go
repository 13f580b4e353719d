package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/odyssey-1/roman/chatops"
	"github.com/odyssey-1/roman/config"
	"github.com/odyssey-1/roman/discord"
)

// registerTimeout bounds `roman discord register` (a 429 is waited out
// within it).
const registerTimeout = 30 * time.Second

// newDiscordCmd returns `roman discord`: setting up Discord chat-ops.
func newDiscordCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "discord",
		Short: "Set up Discord chat-ops (/approve rollback, /help rollback)",
		Long:  "See docs/alerts-and-discord.md for creating the Discord application.",
	}
	cmd.AddCommand(newDiscordRegisterCmd())
	return cmd
}

func newDiscordRegisterCmd() *cobra.Command {
	var cfgPath, guild, output string
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Register roman's slash commands with Discord (idempotent)",
		Long: `Register /approve rollback and /help rollback with the Discord application
named by discord_application_id (ROMAN_DISCORD_APPLICATION_ID), authenticated
with discord_bot_token (ROMAN_DISCORD_BOT_TOKEN), against discord_api_url
(ROMAN_DISCORD_API_URL, default https://discord.com/api/v10).

It bulk-overwrites the application's commands (PUT .../commands), so running it
again changes nothing, and commands roman no longer has are removed. Global
commands can take up to an hour to appear; --guild registers them for one
server, where they appear at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputFlag(output); err != nil {
				return err
			}
			cfg, err := config.Load(cfgPath, nil)
			if err != nil {
				return err
			}
			var missing []string
			if cfg.DiscordApplicationID == "" {
				missing = append(missing, "discord_application_id (ROMAN_DISCORD_APPLICATION_ID)")
			}
			if !cfg.DiscordBotToken.IsSet() {
				missing = append(missing, "discord_bot_token (ROMAN_DISCORD_BOT_TOKEN)")
			}
			if len(missing) > 0 {
				return errors.New("discord register needs " + strings.Join(missing, " and "))
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), registerTimeout)
			defer cancel()
			c := &discord.Client{BaseURL: cfg.DiscordAPIURL, BotToken: cfg.DiscordBotToken.Value(), HTTP: &http.Client{Timeout: registerTimeout}}
			got, err := c.BulkOverwriteCommands(ctx, cfg.DiscordApplicationID, guild, chatops.Commands())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(got)
			}
			scope := "globally"
			if guild != "" {
				scope = "in guild " + guild
			}
			fmt.Fprintf(out, "Registered %d commands %s for Discord application %s:\n", len(got), scope, cfg.DiscordApplicationID)
			for _, c := range got {
				for _, o := range c.Options {
					fmt.Fprintf(out, "  /%s %s\t%s\n", c.Name, o.Name, o.Description)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "YAML configuration file (default: $ROMAN_CONFIG, or none)")
	cmd.Flags().StringVar(&guild, "guild", "", "register in one guild (server) id instead of globally")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}
