/* notify.h: telling the service manager how the daemon is (sd_notify(3),
 * libsystemd): READY=1 once it really serves, STATUS= lines, STOPPING=1,
 * and watchdog pings from the libuv loop, so a loop that wedges stops them
 * and systemd restarts the daemon (WatchdogSec=). Everything is a no-op
 * when the daemon was not started with NOTIFY_SOCKET. */
#ifndef FERRY_NOTIFY_H
#define FERRY_NOTIFY_H

#include <stdint.h>

#include <uv.h>

void	notify_ready(const char *, ...) __attribute__((format(printf, 1, 2)));
void	notify_status(const char *, ...) __attribute__((format(printf, 1, 2)));
void	notify_stopping(void);
int	notify_watchdog_start(uv_loop_t *, uv_timer_t *, uint64_t *);
void	notify_watchdog_stop(uv_timer_t *);

#endif
