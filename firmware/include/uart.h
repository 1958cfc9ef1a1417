/*
 * The first serial port, a 16550 at the PC's COM1 address. Plain #defines,
 * usable from assembly (bios16.S's int 10h teletype) and by the host
 * harness's UART model.
 */
#ifndef MINIBIOS_UART_H
#define MINIBIOS_UART_H

#define COM1 0x3f8
#define UART_THR 0        /* transmit holding register (write) */
#define UART_LSR 5        /* line status register */
#define UART_LSR_THRE 0x20 /* the transmit holding register is empty */

#endif
