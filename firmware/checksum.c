#include "checksum.h"

u8 checksum8(const void *p, u32 len)
{
	const u8 *s = p;
	u8 sum = 0;

	while (len--)
		sum += *s++;
	return sum;
}
