// Package discord is roman's side of Discord's API: the interaction and
// command types, Ed25519 verification of interactions, Discord's message
// limits with the fitting of messages to them (shared by the chat-ops bot and
// the alert notifier notify/discord), and a REST client for the calls roman
// makes (edit the original interaction response, bulk-overwrite the
// application's commands). What roman does with an interaction is the
// chat-ops bot in package chatops.
//
// Shapes follow Discord's documentation as recorded in
// shared/reference/discord_limits.md and the official example payloads.
package discord

import (
	"encoding/json"
	"strconv"
)

// Interaction types (receiving-and-responding.mdx).
const (
	InteractionPing               = 1
	InteractionApplicationCommand = 2
)

// Interaction callback types.
const (
	CallbackPong                         = 1
	CallbackChannelMessageWithSource     = 4
	CallbackDeferredChannelMessage       = 5
	FlagEphemeral                    int = 1 << 6
)

// Application command option types.
const (
	OptionSubCommand      = 1
	OptionSubCommandGroup = 2
	OptionString          = 3
	OptionInteger         = 4
	OptionBoolean         = 5
	OptionUser            = 6
	OptionChannel         = 7
	OptionRole            = 8
	OptionMentionable     = 9
	OptionNumber          = 10
	OptionAttachment      = 11
)

// Interaction is the part of Discord's interaction object roman reads.
type Interaction struct {
	ID            string       `json:"id"`
	ApplicationID string       `json:"application_id,omitempty"`
	Type          int          `json:"type"`
	Token         string       `json:"token"`
	Data          *CommandData `json:"data,omitempty"`
	GuildID       string       `json:"guild_id,omitempty"`
	ChannelID     string       `json:"channel_id,omitempty"`
	// Member is sent when the command is used in a guild, User in a DM.
	Member  *Member `json:"member,omitempty"`
	User    *User   `json:"user,omitempty"`
	Version int     `json:"version,omitempty"`
}

// CommandData is an application command interaction's data.
type CommandData struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Type    int      `json:"type"`
	Options []Option `json:"options,omitempty"`
}

// Option is one option of a command interaction: a parameter with a Value,
// or a subcommand (group) with nested Options.
type Option struct {
	Name    string          `json:"name"`
	Type    int             `json:"type"`
	Value   json.RawMessage `json:"value,omitempty"`
	Options []Option        `json:"options,omitempty"`
}

// Member is a guild member.
type Member struct {
	User  *User    `json:"user,omitempty"`
	Roles []string `json:"roles,omitempty"`
	Nick  *string  `json:"nick,omitempty"`
}

// User is a Discord user.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username,omitempty"`
}

// Invoker returns the user who used the interaction and their guild role ids
// (none in a DM).
func (i *Interaction) Invoker() (user *User, roles []string) {
	if i.Member != nil {
		return i.Member.User, i.Member.Roles
	}
	return i.User, nil
}

// Response is an interaction callback (the HTTP answer to an interaction).
type Response struct {
	Type int      `json:"type"`
	Data *Message `json:"data,omitempty"`
}

// Message is a message body for an interaction response, an edit of the
// original response, or an execute-webhook call.
type Message struct {
	Content         string           `json:"content,omitempty"`
	Embeds          []Embed          `json:"embeds,omitempty"`
	Flags           int              `json:"flags,omitempty"`
	AllowedMentions *AllowedMentions `json:"allowed_mentions,omitempty"`
}

// AllowedMentions limits who a message may ping. roman always sends an
// empty parse list, so that text from a deployment or a reason ("@everyone")
// never pings anyone.
type AllowedMentions struct {
	Parse []string `json:"parse"`
}

// NoMentions allows no pings at all.
func NoMentions() *AllowedMentions { return &AllowedMentions{Parse: []string{}} }

// Embed is a rich embed.
type Embed struct {
	Title       string       `json:"title,omitempty"`
	Description string       `json:"description,omitempty"`
	Color       int          `json:"color,omitempty"`
	Timestamp   string       `json:"timestamp,omitempty"`
	Footer      *EmbedFooter `json:"footer,omitempty"`
	Author      *EmbedAuthor `json:"author,omitempty"`
	Fields      []EmbedField `json:"fields,omitempty"`
}

// EmbedFooter is an embed's footer.
type EmbedFooter struct {
	Text string `json:"text"`
}

// EmbedAuthor is an embed's author line.
type EmbedAuthor struct {
	Name string `json:"name"`
}

// EmbedField is one name/value field of an embed.
type EmbedField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline,omitempty"`
}

// Command is an application command as registered with Discord. ID,
// ApplicationID and Version are set only in Discord's answers.
type Command struct {
	ID            string          `json:"id,omitempty"`
	ApplicationID string          `json:"application_id,omitempty"`
	Version       string          `json:"version,omitempty"`
	Name          string          `json:"name"`
	Type          int             `json:"type,omitempty"`
	Description   string          `json:"description"`
	Options       []CommandOption `json:"options,omitempty"`
}

// CommandOption is one option of a registered command.
type CommandOption struct {
	Type        int             `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Required    bool            `json:"required,omitempty"`
	Options     []CommandOption `json:"options,omitempty"`
}

// String returns an option's value as text: a JSON string unquoted, any
// other JSON value as written (a number, true/false).
func (o Option) String() string {
	var s string
	if err := json.Unmarshal(o.Value, &s); err == nil {
		return s
	}
	return string(o.Value)
}

// Bool returns a BOOLEAN option's value (false when it is not a boolean).
func (o Option) Bool() bool {
	b, _ := strconv.ParseBool(string(o.Value))
	return b
}
