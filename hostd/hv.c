/* hv.c: the parts of the hypervisor interface every implementation shares. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv.h"

static __thread char hv_errbuf[1024];

struct hv *
hv_new(const struct hv_ops *ops, const char *uri, hv_event_cb cb, void *arg)
{
	struct hv *hv;

	if ((hv = calloc(1, sizeof(*hv))) == NULL)
		return NULL;
	hv->ops = ops;
	snprintf(hv->uri, sizeof(hv->uri), "%s", uri ? uri : "");
	hv->on_event = cb;
	hv->event_arg = arg;
	return hv;
}

void
hv_free(struct hv *hv)
{
	if (hv == NULL)
		return;
	if (hv->ops && hv->ops->close)
		hv->ops->close(hv);
	free(hv);
}

void
hv_domain_clear(struct hv_domain *d)
{
	if (d == NULL)
		return;
	free(d->disks);
	d->disks = NULL;
	d->ndisks = 0;
}

void
hv_domain_list_free(struct hv_domain *list, size_t n)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < n; i++)
		hv_domain_clear(&list[i]);
	free(list);
}

const char *
hv_last_error(void)
{
	return hv_errbuf[0] ? hv_errbuf : "unknown hypervisor error";
}

void
hv_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(hv_errbuf, sizeof(hv_errbuf), fmt, ap);
	va_end(ap);
}

const char *
hv_state_name(int state)
{
	static const char *names[] = {
		"nostate", "running", "blocked", "paused", "shutdown",
		"shutoff", "crashed", "pmsuspended",
	};

	if (state < 0 || state >= (int)(sizeof(names) / sizeof(names[0])))
		return "unknown";
	return names[state];
}
