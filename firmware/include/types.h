/* Fixed-width types and small helpers shared by every firmware file. */
#ifndef MINIBIOS_TYPES_H
#define MINIBIOS_TYPES_H

#ifndef __ASSEMBLER__

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed int s32;
typedef unsigned long uptr; /* an address on the firmware's own (32-bit) side */
typedef __SIZE_TYPE__ size_t;
typedef _Bool bool;

#define true 1
#define false 0
#define NULL ((void *)0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define ALIGN_UP(x, a) ALIGN_DOWN((x) + (a) - 1, (a))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define KiB 1024u
#define MiB (1024u * KiB)
#define GiB (1024ull * MiB)

#define __packed __attribute__((packed))
#define __noreturn __attribute__((noreturn))
#define __aligned(n) __attribute__((aligned(n)))

static inline u16 be16(u16 x) { return __builtin_bswap16(x); }
static inline u32 be32(u32 x) { return __builtin_bswap32(x); }
static inline u64 be64(u64 x) { return __builtin_bswap64(x); }

#endif /* __ASSEMBLER__ */
#endif
