//go:build !amd64

package crc32c

const (
	haveSSE42 = false
	haveCLMUL = false
)

func updateSSE42(uint32, []byte) uint32                                   { panic("unreachable") }
func updateWord(uint32, uint64) uint32                                    { panic("unreachable") }
func recordSSE42(uint64, uint32, []uint64) uint32                         { panic("unreachable") }
func copySSE42(uint64, *uint64, int, []byte, uint64) uint32               { panic("unreachable") }
func record3SSE42(uint64, uint32, []uint64) uint32                        { panic("unreachable") }
func verifyRunSSE42([]uint64, uint64, uint64, uint64, uint64, int) uint64 { panic("unreachable") }
