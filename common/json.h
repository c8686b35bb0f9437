/* ISC license: see LICENSE. */
#ifndef JSON_H
#define JSON_H

#include <stdio.h>

void	json_str(FILE *, const char *);

#endif
