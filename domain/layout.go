package domain

// Layout constants of format 1.0.0.
const (
	// Signature is the first word of every channel file: the bytes "*KEKBIT*".
	Signature uint64 = 0x2A54_4942_4B45_4B2A
	// HeaderLen is the length of the encoded header.
	HeaderLen = 128
	// DataOffset is the file offset of the data region (position 0).
	DataOffset = 1024
	// FooterLen is the room after the data region for the last mark.
	FooterLen = 32
	// RecordHeaderLen is the length of a record's length word.
	RecordHeaderLen = 8
	// MinCapacity is the smallest data region a header may declare.
	MinCapacity = 16 * 1024
	// MaxCapacity is the largest data region a header may declare.
	MaxCapacity = 1<<32 - 8

	// Watermark marks the word after the last record: nothing written yet.
	Watermark uint64 = 0xFFFF_FFFF_1111_1111
	// CloseMark marks the end of a channel its writer closed.
	CloseMark uint64 = 0xFFFF_FFFF_FFFF_FFFF
	// HeartbeatLen is the length word of a heartbeat.
	HeartbeatLen uint64 = 0
)

// Align8 rounds n up to a multiple of 8.
func Align8(n uint64) uint64 { return (n + 7) &^ 7 }

// RecordSize returns the size on disk of a record with an n-byte payload:
// its length word, the payload and the padding.
func RecordSize(n uint64) uint64 { return Align8(RecordHeaderLen + n) }

// MaxMsgLenLimit is the largest max record length a channel of the given
// capacity may declare.
func MaxMsgLenLimit(capacity uint32) uint32 {
	return uint32(Align8(uint64(capacity)/128 - 8))
}

// FileSize is the size of the channel file this package writes for a given
// capacity: header block, data region and footer.
func FileSize(capacity uint32) int64 {
	return DataOffset + int64(capacity) + FooterLen
}
