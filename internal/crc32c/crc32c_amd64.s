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
	LEAQ (SI)(CX*8), SI // past the words, CX counting up from -len to 0
	NEGQ CX
recwords:
	CRC32Q (SI)(CX*8), AX
	INCQ CX
	JNZ  recwords
recdone:
	NOTL AX
	MOVL AX, ret+40(FP)
	RET

// func copySSE42(n uint64, rec *uint64, env int, p []byte, mark uint64) uint32
//
// CopyRecord in two streams. A, the length word n, the CRC word's high
// half (zero) and rec[2:1+env], continues from ^0; B, p's words as they
// are copied to rec[1+env:] (the last one padded with zeros), starts from
// zero. A is short, so shifting it past B's 8K bytes (CRC32Q(0, clmul(A,
// x^(64K-33))), the constant in ·shifts[K]) runs beside B's chain: the
// checksum costs B's chain and one CRC32, not the whole record's. For K
// above maxK, B continues A instead (one chain). If mark is not zero the
// record is then published: the CRC word stored, mark stored in the word
// after the record (rec[1+env+K]) and last n in the length word, each a
// plain MOV, which x86-TSO keeps in this order for other threads. The
// caller checked that rec holds the padded payload and the word after
// the record, and that p is not empty.
TEXT ·copySSE42(SB), NOSPLIT, $0-60
	MOVL $0xffffffff, AX
	MOVQ n+0(FP), BX
	CRC32Q BX, AX
	XORL BX, BX
	CRC32L BX, AX
	MOVQ rec+8(FP), DI
	MOVQ env+16(FP), CX
	LEAQ 8(DI)(CX*8), R9 // the payload's first word, rec[1+env]
	ADDQ $16, DI         // rec[2]
	DECQ CX              // envelope words after the CRC word
	JLE  cenvdone
cenv:
	CRC32Q (DI), AX
	ADDQ $8, DI
	DECQ CX
	JNZ  cenv
cenvdone:
	MOVQ p_base+24(FP), SI
	MOVQ p_len+32(FP), CX
	LEAQ 7(CX), R10
	SHRQ $3, R10         // K, the payload's words
	MOVL AX, DX          // B continues A when K > maxK
	CMPQ R10, $128
	JA   cwords0
	MOVQ R10, R12
	SHLQ $4, R12
	LEAQ ·shifts(SB), R13
	MOVQ AX, X0
	MOVQ 8(R13)(R12*1), X1
	PCLMULQDQ $0x00, X1, X0
	MOVQ X0, BX
	XORL AX, AX
	CRC32Q BX, AX        // A shifted past B
	XORL DX, DX          // B from zero
cwords0:
	MOVQ CX, R8
	ANDQ $7, R8          // tail bytes
	ANDQ $-8, CX         // the whole words' bytes
	JZ   ctail
	// SI and R9 past the whole words, CX counting up from -bytes to 0:
	// 32 bytes at a time, then 16, then 8. Each word is loaded once, and
	// the value checksummed is the value stored: a source that changes
	// meanwhile still gives a record whose CRC matches its bytes.
	LEAQ (SI)(CX*1), SI
	LEAQ (R9)(CX*1), R9
	NEGQ CX
	CMPQ CX, $-32
	JGT  c16
c32:
	MOVQ (SI)(CX*1), BX
	MOVQ 8(SI)(CX*1), R11
	MOVQ 16(SI)(CX*1), R12
	MOVQ 24(SI)(CX*1), R13
	CRC32Q BX, DX
	CRC32Q R11, DX
	CRC32Q R12, DX
	CRC32Q R13, DX
	MOVQ BX, (R9)(CX*1)
	MOVQ R11, 8(R9)(CX*1)
	MOVQ R12, 16(R9)(CX*1)
	MOVQ R13, 24(R9)(CX*1)
	ADDQ $32, CX
	CMPQ CX, $-32
	JLE  c32
c16:
	CMPQ CX, $-16
	JGT  c8
	MOVQ (SI)(CX*1), BX
	MOVQ 8(SI)(CX*1), R11
	CRC32Q BX, DX
	CRC32Q R11, DX
	MOVQ BX, (R9)(CX*1)
	MOVQ R11, 8(R9)(CX*1)
	ADDQ $16, CX
c8:
	TESTQ CX, CX
	JZ   ctail
	MOVQ (SI)(CX*1), BX
	CRC32Q BX, DX
	MOVQ BX, (R9)(CX*1)
ctail:
	TESTQ R8, R8
	JZ   cdone
	XORL BX, BX
	MOVQ R8, CX
cbytes:
	SHLQ $8, BX
	MOVBQZX -1(SI)(CX*1), R11
	ORQ  R11, BX
	DECQ CX
	JNZ  cbytes
	CRC32Q BX, DX
	MOVQ BX, (R9)
cdone:
	CMPQ R10, $128       // K > maxK: B continued A
	JA   cone
	XORL DX, AX
	NOTL AX
	JMP  cend
cone:
	NOTL DX
	MOVL DX, AX
cend:
	MOVL AX, ret+56(FP)
	MOVQ mark+48(FP), BX
	TESTQ BX, BX
	JZ   cret
	MOVQ rec+8(FP), DI
	MOVL AX, AX          // the CRC word's high half zero
	MOVQ AX, 8(DI)
	MOVQ p_len+32(FP), DX
	ADDQ $7, DX
	SHRQ $3, DX
	ADDQ env+16(FP), DX
	MOVQ BX, 8(DI)(DX*8) // the mark after the record, rec[1+env+K]
	MOVQ n+0(FP), CX
	MOVQ CX, (DI)        // and last the length word: published
cret:
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


// func verifyRunSSE42(words []uint64, pos, stop, maxMsg, envLen uint64, budget int) uint64
//
// SI is the position of the record being checked, R12 its end; each
// record's checksum is one CRC32 chain over its length word, its CRC
// word's high half and its words from the third on, the last loop counting
// CX up from minus their bytes to zero.
TEXT ·verifyRunSSE42(SB), NOSPLIT, $0-72
	MOVQ words_base+0(FP), DI
	MOVQ pos+24(FP), SI
	MOVQ stop+32(FP), R8
	MOVQ maxMsg+40(FP), R9
	MOVQ envLen+48(FP), R10
	MOVQ budget+56(FP), R11
vrec:
	LEAQ 8(SI), AX
	CMPQ AX, R8
	JHI  vdone           // no length word before stop
	MOVQ (DI)(SI*1), BX  // the length word
	CMPQ BX, R10
	JLS  vdone           // a heartbeat, or no room for the envelope
	CMPQ BX, R9
	JHI  vdone           // the watermark, a mark, or too long
	LEAQ 15(BX), R12
	ANDQ $~7, R12
	ADDQ SI, R12         // the record's end
	CMPQ R12, R8
	JHI  vdone
	MOVQ 8(DI)(SI*1), DX // the CRC word
	MOVL $0xffffffff, AX
	CRC32Q BX, AX
	MOVQ DX, R13
	SHRQ $32, R13
	CRC32L R13, AX
	LEAQ (DI)(R12*1), R14
	LEAQ 16(SI), CX
	SUBQ R12, CX         // minus the bytes after the CRC word
	CMPQ CX, $-32
	JGT  vwords8
vwords32:                    // 32 bytes a round while as many are left
	CRC32Q (R14)(CX*1), AX
	CRC32Q 8(R14)(CX*1), AX
	CRC32Q 16(R14)(CX*1), AX
	CRC32Q 24(R14)(CX*1), AX
	ADDQ $32, CX
	CMPQ CX, $-32
	JLE  vwords32
vwords8:
	TESTQ CX, CX
	JZ   vcmp
vwords:
	CRC32Q (R14)(CX*1), AX
	ADDQ $8, CX
	JNZ  vwords
vcmp:
	NOTL AX
	CMPL AX, DX
	JNE  vdone
	MOVQ R12, SI
	DECQ R11
	JNZ  vrec
vdone:
	MOVQ SI, ret+64(FP)
	RET
