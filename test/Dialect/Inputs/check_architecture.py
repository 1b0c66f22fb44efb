"""Checks docs/architecture.md against what ttt-opt registers.

Usage: ttt-opt --help | check_architecture.py SRC_ROOT

Every pass and named pipeline of the project (`ttt-*`, `convert-ttt-*`) listed
by `ttt-opt --help` must have one row in a table of docs/architecture.md,
`| \`name\` | file | lit test | ... |`, whose file exists and defines it
(pipelines: registers it), and whose lit test exists and runs it on a RUN
line. A row naming nothing ttt-opt registers is stale. Prints one line per
problem and exits 1 if there is any.
"""
import os
import re
import sys

root = sys.argv[1]
registered = set()
for line in sys.stdin:
    m = re.match(r"\s+--((?:ttt|convert-ttt)-[a-z0-9-]+)\s", line)
    if m:
        registered.add(m.group(1))
if len(registered) < 10:
    sys.exit("check_architecture: found only %d passes in ttt-opt --help" % len(registered))

doc = open(os.path.join(root, "docs", "architecture.md")).read()
rows = {}
problems = []
for m in re.finditer(r"^\| `([a-z0-9-]+)` \| ([^|]+?) \| ([^|]+?) \|", doc, re.M):
    name, src, test = m.group(1), m.group(2).strip(), m.group(3).strip()
    if name in rows:
        problems.append("%s: more than one row" % name)
    rows[name] = (src, test)


def read(rel):
    path = os.path.join(root, rel)
    return open(path).read() if os.path.isfile(path) else None


def defines(text, name):
    """Whether `text` defines the pass `name` (its GEN_PASS_DEF) or registers
    the pipeline `name` (the quoted name)."""
    camel = "".join(w.capitalize() for w in name.split("-")).upper()
    defs = re.findall(r"GEN_PASS_DEF_([A-Z0-9_]+)", text)
    return camel in [d.replace("_", "") for d in defs] or '"%s"' % name in text


for name in sorted(registered):
    if name not in rows:
        problems.append("%s: registered by ttt-opt but not in docs/architecture.md" % name)
        continue
    src, test = rows[name]
    text = read(src)
    if text is None:
        problems.append("%s: file %s does not exist" % (name, src))
    elif not defines(text, name):
        problems.append("%s: %s neither defines nor registers it" % (name, src))
    body = read(test)
    if body is None:
        problems.append("%s: lit test %s does not exist" % (name, test))
        continue
    runs = [l for l in body.splitlines() if "RUN:" in l]
    if not any(re.search(r"--?%s(?![a-z0-9-])" % re.escape(name), l) for l in runs):
        problems.append("%s: %s has no RUN line running it" % (name, test))
for name in sorted(set(rows) - registered):
    problems.append("%s: in docs/architecture.md but not registered by ttt-opt" % name)

for p in problems:
    print("architecture.md: " + p)
print("checked %d registered passes and pipelines, %d rows" % (len(registered), len(rows)))
sys.exit(1 if problems else 0)
