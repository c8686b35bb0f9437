/* ISC license: see LICENSE. */
#ifndef DEADLINE_H
#define DEADLINE_H

#include <time.h>

/* A point in time on the monotonic clock, or never. */
struct deadline {
	struct timespec	end;
	int		never;
	int		ms;	/* the bound it was made with (deadline_in) */
};

int	timeout_parse(const char *seconds, const char **errstr);
int	etimeout_parse(const char *seconds);
void	deadline_in(struct deadline *, int ms);
int	deadline_ms(const struct deadline *);
int	deadline_poll(int fd, short events, const struct deadline *);
void	deadline_sleep(int ms, const struct deadline *);
void	deadline_usleep(long us, const struct deadline *);
int	poll_ms(int, int);
void	wait_note(const struct deadline *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	wait_note_off(void);

#endif
