/*
 * Text encodings used across the CLI, logs and exports: hex, base64 (standard, padded),
 * RFC 3339 timestamps in UTC with milliseconds, and UTF-8 validation.
 */
#ifndef PL_TEXT_H
#define PL_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* Writes 2*n hex digits and a NUL into `out` (size >= 2*n+1). */
void pl_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decodes exactly `out_len` bytes from a hex string of length 2*out_len.
 * PL_EMALFORMED on wrong length or a non-hex character. */
int pl_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t out_len);

/* Bytes needed for the base64 text of n bytes, with the NUL. */
size_t pl_base64_len(size_t n);
void pl_base64_encode(const uint8_t *in, size_t n, char *out);
/* Decodes into out (capacity out_cap); *out_len gets the decoded size. */
int pl_base64_decode(const char *in, size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len);

/* "2026-11-21T10:00:00.123Z"; out must hold 25 bytes. */
void pl_time_format_rfc3339(uint64_t ms, char out[25]);
/* Parses RFC 3339 ("2026-11-21T10:00:00Z", optional fraction and numeric offset) or a
 * plain integer of milliseconds since the epoch. PL_EMALFORMED otherwise. */
int pl_time_parse(const char *text, uint64_t *ms_out);

/* Splits "HOST:PORT" (IPv4, a name, or [IPv6]) into host and port (0..65535).
 * PL_EMALFORMED otherwise. */
int pl_addr_split(const char *addr, char *host, size_t host_size, int *port);
/* Parses a numeric "IP:PORT" or "[IPv6]:PORT" into a socket address (no name lookup). */
int pl_addr_resolve(const char *addr, struct sockaddr_storage *out);

/* Length of the valid UTF-8 sequence at p (1..4; p < end), or 0: overlong forms, surrogates
 * and code points past U+10FFFF are not valid. */
size_t pl_utf8_seq(const unsigned char *p, const unsigned char *end);

/* Writes s with & < > " ' escaped for HTML text and attributes. */
void pl_html_escape(FILE *out, const char *s);

#endif
