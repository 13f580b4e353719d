package roman

import (
	"context"
	"time"
)

// InteractionStore remembers the Discord interactions roman has answered, by
// interaction id, in the database that every replica shares, so that a
// replayed interaction runs nothing whichever replica it reaches and even
// after a restart. An interaction is remembered until its signature stops
// verifying; after that Discord's signature check refuses a replay by
// itself.
type InteractionStore interface {
	// ClaimInteraction records that interaction id is being answered, to be
	// remembered until expires, and reports whether this is the first
	// claim. For a later claim, answer is the answer the first claimant
	// stored, or nil while it is still answering. Entries that expired
	// before now are forgotten (a few at a time). Returns EUNAVAILABLE when
	// the store is down.
	ClaimInteraction(ctx context.Context, id string, expires, now time.Time) (first bool, answer []byte, err error)
	// AnswerInteraction stores the answer to a claimed interaction.
	AnswerInteraction(ctx context.Context, id string, answer []byte) error
}
