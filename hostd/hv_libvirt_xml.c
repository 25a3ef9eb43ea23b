/* hv_libvirt_xml.c: what libvirt gives as text, parsed: state
 * reason names, a domain's disks and CPU from its XML; see hv_libvirt.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libvirt/libvirt.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "hv.h"
#include "hv_libvirt.h"
#include "hv_libvirt_int.h"
#include "log.h"

static pthread_once_t	 hvl_xml_once = PTHREAD_ONCE_INIT;

static void
hvl_xml_init(void)
{
	xmlInitParser();
}

/* libxml2 is initialized once, by whichever thread parses first. */
void
hvl_xml_ready(void)
{
	pthread_once(&hvl_xml_once, hvl_xml_init);
}

const char *
hv_libvirt_reason_name(int state, int reason)
{
	static const char *running[] = {
		[VIR_DOMAIN_RUNNING_UNKNOWN] = "unknown",
		[VIR_DOMAIN_RUNNING_BOOTED] = "booted",
		[VIR_DOMAIN_RUNNING_MIGRATED] = "migrated",
		[VIR_DOMAIN_RUNNING_RESTORED] = "restored",
		[VIR_DOMAIN_RUNNING_FROM_SNAPSHOT] = "from-snapshot",
		[VIR_DOMAIN_RUNNING_UNPAUSED] = "unpaused",
		[VIR_DOMAIN_RUNNING_MIGRATION_CANCELED] = "migration-canceled",
		[VIR_DOMAIN_RUNNING_SAVE_CANCELED] = "save-canceled",
		[VIR_DOMAIN_RUNNING_WAKEUP] = "wakeup",
		[VIR_DOMAIN_RUNNING_CRASHED] = "crashed",
		[VIR_DOMAIN_RUNNING_POSTCOPY] = "postcopy",
		[VIR_DOMAIN_RUNNING_POSTCOPY_FAILED] = "postcopy-failed",
	};
	static const char *paused[] = {
		[VIR_DOMAIN_PAUSED_UNKNOWN] = "unknown",
		[VIR_DOMAIN_PAUSED_USER] = "user",
		[VIR_DOMAIN_PAUSED_MIGRATION] = "migration",
		[VIR_DOMAIN_PAUSED_SAVE] = "save",
		[VIR_DOMAIN_PAUSED_DUMP] = "dump",
		[VIR_DOMAIN_PAUSED_IOERROR] = "ioerror",
		[VIR_DOMAIN_PAUSED_WATCHDOG] = "watchdog",
		[VIR_DOMAIN_PAUSED_FROM_SNAPSHOT] = "from-snapshot",
		[VIR_DOMAIN_PAUSED_SHUTTING_DOWN] = "shutdown",
		[VIR_DOMAIN_PAUSED_SNAPSHOT] = "snapshot",
		[VIR_DOMAIN_PAUSED_CRASHED] = "crashed",
		[VIR_DOMAIN_PAUSED_STARTING_UP] = "starting-up",
		[VIR_DOMAIN_PAUSED_POSTCOPY] = "postcopy",
		[VIR_DOMAIN_PAUSED_POSTCOPY_FAILED] = "postcopy-failed",
	};
	static const char *shutoff[] = {
		[VIR_DOMAIN_SHUTOFF_UNKNOWN] = "unknown",
		[VIR_DOMAIN_SHUTOFF_SHUTDOWN] = "shutdown",
		[VIR_DOMAIN_SHUTOFF_DESTROYED] = "destroyed",
		[VIR_DOMAIN_SHUTOFF_CRASHED] = "crashed",
		[VIR_DOMAIN_SHUTOFF_MIGRATED] = "migrated",
		[VIR_DOMAIN_SHUTOFF_SAVED] = "saved",
		[VIR_DOMAIN_SHUTOFF_FAILED] = "failed",
		[VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT] = "from-snapshot",
		[VIR_DOMAIN_SHUTOFF_DAEMON] = "daemon",
	};
	static const char *shutdown[] = {
		[VIR_DOMAIN_SHUTDOWN_UNKNOWN] = "unknown",
		[VIR_DOMAIN_SHUTDOWN_USER] = "user",
	};
	static const char *crashed[] = {
		[VIR_DOMAIN_CRASHED_UNKNOWN] = "unknown",
		[VIR_DOMAIN_CRASHED_PANICKED] = "panicked",
	};
	const char **names;
	size_t n;

	switch (state) {
	case VIR_DOMAIN_RUNNING:
		names = running;
		n = sizeof(running) / sizeof(running[0]);
		break;
	case VIR_DOMAIN_PAUSED:
		names = paused;
		n = sizeof(paused) / sizeof(paused[0]);
		break;
	case VIR_DOMAIN_SHUTOFF:
		names = shutoff;
		n = sizeof(shutoff) / sizeof(shutoff[0]);
		break;
	case VIR_DOMAIN_SHUTDOWN:
		names = shutdown;
		n = sizeof(shutdown) / sizeof(shutdown[0]);
		break;
	case VIR_DOMAIN_CRASHED:
		names = crashed;
		n = sizeof(crashed) / sizeof(crashed[0]);
		break;
	default:
		return "unknown";
	}
	if (reason < 0 || (size_t)reason >= n || names[reason] == NULL)
		return "unknown";
	return names[reason];
}

/* Copy an attribute (or nothing when absent) into a fixed field; -1 when
 * it does not fit. */
static int
hvl_xml_attr(xmlNodePtr node, const char *attr, char *dst, size_t len,
    const char *what)
{
	xmlChar *v;
	int rc = 0;

	if (node == NULL || (v = xmlGetProp(node, (const xmlChar *)attr)) ==
	    NULL)
		return 0;
	if ((size_t)snprintf(dst, len, "%s", (const char *)v) >= len) {
		hv_set_error("disk %s too long: %s", what, (const char *)v);
		rc = -1;
	}
	xmlFree(v);
	return rc;
}

static xmlNodePtr
hvl_xml_child(xmlNodePtr node, const char *name)
{
	xmlNodePtr c;

	if (node == NULL)
		return NULL;
	for (c = node->children; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

static xmlDocPtr
hvl_xml_read(const char *xml)
{
	xmlDocPtr doc;

	hvl_xml_ready();
	doc = xmlReadMemory(xml, strlen(xml), "domain.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL)
		hv_set_error("cannot parse domain XML");
	return doc;
}

/* Every <host name= port=> of a network source as "name[:port],...". */
static int
hvl_parse_hosts(xmlNodePtr src, struct hv_disk *d)
{
	xmlNodePtr c;
	char name[HV_NAME_MAX], port[16];
	size_t n = 0;
	int w, v6;

	for (c = src->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE ||
		    strcmp((const char *)c->name, "host") != 0)
			continue;
		name[0] = port[0] = '\0';
		if (hvl_xml_attr(c, "name", name, sizeof(name), "host") ||
		    hvl_xml_attr(c, "port", port, sizeof(port), "port"))
			return -1;
		if (name[0] == '\0')
			continue;
		/* a bare IPv6 address needs brackets before a port */
		v6 = port[0] && strchr(name, ':') != NULL;
		w = snprintf(d->hosts + n, sizeof(d->hosts) - n, "%s%s%s%s%s%s",
		    n ? "," : "", v6 ? "[" : "", name, v6 ? "]" : "",
		    port[0] ? ":" : "", port);
		if (w < 0 || (size_t)w >= sizeof(d->hosts) - n) {
			hv_set_error("disk hosts too long");
			return -1;
		}
		n += w;
	}
	return 0;
}

/* <auth username=><secret uuid=/></auth>, in <source> (libvirt's place
 * since 3.9) or directly in <disk> (older XML). */
static int
hvl_parse_auth(xmlNodePtr disk, xmlNodePtr src, struct hv_disk *d)
{
	xmlNodePtr a;

	if ((a = hvl_xml_child(src, "auth")) == NULL &&
	    (a = hvl_xml_child(disk, "auth")) == NULL)
		return 0;
	return hvl_xml_attr(a, "username", d->auth_user, sizeof(d->auth_user),
	    "auth username") || hvl_xml_attr(hvl_xml_child(a, "secret"),
	    "uuid", d->secret_uuid, sizeof(d->secret_uuid), "secret uuid");
}

/* One disk element into d. */
static int
hvl_parse_disk(xmlNodePtr disk, struct hv_disk *d)
{
	xmlNodePtr src;
	char pool[HV_NAME_MAX] = "", vol[HV_NAME_MAX] = "";

	memset(d, 0, sizeof(*d));
	if (hvl_xml_attr(disk, "type", d->type, sizeof(d->type), "type") ||
	    hvl_xml_attr(disk, "device", d->device, sizeof(d->device),
	    "device") ||
	    hvl_xml_attr(hvl_xml_child(disk, "target"), "dev", d->target,
	    sizeof(d->target), "target") ||
	    hvl_xml_attr(hvl_xml_child(disk, "driver"), "type", d->format,
	    sizeof(d->format), "format"))
		return -1;
	if (d->device[0] == '\0')	/* libvirt's default */
		snprintf(d->device, sizeof(d->device), "disk");
	d->readonly = hvl_xml_child(disk, "readonly") != NULL;

	/* A cdrom without media has no <source>. */
	if ((src = hvl_xml_child(disk, "source")) == NULL)
		return 0;
	if (strcmp(d->type, "network") == 0) {
		if (hvl_xml_attr(src, "protocol", d->protocol,
		    sizeof(d->protocol), "protocol") ||
		    hvl_xml_attr(src, "name", d->source, sizeof(d->source),
		    "source") ||
		    hvl_xml_attr(hvl_xml_child(src, "host"), "name", d->host,
		    sizeof(d->host), "host") || hvl_parse_hosts(src, d) ||
		    hvl_parse_auth(disk, src, d))
			return -1;
	} else if (strcmp(d->type, "volume") == 0) {
		if (hvl_xml_attr(src, "pool", pool, sizeof(pool), "pool") ||
		    hvl_xml_attr(src, "volume", vol, sizeof(vol), "volume"))
			return -1;
		if ((size_t)snprintf(d->source, sizeof(d->source), "%s/%s",
		    pool, vol) >= sizeof(d->source)) {
			hv_set_error("disk source too long");
			return -1;
		}
	} else {
		if (hvl_xml_attr(src, "file", d->source, sizeof(d->source),
		    "source") ||
		    hvl_xml_attr(src, "dev", d->source, sizeof(d->source),
		    "source") ||
		    hvl_xml_attr(src, "dir", d->source, sizeof(d->source),
		    "source"))
			return -1;
	}
	return 0;
}

int
hv_libvirt_parse_disks(const char *xml, struct hv_disk **out, size_t *n)
{
	xmlDocPtr doc = NULL;
	xmlXPathContextPtr ctx = NULL;
	xmlXPathObjectPtr obj = NULL;
	struct hv_disk *disks = NULL;
	size_t i, count = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if ((doc = hvl_xml_read(xml)) == NULL)
		goto done;
	if ((ctx = xmlXPathNewContext(doc)) == NULL ||
	    (obj = xmlXPathEvalExpression(
	    (const xmlChar *)"/domain/devices/disk", ctx)) == NULL) {
		hv_set_error("domain XML: XPath failed");
		goto done;
	}
	if (obj->nodesetval != NULL)
		count = obj->nodesetval->nodeNr;
	if (count > 0 && (disks = calloc(count, sizeof(*disks))) == NULL) {
		hv_set_error("out of memory");
		goto done;
	}
	for (i = 0; i < count; i++)
		if (hvl_parse_disk(obj->nodesetval->nodeTab[i], &disks[i]) ==
		    -1)
			goto done;
	*out = disks;
	*n = count;
	disks = NULL;
	rc = 0;
 done:
	free(disks);
	xmlXPathFreeObject(obj);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return rc;
}

/* The string value of an XPath expression (NULL when empty), malloc'd. */
char *
hvl_xpath_str(xmlXPathContextPtr ctx, const char *expr)
{
	xmlXPathObjectPtr obj;
	char *s = NULL;

	obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
	if (obj != NULL && obj->type == XPATH_STRING && obj->stringval &&
	    obj->stringval[0] != '\0')
		s = strdup((const char *)obj->stringval);
	xmlXPathFreeObject(obj);
	return s;
}

/*
 * The <cpu> element of a domain's XML, serialized, and what comparing it on
 * another host needs: emulator, arch, machine, virttype. All malloc'd for
 * the caller; on failure (-1, hv_last_error) all NULL.
 */
int
hv_libvirt_parse_cpu(const char *xml, char **cpu_xml, char **emulator,
    char **arch, char **machine, char **virttype)
{
	xmlDocPtr doc = NULL;
	xmlXPathContextPtr ctx = NULL;
	xmlXPathObjectPtr obj = NULL;
	xmlBufferPtr buf = NULL;
	int rc = -1;

	*cpu_xml = *emulator = *arch = *machine = *virttype = NULL;
	if ((doc = hvl_xml_read(xml)) == NULL ||
	    (ctx = xmlXPathNewContext(doc)) == NULL ||
	    (obj = xmlXPathEvalExpression((const xmlChar *)"/domain/cpu",
	    ctx)) == NULL) {
		hv_set_error("cannot parse domain XML");
		goto done;
	}
	if (obj->nodesetval == NULL || obj->nodesetval->nodeNr < 1) {
		hv_set_error("no <cpu> element");
		goto done;
	}
	if ((buf = xmlBufferCreate()) == NULL ||
	    xmlNodeDump(buf, doc, obj->nodesetval->nodeTab[0], 0, 0) < 0 ||
	    (*cpu_xml = strdup((const char *)xmlBufferContent(buf))) ==
	    NULL) {
		hv_set_error("cannot serialize <cpu>");
		goto done;
	}
	*emulator = hvl_xpath_str(ctx,
	    "normalize-space(/domain/devices/emulator)");
	*arch = hvl_xpath_str(ctx, "string(/domain/os/type/@arch)");
	*machine = hvl_xpath_str(ctx, "string(/domain/os/type/@machine)");
	*virttype = hvl_xpath_str(ctx, "string(/domain/@type)");
	if (*emulator == NULL || *arch == NULL || *machine == NULL ||
	    *virttype == NULL) {
		hv_set_error("emulator, arch, machine or type missing");
		goto done;
	}
	rc = 0;
 done:
	if (rc != 0) {
		free(*cpu_xml);
		free(*emulator);
		free(*arch);
		free(*machine);
		free(*virttype);
		*cpu_xml = *emulator = *arch = *machine = *virttype = NULL;
	}
	if (buf != NULL)
		xmlBufferFree(buf);
	xmlXPathFreeObject(obj);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return rc;
}
