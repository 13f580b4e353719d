package discord

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Discord's message and embed limits (message.mdx "Embed Limits",
// webhook.mdx). Lengths are counted in UTF-16 code units, as Discord's
// JavaScript-era limits are, which never undercounts a character.
const (
	MaxContent          = 2000
	MaxEmbeds           = 10
	MaxEmbedTitle       = 256
	MaxEmbedDescription = 4096
	MaxEmbedFields      = 25
	MaxFieldName        = 256
	MaxFieldValue       = 1024
	MaxFooterText       = 2048
	MaxAuthorName       = 256
	// MaxEmbedTotal bounds the sum of titles, descriptions, field names and
	// values, footers and author names across all embeds of a message.
	MaxEmbedTotal = 6000
)

// ellipsis marks text cut to fit.
const ellipsis = "…"

// Length returns s's length as Discord counts it (UTF-16 code units), after
// trimming the leading and trailing whitespace Discord does not count.
func Length(s string) int {
	n := 0
	for _, r := range strings.TrimSpace(s) {
		n += utf16.RuneLen(r)
	}
	return n
}

// Truncate cuts s (trimmed) to at most max UTF-16 code units, ending in "…"
// when it had to cut. It never splits a character.
func Truncate(s string, max int) string {
	s = strings.TrimSpace(s)
	if Length(s) <= max {
		return s
	}
	if max <= 0 {
		return ""
	}
	budget := max - 1 // room for the ellipsis (one code unit)
	n, cut := 0, 0
	for i, r := range s {
		w := utf16.RuneLen(r)
		if n+w > budget {
			cut = i
			break
		}
		n += w
		cut = i + utf8.RuneLen(r)
	}
	return strings.TrimSpace(s[:cut]) + ellipsis
}

// Fit makes m acceptable to Discord: content, embed count, every embed text
// and the 6000-character total are cut to the limits (text ends in "…"; fields
// beyond 25, or dropped to meet the total, are replaced by a last field
// saying how many were left out). A field with an empty name or value, which
// Discord refuses, gets "—".
func Fit(m *Message) {
	m.Content = Truncate(m.Content, MaxContent)
	if len(m.Embeds) > MaxEmbeds {
		m.Embeds = m.Embeds[:MaxEmbeds]
	}
	for i := range m.Embeds {
		fitEmbed(&m.Embeds[i])
	}
	// Meet the total, shrinking from the last embed backwards: its footer to
	// 256, then its fields (dropped from the end, then noted if the note
	// fits), then the rest of its footer, its description and its title.
	for i := len(m.Embeds) - 1; i >= 0 && total(m.Embeds) > MaxEmbedTotal; i-- {
		e := &m.Embeds[i]
		if e.Footer != nil {
			e.Footer.Text = Truncate(e.Footer.Text, 256)
		}
		dropped := 0
		for len(e.Fields) > 0 && total(m.Embeds) > MaxEmbedTotal {
			e.Fields = e.Fields[:len(e.Fields)-1]
			dropped++
		}
		if dropped > 0 {
			note := omitted(dropped)
			if total(m.Embeds)+Length(note.Name)+Length(note.Value) <= MaxEmbedTotal {
				e.Fields = append(e.Fields, note)
			}
		}
		if over := total(m.Embeds) - MaxEmbedTotal; over > 0 && e.Footer != nil {
			e.Footer.Text = Truncate(e.Footer.Text, max(0, Length(e.Footer.Text)-over))
		}
		if over := total(m.Embeds) - MaxEmbedTotal; over > 0 {
			e.Description = Truncate(e.Description, max(0, Length(e.Description)-over))
		}
		if over := total(m.Embeds) - MaxEmbedTotal; over > 0 {
			e.Title = Truncate(e.Title, max(0, Length(e.Title)-over))
		}
	}
}

func fitEmbed(e *Embed) {
	e.Title = Truncate(e.Title, MaxEmbedTitle)
	e.Description = Truncate(e.Description, MaxEmbedDescription)
	if e.Footer != nil {
		e.Footer.Text = Truncate(e.Footer.Text, MaxFooterText)
	}
	if e.Author != nil {
		e.Author.Name = Truncate(e.Author.Name, MaxAuthorName)
	}
	if len(e.Fields) > MaxEmbedFields {
		left := len(e.Fields) - (MaxEmbedFields - 1)
		e.Fields = append(e.Fields[:MaxEmbedFields-1], omitted(left))
	}
	for i := range e.Fields {
		f := &e.Fields[i]
		f.Name, f.Value = Truncate(f.Name, MaxFieldName), Truncate(f.Value, MaxFieldValue)
		if f.Name == "" {
			f.Name = "—"
		}
		if f.Value == "" {
			f.Value = "—"
		}
	}
}

func omitted(n int) EmbedField {
	return EmbedField{Name: "More", Value: strconv.Itoa(n) + " more not shown"}
}

// total is the embed text Discord counts against MaxEmbedTotal.
func total(es []Embed) int {
	n := 0
	for _, e := range es {
		n += Length(e.Title) + Length(e.Description)
		if e.Footer != nil {
			n += Length(e.Footer.Text)
		}
		if e.Author != nil {
			n += Length(e.Author.Name)
		}
		for _, f := range e.Fields {
			n += Length(f.Name) + Length(f.Value)
		}
	}
	return n
}
