/* ISC license: see LICENSE. */
#ifndef COPY_H
#define COPY_H

int	fd_copy(int in, int out, int *side);

#endif
