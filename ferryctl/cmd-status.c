/* cmd-status.c: ferryctl status [--json]: which coordinator answers, its
 * role in an HA group (leader, announcing, standby), who leads, the
 * leader's epoch, the store and how many hosts it has sessions with. */
#include <getopt.h>
#include <stdio.h>

#include <json-c/json.h>

#include "ferryctl.h"

static int
cmd_status_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	Ferry__Empty req = FERRY__EMPTY__INIT;
	Ferry__StatusReply *r;
	struct json_object *o;
	int ch, json = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (ch != 'j')
			return out_usage(&cmd_status);
		json = 1;
		out_set_json(1);
	}
	if (optind != argc)
		return out_usage(&cmd_status);
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	if (ctl_call(c, MSG_CTL_STATUS, &req.base,
	    &ferry__status_reply__descriptor, (ProtobufCMessage **)&r) < 0)
		return CTL_EXIT_FAIL;
	if (json) {
		o = json_object_new_object();
		json_object_object_add(o, "coordinator",
		    json_object_new_string(r->coordinator));
		json_object_object_add(o, "role",
		    json_object_new_string(r->role));
		json_object_object_add(o, "leader", r->leader && r->leader[0] ?
		    json_object_new_string(r->leader) : NULL);
		json_object_object_add(o, "epoch",
		    json_object_new_int64((int64_t)r->epoch));
		json_object_object_add(o, "store",
		    json_object_new_string(r->store));
		json_object_object_add(o, "hosts_up",
		    json_object_new_int64(r->hosts_up));
		json_object_object_add(o, "hosts",
		    json_object_new_int64(r->hosts));
		json_object_object_add(o, "relay", r->relay ?
		    json_object_new_string(r->relay) : NULL);
		out_json(o);
	} else {
		printf("coordinator %s: %s; leader %s, epoch %llu; store %s; "
		    "%u of %u hosts up\n", out_cell(r->coordinator),
		    out_cell(r->role), r->leader && r->leader[0] ?
		    out_cell(r->leader) : "unknown",
		    (unsigned long long)r->epoch, out_cell(r->store),
		    r->hosts_up, r->hosts);
		/* A standby: can what acts be relayed to the leader? */
		if (r->relay != NULL)
			printf("relay to the leader: %s\n", out_cell(r->relay));
	}
	ferry__status_reply__free_unpacked(r, NULL);
	return CTL_EXIT_OK;
}

const struct ctl_cmd cmd_status = {
	"status", "[--json]",
	"this coordinator's HA role, the leader and its epoch",
	cmd_status_exec,
};
