#include "textflag.h"

// kig_core_rt0 for arm64; rt0_amd64.s says what it is for. The C ABI
// passes argc, argv and the third argument in R0, R1 and R2, and the
// return address in LR (R30), which neither path touches.
//
// Go's assembler loads a 64-bit constant with MOVZ and three MOVKs (older
// releases: from a literal pool), so no instruction holds the magic whole:
// it is kept as data, a 64-bit word in the machine's byte order at offset
// 4, after a branch over it, and kig_core_start (../core_entry.c, its
// table of entries) recognises the entry by both.
#define KIG_RT0_MAGIC $0x2131746f72676b69
#define KIG_RT0_SIGTABLE $0x2132746f72676b69

// func kig_core_rt0(argc int, argv **byte, magic_or_envp uintptr), C ABI.
TEXT kig_core_rt0(SB),NOSPLIT|NOFRAME,$0
	B	code	// 0x14000003: 12 bytes on
	DWORD	KIG_RT0_MAGIC
code:
	MOVD	KIG_RT0_MAGIC, R3
	CMP	R3, R2
	BEQ	start
	MOVD	KIG_RT0_SIGTABLE, R3
	CMP	R3, R2
	BEQ	sigtable
	RET
sigtable:
	MOVD	$runtime·sigtable(SB), R0
	RET
start:
	B	_rt0_arm64_linux_lib(SB)
