#!/usr/bin/env python3
"""Checks an Autobahn|Testsuite report: every case of groups 1-13 must be OK, NON-STRICT or
INFORMATIONAL (for both the behaviour and the closing behaviour). Usage: autobahn_check.py
REPORT_DIR AGENT"""
import collections
import json
import sys

report_dir, agent = sys.argv[1], sys.argv[2]
with open(f"{report_dir}/index.json") as f:
    cases = json.load(f)[agent]
good = {"OK", "NON-STRICT", "INFORMATIONAL"}
tally = collections.Counter()
bad = []
for case, result in sorted(cases.items()):
    group = int(case.split(".")[0])
    if group > 13:
        continue
    tally[result["behavior"]] += 1
    if result["behavior"] not in good or result.get("behaviorClose", "OK") not in good:
        bad.append((case, result["behavior"], result.get("behaviorClose")))
print(f"autobahn: {sum(tally.values())} cases of groups 1-13: {dict(tally)}")
for case, b, c in bad:
    print(f"  FAILED {case}: behavior={b} close={c}")
if not tally:
    sys.exit("autobahn: no cases in the report")
sys.exit(1 if bad else 0)
