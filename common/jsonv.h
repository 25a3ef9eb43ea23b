/* jsonv.h: Ferry's one JSON vocabulary. Every object ferryctl --json prints
 * (and any other front end that speaks JSON, such as an HTTPS API) is
 * rendered here from the protobuf message the coordinator sends, so the
 * shapes are written once. docs/json.md describes each object and
 * docs/schema/ holds its JSON Schema.
 *
 * Ownership: every jsonv_* function that returns a struct json_object *
 * returns a new object with one reference, which the caller owns (hand it
 * to json_object_put, or add it to a container, which takes it). NULL means
 * out of memory, or, for the functions that parse JSON text (jsonv_plan,
 * jsonv_rebalance, jsonv_snapshot), text that does not parse. The message
 * arguments are only read and may be freed as soon as the call returns:
 * strings are copied. Strings are taken as sent (json-c escapes them);
 * escaping control characters for a terminal is the caller's business. */
#ifndef FERRY_JSONV_H
#define FERRY_JSONV_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "msg.h"

/* jsonv.c: scalars (NULL, i.e. JSON null, when absent) */
struct json_object *jsonv_str(const char *);
struct json_object *jsonv_int(int has, uint64_t);
struct json_object *jsonv_num1(int has, double);	/* one decimal */
struct json_object *jsonv_sig6(int has, double);	/* 6 significant digits */

/* jsonv.c: objects */
struct json_object *jsonv_host(const Ferry__HostEntry *);
struct json_object *jsonv_hosts(const Ferry__HostsReply *);	/* array */
struct json_object *jsonv_vm(const Ferry__VmEntry *);
struct json_object *jsonv_vms(const Ferry__VmsReply *);	/* array */
struct json_object *jsonv_job(const Ferry__JobInfo *);
struct json_object *jsonv_jobs(const Ferry__JobsReply *);	/* array */
struct json_object *jsonv_job_history(const Ferry__JobHistoryEntry *);
struct json_object *jsonv_job_detail(const Ferry__JobReply *);
/* A job's event stream (migrate, watch). jsonv_job_started: the "started"
 * object from the job's reply. jsonv_job_event renders e as event (NULL:
 * e->event; "info" turns a progress event's policy message into an info
 * object); known (may be NULL) supplies the job id, vm, state, source and
 * destination that e leaves out, as earlier messages told them. */
struct json_object *jsonv_job_started(const Ferry__JobInfo *);
struct json_object *jsonv_job_event(const char *event,
	    const Ferry__JobEvent *e, const Ferry__JobInfo *known);
struct json_object *jsonv_drain_item(const Ferry__DrainItem *);
struct json_object *jsonv_drain(const Ferry__DrainInfo *);
/* A drain's (or rebalance's) event stream: event "plan" (the drain),
 * "item" (it, one VM that changed), "done" (the counts). */
struct json_object *jsonv_drain_event(const char *event,
	    const Ferry__DrainInfo *d, const Ferry__DrainItem *it);
/* A check report; jsonv_check_ok: 1 when nothing blocks (one blocking
 * check blocks, whatever the summary says). */
int		 jsonv_check_ok(const Ferry__CheckReply *);
struct json_object *jsonv_check(const Ferry__CheckReply *);
struct json_object *jsonv_place(const Ferry__PlaceReply *);
struct json_object *jsonv_cpu_baseline(const Ferry__CpuBaselineInfo *);
/* The <model> of a CPU definition into buf (returns buf, or "-"). */
const char	*jsonv_cpu_model(const char *xml, char *buf, size_t len);
/* The features libvirt names in an incompatibility ("... required
 * features: avx2, bmi2") as an array (NULL: none named), and ", "-joined
 * into buf. */
struct json_object *jsonv_cpu_features(const char *reason, char *buf,
	    size_t len);
/* A plan (planner/'s balance_plan_json text); the rebalance reply (its
 * plan, and with --apply the run's id); the snapshot (its text). */
struct json_object *jsonv_plan(const char *text);
struct json_object *jsonv_rebalance(const Ferry__RebalanceReply *);
struct json_object *jsonv_snapshot(const Ferry__SnapshotReply *);
/* The audit trail: one entry (args is the request's fields as an object,
 * job_state that job's state now), and the reply's entries (array). */
struct json_object *jsonv_audit_entry(const Ferry__AuditEntry *);
struct json_object *jsonv_audit(const Ferry__AuditReply *);
/* {"error":{"code":CODE,"message":MESSAGE}} */
struct json_object *jsonv_error(const char *code, const char *message);

#endif
