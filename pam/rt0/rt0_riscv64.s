#include "textflag.h"

// kig_core_rt0 for riscv64; rt0_amd64.s says what it is for. The C ABI
// passes argc, argv and the third argument in A0, A1 and A2, the return
// address in RA, which neither path touches; T0 is free to use.
//
// The magic is kept as data, a 64-bit word in the machine's byte order at
// offset 4, after a branch over it: kig_core_start (../core_entry.c, its
// table of entries) recognises the entry by both. The branch is written as
// its encoding, "JAL ZERO, 12": Go's assembler may emit a JMP as a 2-byte
// compressed C.J, which would move the magic.
#define KIG_RT0_MAGIC $0x2131746f72676b69
#define KIG_RT0_SIGTABLE $0x2132746f72676b69

// func kig_core_rt0(argc int, argv **byte, magic_or_envp uintptr), C ABI.
TEXT kig_core_rt0(SB),NOSPLIT|NOFRAME,$0
	WORD	$0x00c0006f	// JAL ZERO, 12: over the magic
	WORD	$0x72676b69	// KIG_RT0_MAGIC's low half, then its high half
	WORD	$0x2131746f
	MOV	KIG_RT0_MAGIC, T0
	BEQ	A2, T0, start
	MOV	KIG_RT0_SIGTABLE, T0
	BEQ	A2, T0, sigtable
	RET
sigtable:
	MOV	$runtime·sigtable(SB), A0
	RET
start:
	JMP	_rt0_riscv64_linux_lib(SB)
