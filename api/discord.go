package api

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
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
			a.resp, a.err = s.interactOnce(r.Context(), &in, time.Unix(secs, 0).Add(discord.MaxSignatureAge+time.Second))
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

// interactionWait is how long a replica waits for the answer another
// replica (or an earlier process) is still giving to the same interaction:
// Discord itself gives up after three seconds.
const interactionWait = 2500 * time.Millisecond

// storedAnswer is an interaction's answer as the InteractionStore keeps it:
// the response, or the code and client-safe message of the error.
type storedAnswer struct {
	Response *discord.Response `json:"response,omitempty"`
	Code     string            `json:"code,omitempty"`
	Message  string            `json:"message,omitempty"`
}

// interactOnce answers interaction in once across every replica and
// restart: with an InteractionStore, the first claim of its id runs the bot
// and stores the answer; a later claim, from a replay that reached another
// replica or came after a restart, gets the stored answer and runs nothing.
// Without a store, this process's memory (interactionReplays) is all the
// protection there is.
func (s *Server) interactOnce(ctx context.Context, in *discord.Interaction, expires time.Time) (*discord.Response, error) {
	bot, st := s.deps.Discord, s.deps.Interactions
	if st == nil {
		return bot.Interact(ctx, in)
	}
	first, answer, err := st.ClaimInteraction(ctx, in.ID, expires, bot.Now())
	if err != nil {
		return nil, err
	}
	if first {
		resp, err := bot.Interact(ctx, in)
		stored := storedAnswer{Response: resp}
		if err != nil {
			stored = storedAnswer{Code: roman.ErrorCode(err), Message: roman.ErrorMessage(err)}
		}
		b, merr := json.Marshal(stored)
		if merr == nil {
			// Detached: the answer must be kept even when Discord hung up.
			merr = st.AnswerInteraction(context.WithoutCancel(ctx), in.ID, b)
		}
		if merr != nil {
			s.logger.ErrorContext(ctx, "storing a Discord interaction's answer failed; a replay will wait and get 503", "interaction_id", in.ID, "err", merr)
		}
		return resp, err
	}
	s.logger.WarnContext(ctx, "replayed Discord interaction answered from the store", "interaction_id", in.ID)
	deadline := time.Now().Add(interactionWait)
	for answer == nil {
		if time.Now().After(deadline) {
			return nil, roman.Errorf(roman.EUNAVAILABLE, "the first copy of this interaction is still being answered")
		}
		select {
		case <-ctx.Done():
			return nil, roman.Errorf(roman.EUNAVAILABLE, "the first copy of this interaction is still being answered")
		case <-time.After(50 * time.Millisecond):
		}
		if _, answer, err = st.ClaimInteraction(ctx, in.ID, expires, bot.Now()); err != nil {
			return nil, err
		}
	}
	var stored storedAnswer
	if err := json.Unmarshal(answer, &stored); err != nil {
		return nil, fmt.Errorf("decoding the stored answer of interaction %s: %w", in.ID, err)
	}
	if stored.Code != "" {
		return nil, roman.Errorf(stored.Code, "%s", stored.Message)
	}
	return stored.Response, nil
}

// DefaultMaxDiscordInteractions bounds the interactions remembered for
// replay protection. Only Discord can sign one, and each is remembered only
// while its signature is valid (about ten minutes), so the bound is far
// above any real traffic.
const DefaultMaxDiscordInteractions = 100000

// interactionReplays remembers the answer to every verified interaction by
// its id until its signature expires. After that, discord.Verify refuses
// the request itself (its timestamp is signed), so nothing older needs to be
// kept, and memory stays bounded. This memory is this process's: it makes
// concurrent copies wait for the first answer; across replicas and
// restarts, the InteractionStore does the same (interactOnce). The approval
// and refusal rows name the interaction id.
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
