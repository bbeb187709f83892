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
