package api

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
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
//
// A verified interaction is answered once: a replay of it (the same id,
// which is all a replayer can send, since the signature covers the body)
// gets the first answer again and runs nothing (see interactionReplays).
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
	if in.ID == "" {
		return roman.Errorf(roman.EINVALID, "interaction has no id")
	}
	secs, _ := strconv.ParseInt(r.Header.Get(discord.HeaderTimestamp), 10, 64) // Verify parsed it
	a, first, err := s.discordReplays.claim(in.ID, time.Unix(secs, 0).Add(discord.MaxSignatureAge+time.Second), bot.Now())
	if err != nil {
		return err
	}
	if first {
		func() {
			defer close(a.done)
			a.err = roman.Errorf(roman.EINTERNAL, "answering a Discord interaction failed")
			a.resp, a.err = bot.Interact(r.Context(), &in)
		}()
	} else {
		s.logger.WarnContext(r.Context(), "replayed Discord interaction answered from memory", "interaction_id", in.ID)
		select {
		case <-a.done:
		case <-r.Context().Done():
			return roman.Errorf(roman.EUNAVAILABLE, "the first copy of this interaction is still being answered")
		}
	}
	if a.err != nil {
		return a.err
	}
	return WriteJSON(w, http.StatusOK, a.resp)
}

// DefaultMaxDiscordInteractions bounds the interactions remembered for
// replay protection. Only Discord can sign one, and each is remembered only
// while its signature is valid (about ten minutes), so the bound is far
// above any real traffic.
const DefaultMaxDiscordInteractions = 100000

// interactionReplays remembers the answer to every verified interaction by
// its id until its signature expires. After that, discord.Verify refuses
// the request itself (its timestamp is signed), so nothing older needs to be
// kept, and memory stays bounded. The memory is this process's: a restart
// within the window forgets, and replicas behind a load balancer each keep
// their own (docs/operations.md); the approval and refusal rows name the
// interaction id, so such a replay shows in the audit trail.
type interactionReplays struct {
	max int

	mu sync.Mutex
	m  map[string]*interactionAnswer
}

// interactionAnswer is the first answer to an interaction; done closes when
// it is known.
type interactionAnswer struct {
	done    chan struct{}
	expires time.Time
	resp    *discord.Response
	err     error
}

// claim returns the answer slot of interaction id. first is true for the
// first copy, whose caller must fill the answer and close done; later copies
// wait on done. expires is when the interaction's signature stops verifying.
// When the store is full of live interactions, new ones are refused (never
// run unprotected).
func (c *interactionReplays) claim(id string, expires, now time.Time) (a *interactionAnswer, first bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*interactionAnswer{}
	}
	if a, ok := c.m[id]; ok && now.Before(a.expires) {
		return a, false, nil
	}
	if len(c.m) >= c.max {
		for k, v := range c.m {
			if !now.Before(v.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			return nil, false, roman.Errorf(roman.EUNAVAILABLE, "too many Discord interactions in the last minutes")
		}
	}
	a = &interactionAnswer{done: make(chan struct{}), expires: expires}
	c.m[id] = a
	return a, true, nil
}
