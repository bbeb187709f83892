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

// func record3SSE42(n uint64, hi uint32, words []uint64) uint32
//
// Record in three interleaved streams: the words are cut into A, B and C,
// B and C of K words each; A continues the checksum of n and hi, B and C
// start from zero, and the three CRC32 chains run side by side. Then
// crc = CRC32Q(0, clmul(A, x^(128K-33)) ^ clmul(B, x^(64K-33))) ^ C, which
// shifts A past B and C and B past C; the constants are in ·shifts[K].
// Repeated while 10 words or more are left, K at most maxK; the rest
// goes one word at a time.
TEXT ·record3SSE42(SB), NOSPLIT, $0-44
	MOVL $0xffffffff, AX
	MOVQ n+0(FP), BX
	CRC32Q BX, AX
	MOVL hi+8(FP), BX
	CRC32L BX, AX
	MOVQ words_base+16(FP), SI
	MOVQ words_len+24(FP), R12
	LEAQ ·shifts(SB), R13

block:
	CMPQ R12, $10
	JB   serial
	// K = min((W+2)/3, maxK): division by 3 as a multiply
	MOVQ R12, R10
	ADDQ $2, R10
	MOVQ $0xAAAAAAAB, BX
	IMULQ BX, R10
	SHRQ $33, R10
	CMPQ R10, $128
	JBE  kok
	MOVQ $128, R10
kok:
	// the words of A: min(W - 2K, K)
	MOVQ R12, R11
	SUBQ R10, R11
	SUBQ R10, R11
	CMPQ R11, R10
	JBE  aok
	MOVQ R10, R11
aok:
	LEAQ (SI)(R11*8), R8 // B
	LEAQ (R8)(R10*8), R9 // C
	XORL DX, DX
	XORL DI, DI
	MOVQ R11, CX
	TESTQ CX, CX
	JZ   bc
abc:
	CRC32Q (SI), AX
	CRC32Q (R8), DX
	CRC32Q (R9), DI
	ADDQ $8, SI
	ADDQ $8, R8
	ADDQ $8, R9
	DECQ CX
	JNZ  abc
bc:
	MOVQ R10, CX
	SUBQ R11, CX
	JZ   combine
bcwords:
	CRC32Q (R8), DX
	CRC32Q (R9), DI
	ADDQ $8, R8
	ADDQ $8, R9
	DECQ CX
	JNZ  bcwords
combine:
	MOVQ R10, BX
	SHLQ $4, BX
	MOVQ AX, X0
	MOVQ (R13)(BX*1), X1
	PCLMULQDQ $0x00, X1, X0
	MOVQ DX, X2
	MOVQ 8(R13)(BX*1), X3
	PCLMULQDQ $0x00, X3, X2
	PXOR X2, X0
	MOVQ X0, BX
	XORL AX, AX
	CRC32Q BX, AX
	XORL DI, AX
	MOVQ R9, SI // after C
	SUBQ R11, R12
	SUBQ R10, R12
	SUBQ R10, R12
	JMP  block

serial:
	TESTQ R12, R12
	JZ   done3
words3:
	CRC32Q (SI), AX
	ADDQ $8, SI
	DECQ R12
	JNZ  words3
done3:
	NOTL AX
	MOVL AX, ret+40(FP)
	RET
