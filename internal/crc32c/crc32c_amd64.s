#include "textflag.h"

// func updateSSE42(crc uint32, p []byte) uint32
TEXT ·updateSSE42(SB), NOSPLIT, $0-36
	MOVL crc+0(FP), AX
	MOVQ p_base+8(FP), SI
	MOVQ p_len+16(FP), CX
	CMPQ CX, $8
	JB   tail
words:
	CRC32Q (SI), AX
	ADDQ $8, SI
	SUBQ $8, CX
	CMPQ CX, $8
	JAE  words
tail:
	TESTQ CX, CX
	JZ   done
bytes:
	CRC32B (SI), AX
	INCQ SI
	DECQ CX
	JNZ  bytes
done:
	MOVL AX, ret+32(FP)
	RET

// func updateWord(crc uint32, v uint64) uint32
TEXT ·updateWord(SB), NOSPLIT, $0-20
	MOVL crc+0(FP), AX
	MOVQ v+8(FP), BX
	CRC32Q BX, AX
	MOVL AX, ret+16(FP)
	RET

// func recordSSE42(n uint64, hi uint32, words []uint64) uint32
TEXT ·recordSSE42(SB), NOSPLIT, $0-44
	MOVL $0xffffffff, AX
	MOVQ n+0(FP), BX
	CRC32Q BX, AX
	MOVL hi+8(FP), BX
	CRC32L BX, AX
	MOVQ words_base+16(FP), SI
	MOVQ words_len+24(FP), CX
	TESTQ CX, CX
	JZ   recdone
recwords:
	CRC32Q (SI), AX
	ADDQ $8, SI
	DECQ CX
	JNZ  recwords
recdone:
	NOTL AX
	MOVL AX, ret+40(FP)
	RET

// func payloadSSE42(n uint64, env []uint64, p []byte) uint32
TEXT ·payloadSSE42(SB), NOSPLIT, $0-60
	MOVL $0xffffffff, AX
	MOVQ n+0(FP), BX
	CRC32Q BX, AX
	XORL BX, BX
	CRC32L BX, AX
	MOVQ env_base+8(FP), SI
	MOVQ env_len+16(FP), CX
	TESTQ CX, CX
	JZ   penvdone
penv:
	CRC32Q (SI), AX
	ADDQ $8, SI
	DECQ CX
	JNZ  penv
penvdone:
	MOVQ p_base+32(FP), SI
	MOVQ p_len+40(FP), CX
	MOVQ CX, DX
	ANDQ $7, DX          // tail bytes
	SHRQ $3, CX          // whole words
	JZ   ptail
pwords:
	CRC32Q (SI), AX
	ADDQ $8, SI
	DECQ CX
	JNZ  pwords
ptail:
	TESTQ DX, DX
	JZ   pdone
	// The tail's bytes, zero-extended into BX, low byte first.
	XORL BX, BX
	MOVQ DX, CX
pbytes:
	SHLQ $8, BX
	MOVBQZX -1(SI)(CX*1), R8
	ORQ  R8, BX
	DECQ CX
	JNZ  pbytes
	CRC32Q BX, AX
pdone:
	NOTL AX
	MOVL AX, ret+56(FP)
	RET
