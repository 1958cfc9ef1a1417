/*
 * Serial console. Only warnings and errors are printed, so a healthy boot
 * touches the UART not at all. No UART set-up: QEMU's 16550 transmits as it
 * comes out of reset, and the kernel programs it properly later.
 */
#include "console.h"
#include "io.h"
#include "poweroff.h"
#include "uart.h"

void console_putc(char c)
{
	if (c == '\n')
		console_putc('\r');
	while (!(inb(COM1 + UART_LSR) & UART_LSR_THRE))
		;
	outb(COM1 + UART_THR, (u8)c);
}

void console_puts(const char *s)
{
	while (*s)
		console_putc(*s++);
}

/* Divide in place, returning the remainder: no libgcc for 64-bit division
 * in a freestanding 32-bit build. */
static unsigned divmod(u64 *v, unsigned base)
{
	u64 q = 0;
	u64 r = 0;

	for (int bit = 63; bit >= 0; bit--) {
		r = (r << 1) | ((*v >> bit) & 1);
		if (r >= base) {
			r -= base;
			q |= 1ull << bit;
		}
	}
	*v = q;
	return (unsigned)r;
}

static void put_number(u64 v, unsigned base)
{
	char buf[21];
	int i = 0;

	do {
		unsigned d = divmod(&v, base);

		buf[i++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
	} while (v);
	while (i)
		console_putc(buf[--i]);
}

static void console_vprintf(const char *fmt, __builtin_va_list ap)
{
	for (; *fmt; fmt++) {
		int longs = 0;
		u64 v;

		if (*fmt != '%') {
			console_putc(*fmt);
			continue;
		}
		while (*++fmt == 'l')
			longs++;
		switch (*fmt) {
		case 's':
			console_puts(__builtin_va_arg(ap, const char *));
			break;
		case 'c':
			console_putc((char)__builtin_va_arg(ap, int));
			break;
		case 'd': {
			s32 s = __builtin_va_arg(ap, s32);

			if (s < 0) {
				console_putc('-');
				s = -s;
			}
			put_number((u32)s, 10);
			break;
		}
		case 'u':
		case 'x':
			v = longs >= 2 ? __builtin_va_arg(ap, u64) : __builtin_va_arg(ap, u32);
			put_number(v, *fmt == 'u' ? 10 : 16);
			break;
		case '%':
			console_putc('%');
			break;
		default:
			return; /* malformed format: stop rather than guess */
		}
	}
}

void console_printf(const char *fmt, ...)
{
	__builtin_va_list ap;

	__builtin_va_start(ap, fmt);
	console_vprintf(fmt, ap);
	__builtin_va_end(ap);
}

void warn(const char *fmt, ...)
{
	__builtin_va_list ap;

	console_puts("minibios: warning: ");
	__builtin_va_start(ap, fmt);
	console_vprintf(fmt, ap);
	__builtin_va_end(ap);
	console_putc('\n');
}

void fatal(const char *fmt, ...)
{
	__builtin_va_list ap;

	console_puts("minibios: error: ");
	__builtin_va_start(ap, fmt);
	console_vprintf(fmt, ap);
	__builtin_va_end(ap);
	console_putc('\n');
	power_off();
}
