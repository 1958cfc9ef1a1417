/* Text output on the first serial port, and the way out when boot fails. */
#ifndef MINIBIOS_CONSOLE_H
#define MINIBIOS_CONSOLE_H

#include "types.h"
#include "uart.h"

void console_putc(char c);
void console_puts(const char *s);
/* printf subset: %s %c %d %u %x and %%; ll for 64-bit (%llx %llu), %d is 32-bit. */
void console_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "minibios: error: <message>" and a newline, then power the machine off. */
__noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "minibios: warning: <message>" and a newline; the boot goes on. */
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
