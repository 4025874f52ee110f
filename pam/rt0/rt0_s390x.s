#include "textflag.h"

// kig_core_rt0 for s390x; rt0_amd64.s says what it is for. The C ABI
// passes argc, argv and the third argument in R2, R3 and R4 (arguments are
// R2 to R6), the return address in R14, which neither path touches; R1 is
// free to use.
//
// The magic is kept as data, a 64-bit word in the machine's (big-endian)
// byte order at offset 4, after a branch over it: kig_core_start
// (../core_entry.c, its table of entries) recognises the entry by both.
#define KIG_RT0_MAGIC $0x2131746f72676b69
#define KIG_RT0_SIGTABLE $0x2132746f72676b69

// func kig_core_rt0(argc int, argv **byte, magic_or_envp uintptr), C ABI.
TEXT kig_core_rt0(SB),NOSPLIT|NOFRAME,$0
	BR	code
	DWORD	KIG_RT0_MAGIC
code:
	MOVD	KIG_RT0_MAGIC, R1
	CMPBEQ	R4, R1, start
	MOVD	KIG_RT0_SIGTABLE, R1
	CMPBEQ	R4, R1, sigtable
	RET
sigtable:
	MOVD	$runtime·sigtable(SB), R2
	RET
start:
	BR	_rt0_s390x_linux_lib(SB)
