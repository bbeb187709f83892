package journal

import "github.com/kekbit-go/kekbit/domain"

// Mark is a named reader's stored position: the journal it belongs to and
// the position after the last record the reader committed.
type Mark struct {
	Journal  domain.JournalID
	Position Position
}

// Positions is where named readers keep their positions, one Cursor per
// name. Package journal/positions has the adapters: memory, files through
// afero (written crash-safely) and a mapped word (a commit costs
// nanoseconds).
type Positions interface {
	// Open returns the cursor of reader name, made if it does not exist.
	// An adapter that can tell refuses a name another cursor holds open
	// (ErrReaderBusy).
	Open(name string) (Cursor, error)
	// Names returns the names of the readers with a stored position, in
	// increasing order.
	Names() ([]string, error)
	// Load returns reader name's stored position without holding its
	// cursor (for retention and listings); ok is false if none is stored.
	Load(name string) (m Mark, ok bool, err error)
	// Remove forgets reader name.
	Remove(name string) error
}

// Cursor is one named reader's stored position.
type Cursor interface {
	// Load returns the stored position; ok is false if none is stored.
	Load() (m Mark, ok bool, err error)
	// Store stores m; it is visible to Load and Positions.Load at once,
	// and durable as far as the adapter makes it (see Flush).
	Store(m Mark) error
	// Flush makes the stored position durable against power loss, for an
	// adapter whose Store is not already (mmap).
	Flush() error
	// Close releases the cursor. A second Close returns nil.
	Close() error
}
