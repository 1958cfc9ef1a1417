/* The first serial port, QEMU's 16550: console.c and int 10h (bios16.S) write to it. */
#ifndef MINIBIOS_UART_H
#define MINIBIOS_UART_H

#define COM1 0x3f8
#define UART_LSR 5 /* line status register */
#define UART_LSR_THRE 0x20 /* transmit holding register empty */

#endif
