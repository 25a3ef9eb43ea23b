/* iscsiprobe.c: log in to an iSCSI target and ask a LUN who it is, with
 * libiscsi (the initiator QEMU itself uses for iscsi:// disks), in a timed
 * child: a portal that drops packets fails the check in its deadline.
 *
 * What it proves: this host reaches the portal, the target of that IQN
 * accepts a login, and the LUN answers READ CAPACITY(16) and INQUIRY (unit
 * serial number). Both hosts probe the same IQN and LUN (the domain XML
 * moves with the VM) and report the LUN's size and serial in their verdicts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "storage.h"

#define ISCSIPROBE_INITIATOR	"iqn.2026-12.io.ferry:precheck"

struct iscsiprobe_arg {
	const char	*portal;	/* host[:port] */
	const char	*iqn;
	int		 lun;
	int		 timeout_s;
};

/* In the child: the context is never reused, so errors just return. */
static int
iscsiprobe_op(void *arg, void *out, size_t outlen, char *err, size_t errlen)
{
	const struct iscsiprobe_arg *a = arg;
	struct iscsiprobe_info *info = out;
	struct iscsi_context *is;
	struct scsi_task *t;
	struct scsi_readcapacity16 *rc16;
	struct scsi_inquiry_unit_serial_number *usn;
	int rv = -EIO;

	if (outlen != sizeof(*info))
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	if ((is = iscsi_create_context(ISCSIPROBE_INITIATOR)) == NULL) {
		snprintf(err, errlen, "cannot create an iSCSI context");
		return -ENOMEM;
	}
	iscsi_set_session_type(is, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(is, ISCSI_HEADER_DIGEST_NONE_CRC32C);
	iscsi_set_timeout(is, a->timeout_s);
	if (iscsi_set_targetname(is, a->iqn) != 0 ||
	    iscsi_full_connect_sync(is, a->portal, a->lun) != 0) {
		snprintf(err, errlen, "login to %s at %s failed: %s", a->iqn,
		    a->portal, iscsi_get_error(is));
		rv = -ECONNREFUSED;
		goto done;
	}
	if ((t = iscsi_readcapacity16_sync(is, a->lun)) == NULL ||
	    t->status != SCSI_STATUS_GOOD ||
	    (rc16 = scsi_datain_unmarshall(t)) == NULL) {
		snprintf(err, errlen, "LUN %d of %s does not answer READ "
		    "CAPACITY: %s", a->lun, a->iqn, iscsi_get_error(is));
		if (t != NULL)
			scsi_free_scsi_task(t);
		rv = -ENXIO;
		goto done;
	}
	info->bytes = (rc16->returned_lba + 1) * (uint64_t)rc16->block_length;
	scsi_free_scsi_task(t);
	if ((t = iscsi_inquiry_sync(is, a->lun, 1,
	    SCSI_INQUIRY_PAGECODE_UNIT_SERIAL_NUMBER, 255)) != NULL &&
	    t->status == SCSI_STATUS_GOOD &&
	    (usn = scsi_datain_unmarshall(t)) != NULL && usn->usn != NULL) {
		/* tgt pads its serials with leading spaces */
		const char *sn = usn->usn;

		while (*sn == ' ')
			sn++;
		snprintf(info->serial, sizeof(info->serial), "%s", sn);
	}
	if (t != NULL)
		scsi_free_scsi_task(t);
	iscsi_logout_sync(is);
	rv = 0;
 done:
	iscsi_destroy_context(is);
	return rv;
}

int
iscsiprobe_lun(const char *portal, const char *iqn, int lun, int timeout_ms,
    struct iscsiprobe_info *info, char *err, size_t errlen)
{
	struct iscsiprobe_arg a;
	char e[STORAGE_ERR_MAX] = "";
	int rv;

	if (portal == NULL || *portal == '\0' || iqn == NULL || *iqn == '\0' ||
	    lun < 0) {
		snprintf(err, errlen, "no iSCSI portal, target or LUN");
		return -EINVAL;
	}
	a.portal = portal;
	a.iqn = iqn;
	a.lun = lun;
	a.timeout_s = timeout_ms / 1000 > 0 ? timeout_ms / 1000 : 1;
	rv = timed_call(timeout_ms, iscsiprobe_op, &a, info, sizeof(*info), e,
	    sizeof(e));
	if (rv == -ETIMEDOUT)
		snprintf(err, errlen, "iSCSI portal %s (target %s): no answer "
		    "(%s)", portal, iqn, e);
	else if (rv != 0)
		snprintf(err, errlen, "%s", e);
	return rv;
}
