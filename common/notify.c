/* notify.c: sd_notify(3) for both daemons; see notify.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"

/* The environment is left in place (unset_environment 0): the daemon
 * notifies again and again, and the watchdog pings need it. */
static void
notify_send(const char *what, const char *fmt, va_list ap)
{
	char status[512];
	int rc;

	vsnprintf(status, sizeof(status), fmt, ap);
	/* A newline would end the STATUS= assignment early. */
	status[strcspn(status, "\n")] = '\0';
	if ((rc = sd_notifyf(0, "%sSTATUS=%s", what, status)) < 0)
		log_debug("sd_notify: %s", strerror(-rc));
}

/* The daemon serves: systemd's start job ends here (Type=notify). */
void
notify_ready(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify_send("READY=1\n", fmt, ap);
	va_end(ap);
}

void
notify_status(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify_send("", fmt, ap);
	va_end(ap);
}

void
notify_stopping(void)
{
	(void)sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
}

static void
notify_watchdog_cb(uv_timer_t *t)
{
	(void)t;
	(void)sd_notify(0, "WATCHDOG=1");
}

/*
 * Pings the watchdog from the loop at half of WATCHDOG_USEC, the interval
 * sd_watchdog_enabled(3) advises. The timer is unreferenced: it never keeps
 * uv_run from returning, so the daemons' shutdown need not know of it.
 * Returns 1 with *usec set when systemd asked for pings, 0 when it did not,
 * -1 on a bad WATCHDOG_USEC.
 */
int
notify_watchdog_start(uv_loop_t *loop, uv_timer_t *t, uint64_t *usec)
{
	uint64_t us = 0, ms;
	int rc;

	*usec = 0;
	if ((rc = sd_watchdog_enabled(0, &us)) < 0) {
		log_warnx("watchdog: %s", strerror(-rc));
		return -1;
	}
	if (rc == 0)
		return 0;
	ms = us / 2000;
	if (ms == 0)
		ms = 1;
	uv_timer_init(loop, t);
	uv_timer_start(t, notify_watchdog_cb, ms, ms);
	uv_unref((uv_handle_t *)t);
	*usec = us;
	log_info("watchdog: a ping every %llu ms (WATCHDOG_USEC %llu)",
	    (unsigned long long)ms, (unsigned long long)us);
	return 1;
}

/* Only for a timer notify_watchdog_start started (it returned 1); the loop
 * must run once more for the close to complete. */
void
notify_watchdog_stop(uv_timer_t *t)
{
	if (!uv_is_closing((uv_handle_t *)t))
		uv_close((uv_handle_t *)t, NULL);
}
