package chatops

import "github.com/odyssey-1/roman/discord"

// Commands are roman's application commands, as `roman discord register`
// sends them: /approve rollback deployment_id:<id> reason:<text>
// [override:<bool>] and /help rollback. Both are CHAT_INPUT commands with a
// subcommand, so later actions (/approve deploy, /help alerts) fit beside
// them.
func Commands() []discord.Command {
	return []discord.Command{
		{
			Name: "approve", Type: 1,
			Description: "Approve an action for R.O.M.A.N. to carry out",
			Options: []discord.CommandOption{{
				Type: discord.OptionSubCommand, Name: "rollback",
				Description: "Roll a deployment back to the last healthy version",
				Options: []discord.CommandOption{
					{Type: discord.OptionString, Name: "deployment_id", Description: "The deployment to roll back (its deployment_id)", Required: true},
					{Type: discord.OptionString, Name: "reason", Description: "Why it must be rolled back (recorded as the trigger reason)", Required: true},
					{Type: discord.OptionBoolean, Name: "override", Description: "Admin approvers only: turn constitutional violations into warnings"},
				},
			}},
		},
		{
			Name: "help", Type: 1,
			Description: "How to use R.O.M.A.N.",
			Options: []discord.CommandOption{{
				Type: discord.OptionSubCommand, Name: "rollback",
				Description: "How to roll back a deployment from Discord",
			}},
		},
	}
}

// HelpRollback is the text /help rollback answers with.
const HelpRollback = "**Rolling back with R.O.M.A.N.**\n" +
	"`/approve rollback deployment_id:<id> reason:<text> [override:true]`\n" +
	"• `deployment_id`: the deployment to roll back (see `roman deploy list` or the dashboard).\n" +
	"• `reason`: why; it is recorded as the rollback's trigger reason.\n" +
	"• `override`: admin approvers only. Turns constitutional violations into warnings " +
	"(never \"No valid rollback target found\"); the override is recorded in the audit trail.\n\n" +
	"Only allow-listed Discord users and roles may approve. R.O.M.A.N. validates every rollback " +
	"against the constitution, rolls back to the newest healthy deployment of the same environment, " +
	"and edits its reply as the rollback proceeds.\n\n" +
	"Without Discord: `roman rollback <deployment_id> --reason \"...\"` or `POST /auto-rollback`."
