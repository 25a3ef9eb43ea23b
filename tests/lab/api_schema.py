#!/usr/bin/python3
"""api_schema.py OPENAPI SEEN: checks what the API really answered against
its OpenAPI document. SEEN has one line per answer: METHOD TEMPLATE STATUS
FILE (TEMPLATE as the document's path, e.g. /v1/jobs/{id}). Every answer's
status must be documented for its operation and its body must validate
against the documented schema (JSON Schema, python3-jsonschema); every
operation of the document must have been answered at least once. Prints
"ok - ..." / "not ok - ..." lines; exit 1 on a failure."""
import json
import sys

import jsonschema

doc = json.load(open(sys.argv[1]))
seen_ops = set()
failed = 0


def report(good, what):
    global failed
    print(("ok - " if good else "not ok - ") + what)
    if not good:
        failed = 1


for line in open(sys.argv[2]):
    method, tpl, status, path = line.split()
    op = doc["paths"].get(tpl, {}).get(method.lower())
    if op is None:
        report(False, f"openapi: {method} {tpl} is not in the document")
        continue
    seen_ops.add((tpl, method.lower()))
    resp = op["responses"].get(status)
    if resp is None:
        report(False, f"openapi: {method} {tpl} answered {status}, undocumented")
        continue
    content = resp.get("content", {})
    if "application/json" not in content:
        report(True, f"openapi: {method} {tpl} {status} (not JSON)")
        continue
    schema = dict(content["application/json"]["schema"])
    schema["components"] = doc["components"]
    try:
        body = json.load(open(path))
        jsonschema.Draft202012Validator(schema).validate(body)
        report(True, f"openapi: {method} {tpl} {status} matches its schema")
    except (ValueError, jsonschema.ValidationError) as e:
        msg = getattr(e, "message", str(e))
        report(False, f"openapi: {method} {tpl} {status}: {msg[:300]}")

for tpl, ops in doc["paths"].items():
    for m in ops:
        if (tpl, m) not in seen_ops:
            report(False, f"openapi: {m.upper()} {tpl} was never exercised")
sys.exit(failed)
