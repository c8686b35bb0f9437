/* ISC license: see LICENSE. */
#ifndef FDMAP_H
#define FDMAP_H

#include <sys/resource.h>

#include <stddef.h>

#include "offer.h"

int	fdlist_parse(const char *, int **, size_t *);
int	fdspec_parse(const char *, int *fd, const char **name);
int	fd_place(int *src, const int *dst, size_t, int *keep);
int	fd_lift(int *, int low);
void	fd_lift_also(int *);
int	fdset_in_place(const struct fdset *);
int	listen_env(const struct fdset *);
void	listen_env_clear(void);
void	nofile_raise(struct rlimit *saved);
void	nofile_restore(const struct rlimit *saved, int highest);

#endif
