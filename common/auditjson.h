/* auditjson.h: an audit entry's JSON (ferryctl audit --json, GET /v1/audit). */
#ifndef FERRY_AUDITJSON_H
#define FERRY_AUDITJSON_H

#include "ferry.pb-c.h"

struct json_object;

/* auditjson.c */
struct json_object *auditjson_entry(const Ferry__AuditEntry *);

#endif
