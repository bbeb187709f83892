# ProcessPrng(PBYTE buf, SIZE_T len) BOOL: fills buf with BCryptGenRandom
# (the system-preferred generator) and returns TRUE.
	.text
	.globl ProcessPrng
ProcessPrng:
	subq	$40, %rsp
	movq	%rdx, %r8
	movq	%rcx, %rdx
	xorl	%ecx, %ecx
	movl	$2, %r9d
	call	*__imp_BCryptGenRandom(%rip)
	addq	$40, %rsp
	movl	$1, %eax
	ret
	.globl DllMain
DllMain:
	movl	$1, %eax
	ret
	.section .drectve
	.ascii " -export:ProcessPrng"
