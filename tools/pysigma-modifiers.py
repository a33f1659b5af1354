#!/usr/bin/env python3
"""pySigma's reading of Sigma modifier chains with `|all`, for modelward's cross-check.

Usage: pysigma-modifiers.py CHAIN...

For each modifier chain (`windash|contains|all`, ...), converts a rule whose field `cmd`
has the chain and the values `-enc` and `-nop` with pySigma's own test backend
(`sigma.backends.test.TextQueryTestBackend`), and prints one JSON line:

    {"chain": CHAIN, "groups": [[value, ...], ...]}

`groups` is the query read back as an AND of ORs: every group must match, any value of a
group does (each value a substring of the field: the chains given must end in `contains`).
crates/sigma/tests/sigma.rs runs this when a Python with pySigma is at
`target/pysigma-venv` (`python3 -m venv target/pysigma-venv && target/pysigma-venv/bin/pip
install pysigma`) and checks that modelward matches exactly the documents that query does.
"""

import json
import re
import sys

from sigma.backends.test import TextQueryTestBackend
from sigma.collection import SigmaCollection

RULE = """title: t
logsource: {{product: test}}
detection:
  sel:
    cmd|{chain}:
      - '-enc'
      - '-nop'
  condition: sel
"""

CONTAINS = re.compile(r'cmd contains "((?:[^"\\]|\\.)*)"')
CONTAINS_ALL = re.compile(r'^cmd contains-all \((.*)\)$')


def groups(query: str) -> list[list[str]]:
    """The AND-of-ORs a query of the test backend stands for."""
    every = CONTAINS_ALL.match(query)
    if every:
        return [[v.strip('"').strip("*")] for v in re.findall(r'"[^"]*"', every.group(1))]
    out = []
    for part in re.split(r"\) and \(", query.strip("()")):
        values = CONTAINS.findall(part)
        if not values:
            raise SystemExit(f"cannot read {query!r}")
        out.append(values)
    return out


def main() -> None:
    backend = TextQueryTestBackend()
    for chain in sys.argv[1:]:
        query = backend.convert(SigmaCollection.from_yaml(RULE.format(chain=chain)))[0]
        print(json.dumps({"chain": chain, "groups": groups(query)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
