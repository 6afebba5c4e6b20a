#!/usr/bin/env python3
"""Writes tests/data/catalog/<section>.vectors.jsonl: Python's identity for calls of catalog types.

Each tests/data/catalog/<section>.cases.json holds a list of calls written from PyTorch's
documentation: {"name": "Conv2d", "args": [3, 8, 3], "kwargs": {"padding": 1}, "recorded": {...}}.
"args" (positional) and "kwargs" are what the call passes; "recorded" is what Python's torchsystem
records for it: the positional arguments under PyTorch's parameter names, then the keyword ones in
call order (omit it when the call has no positional arguments: it is then "kwargs" itself). Python
computes the identity text and hash the C++ catalog must reproduce:

    dumps = json.dumps(recorded)          hash = md5((name + dumps).encode()).hexdigest()

Standard library only, so the output is the same on every run:

    python3 scripts/make_catalog_vectors.py            # rewrites every <section>.vectors.jsonl
    python3 scripts/make_catalog_vectors.py --check    # exits 1 if a committed file differs
"""

import argparse
import hashlib
import json
import pathlib
import sys

DATA = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "catalog"


def vector(case):
    args = case.get("args", [])
    kwargs = case.get("kwargs", {})
    if args and "recorded" not in case:
        raise ValueError(f"{case['name']}: a call with positional arguments needs 'recorded'")
    recorded = case.get("recorded", kwargs)
    for key, value in kwargs.items():
        if recorded.get(key) != value:
            raise ValueError(f"{case['name']}: keyword {key!r} is not recorded as passed")
    if list(recorded)[len(args):] != list(kwargs):
        raise ValueError(f"{case['name']}: keywords must be recorded after the positional ones, in call order")
    dumps = json.dumps(recorded)
    digest = hashlib.md5((case["name"] + dumps).encode("utf-8")).hexdigest()
    return {"name": case["name"], "args": args, "kwargs": kwargs, "recorded": recorded, "dumps": dumps,
            "hash": digest}


def render(cases_file):
    cases = json.loads(cases_file.read_text(encoding="utf-8"))
    return "".join(json.dumps(vector(case)) + "\n" for case in cases)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    options = parser.parse_args()
    stale = []
    for cases_file in sorted(DATA.glob("*.cases.json")):
        output = cases_file.with_name(cases_file.name.replace(".cases.json", ".vectors.jsonl"))
        text = render(cases_file)
        if options.check:
            if not output.exists() or output.read_text(encoding="utf-8") != text:
                stale.append(output.name)
        else:
            output.write_text(text, encoding="utf-8")
    if stale:
        print("out of date: " + ", ".join(stale) + " (run scripts/make_catalog_vectors.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
