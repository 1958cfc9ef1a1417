/*
 * String routines. The firmware's copies and fills move 32-bit words: a
 * byte loop costs several instructions per byte, and rep movs/stos, though
 * one instruction, run an iteration at a time under TCG (tens of ns per
 * byte). The host build keeps plain byte loops the sanitizers see into.
 */
#include "string.h"

#ifdef HOST_BUILD
void *memcpy(void *dst, const void *src, size_t n)
{
	u8 *d = dst;
	const u8 *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	u8 *d = dst;

	while (n--)
		*d++ = (u8)c;
	return dst;
}
#else
/* Unaligned 32-bit access is fine on x86; may_alias keeps the compiler honest. */
typedef u32 __attribute__((may_alias, aligned(1))) u32_any;

void *memcpy(void *dst, const void *src, size_t n)
{
	u8 *d = dst;
	const u8 *s = src;

	for (; n >= 4; n -= 4, d += 4, s += 4)
		*(u32_any *)d = *(const u32_any *)s;
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	u8 *d = dst;
	u32 word = 0x01010101u * (u8)c;

	for (; n >= 4; n -= 4, d += 4)
		*(u32_any *)d = word;
	while (n--)
		*d++ = (u8)c;
	return dst;
}
#endif

void *memmove(void *dst, const void *src, size_t n)
{
	u8 *d = dst;
	const u8 *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (u8)*a - (u8)*b;
		if (!*a)
			break;
	}
	return 0;
}
