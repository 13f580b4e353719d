package api

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/discord"
)

// DiscordBot answers Discord interactions; the chat-ops bot (*chatops.Bot)
// implements it. The API only verifies the signature and decodes the
// interaction, so it depends on package discord alone, never on the bot.
type DiscordBot interface {
	// PublicKey is the application's key that signs interactions.
	PublicKey() ed25519.PublicKey
	// Now is the clock that judges a signature's age.
	Now() time.Time
	// Interact answers one verified interaction at once (a slow command
	// answers deferred and follows up by itself).
	Interact(ctx context.Context, in *discord.Interaction) (*discord.Response, error)
}

// MaxDiscordBodyBytes caps an interaction's body. It is read before the
// signature is verified, so it is small: a slash command's interaction,
// with its member, user and resolved options, is a few KiB.
const MaxDiscordBodyBytes = 16 << 10

// discordInteractions is Discord's interactions endpoint. It needs no API
// key: the request must instead carry Discord's Ed25519 signature over
// X-Signature-Timestamp + body, made at most five minutes ago (either way).
// A missing, malformed, wrong or stale signature gets 401 "invalid request
// signature" (Discord's own wording) before the body is even parsed, and
// Discord's routine probes with bad signatures are answered the same way.
func (s *Server) discordInteractions(w http.ResponseWriter, r *http.Request) error {
	bot := s.deps.Discord
	if bot == nil {
		return roman.Errorf(roman.ENOTFOUND, "Discord interactions are not configured (set discord_public_key)")
	}
	body, err := ReadBody(r)
	if err != nil {
		return err
	}
	if err := discord.Verify(bot.PublicKey(), r.Header.Get(discord.HeaderSignature),
		r.Header.Get(discord.HeaderTimestamp), body, bot.Now()); err != nil {
		s.logger.InfoContext(r.Context(), "refused a Discord interaction", "reason", err.Error())
		return roman.Errorf(roman.EUNAUTHORIZED, "invalid request signature")
	}
	// Discord adds fields over time: unknown ones are ignored here, unlike
	// the API's own bodies.
	var in discord.Interaction
	if err := json.Unmarshal(body, &in); err != nil {
		return roman.Errorf(roman.EINVALID, "invalid interaction JSON")
	}
	resp, err := bot.Interact(r.Context(), &in)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, resp)
}
