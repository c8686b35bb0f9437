/* ISC license: see LICENSE. */
#ifndef ESC_H
#define ESC_H

#include <stddef.h>

const char	*esc_bytes(char *buf, size_t len, const char *s, size_t n);
const char	*esc(const char *);

#endif
