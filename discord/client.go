package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/retryafter"
)

// DefaultAPIURL is Discord's REST API base URL (API v10).
const DefaultAPIURL = "https://discord.com/api/v10"

// DefaultTimeout bounds one REST call when the client has none.
const DefaultTimeout = 10 * time.Second

// maxRateLimitWait is the longest 429 retry_after the client waits out
// itself; a longer one is returned as an error.
const maxRateLimitWait = 10 * time.Second

// Client calls Discord's REST API. Its errors never contain the bot token
// or an interaction token (both are credentials), so they can be logged.
type Client struct {
	// BaseURL defaults to DefaultAPIURL; tests point it at an httptest
	// server.
	BaseURL string
	// BotToken authenticates application calls (command registration).
	// Interaction webhooks need none: their token is in the path.
	BotToken string
	// HTTP defaults to a client with DefaultTimeout.
	HTTP *http.Client
	// Sleep waits out a short 429 (default: a timer honouring ctx).
	Sleep func(ctx context.Context, d time.Duration) error
	// Now measures a Retry-After HTTP date when Discord's answer has no
	// Date header (default time.Now). Discord normally sends seconds.
	Now func() time.Time
}

// EditOriginal edits the original response of an interaction (PATCH
// /webhooks/{application_id}/{token}/messages/@original). m is fitted to
// Discord's limits first.
func (c *Client) EditOriginal(ctx context.Context, applicationID, token string, m *Message) error {
	Fit(m)
	if m.AllowedMentions == nil {
		m.AllowedMentions = NoMentions()
	}
	path := "/webhooks/" + url.PathEscape(applicationID) + "/" + url.PathEscape(token) + "/messages/@original"
	return c.call(ctx, http.MethodPatch, path, "edit the original interaction response", m, nil)
}

// BulkOverwriteCommands replaces all of an application's global commands
// with cmds (PUT /applications/{application_id}/commands), or with guildID
// those of one guild (PUT /applications/{application_id}/guilds/{guild_id}/commands,
// which take effect at once), which makes registration idempotent, and
// returns what Discord stored.
func (c *Client) BulkOverwriteCommands(ctx context.Context, applicationID, guildID string, cmds []Command) ([]Command, error) {
	var out []Command
	path := "/applications/" + url.PathEscape(applicationID) + "/commands"
	if guildID != "" {
		path = "/applications/" + url.PathEscape(applicationID) + "/guilds/" + url.PathEscape(guildID) + "/commands"
	}
	if err := c.call(ctx, http.MethodPut, path, "register commands", cmds, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// call sends one JSON request and decodes a JSON answer into out (when not
// nil). A 429 with a short retry_after is waited out and retried, up to
// three times; the wait is the JSON body's retry_after, else the
// Retry-After header, else one second.
func (c *Client) call(ctx context.Context, method, path, what string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("discord: %s: %w", what, err)
	}
	base := strings.TrimRight(c.BaseURL, "/")
	if base == "" {
		base = DefaultAPIURL
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("discord: %s: invalid API URL", what)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "roman (https://github.com/odyssey-1/roman)")
		if c.BotToken != "" {
			req.Header.Set("Authorization", "Bot "+c.BotToken)
		}
		resp, err := hc.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // the URL holds a token: keep only the cause
			}
			return fmt.Errorf("discord: %s: %w", what, err)
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			if out != nil && len(data) > 0 {
				if err := json.Unmarshal(data, out); err != nil {
					return fmt.Errorf("discord: %s: bad answer: %w", what, err)
				}
			}
			return nil
		case resp.StatusCode == http.StatusTooManyRequests:
			wait, ok := retryafter.FromResponse(resp.Header, data, c.now())
			if !ok {
				wait = time.Second
			}
			if attempt >= 3 || wait > maxRateLimitWait {
				return fmt.Errorf("discord: %s: rate limited (retry after %s)", what, wait)
			}
			if err := c.sleep(ctx, wait); err != nil {
				return fmt.Errorf("discord: %s: %w", what, err)
			}
		default:
			return fmt.Errorf("discord: %s: HTTP %d: %s", what, resp.StatusCode, errorText(data))
		}
	}
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	return roman.Sleep(ctx, d)
}

// errorText is a short, single-line excerpt of an error answer: Discord's
// JSON "message" when there is one.
func errorText(data []byte) string {
	var e struct {
		Message string `json:"message"`
		Code    int    `json:"code"`
	}
	if json.Unmarshal(data, &e) == nil && e.Message != "" {
		if e.Code != 0 {
			return fmt.Sprintf("%s (code %d)", e.Message, e.Code)
		}
		return e.Message
	}
	s := strings.Join(strings.Fields(string(data)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
