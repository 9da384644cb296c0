#!/usr/bin/env python3
"""Reads the import graph of src/backend and fails when the layout ARCHITECTURE.md describes
is broken:

- a loop between the backend's top-level units (the path files, the parts behind them, the
  mount in backend.rs) or between the files of one part;
- a path file (`path_*.rs`) importing another path file;
- a part reaching into another part's children instead of its facade
  (`crate::backend::record::store::...`);
- an arrow from a part up to the mount or to a path file.

Test code (tests.rs, tests/ folders, testing.rs, inline `#[cfg(test)] mod tests`) is left out:
tests may reach anywhere. Run with no arguments from anywhere in the repository; prints the
graph with --print.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKEND = ROOT / "src" / "backend"
PATH_PREFIX = "path_"


def is_test(path: Path) -> bool:
    rel = path.relative_to(BACKEND).parts
    return path.name in ("tests.rs", "testing.rs") or "tests" in rel[:-1]


def code_of(path: Path) -> str:
    text = path.read_text()
    # Inline test modules sit at the end of a file.
    cut = re.search(r"^#\[cfg\(test\)\]\s*\nmod tests \{", text, re.M)
    if cut:
        text = text[: cut.start()]
    # Comments and strings name modules without importing them.
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return text


def units():
    """Top-level units: name -> (facade file, child files)."""
    out = {}
    for f in sorted(BACKEND.glob("*.rs")):
        if is_test(f):
            continue
        folder = BACKEND / f.stem
        children = []
        if folder.is_dir():
            children = [c for c in sorted(folder.rglob("*.rs")) if not is_test(c)]
        out[f.stem] = (f, children)
    return out


def expand_use_groups(text: str) -> list[str]:
    """`super::{a, b::c}` -> `super::a`, `super::b::c` (one level of braces is enough here)."""
    paths = []
    for m in re.finditer(r"\b((?:crate::backend|super)(?:::\w+)*)::\{([^{}]*)\}", text):
        for part in m.group(2).split(","):
            part = part.strip().split(" as ")[0].strip()
            if part and part != "self":
                paths.append(f"{m.group(1)}::{part}")
            elif part == "self":
                paths.append(m.group(1))
    for m in re.finditer(r"\b((?:crate::backend|super)(?:::\w+)+)", text):
        paths.append(m.group(1))
    return paths


def main() -> int:
    all_units = units()
    names = set(all_units)
    errors = []
    unit_edges = {n: set() for n in names}
    file_edges = {}

    for unit, (facade, children) in all_units.items():
        for f in [facade] + children:
            rel = f.relative_to(BACKEND)
            depth = len(rel.parts) - 1  # 0: top level (path file, facade); 1+: inside a part
            siblings = {c.stem for c in f.parent.glob("*.rs")} if depth else set()
            for p in expand_use_groups(code_of(f)):
                segs = p.split("::")
                if segs[0] == "crate":
                    target = segs[2] if len(segs) > 2 else None
                    deeper = segs[3] if len(segs) > 3 else None
                    via = "crate::backend"
                else:
                    ups = 0
                    while ups < len(segs) and segs[ups] == "super":
                        ups += 1
                    rest = segs[ups:]
                    if not rest:
                        continue
                    if depth == 0:
                        # A top-level file's super is the backend module.
                        if ups != 1:
                            continue
                        target, deeper, via = rest[0], (rest[1] if len(rest) > 1 else None), "super"
                    elif ups == 1 and depth == 1 and f.stem != unit:
                        # A child's super is its part: a sibling file or the facade's re-export.
                        if rest[0] in siblings:
                            file_edges.setdefault(str(rel), set()).add(
                                str(rel.parent / (rest[0] + ".rs"))
                            )
                        continue
                    elif ups == depth + 1 or (ups == depth and f.stem == unit):
                        target, deeper, via = rest[0], (rest[1] if len(rest) > 1 else None), "super"
                    else:
                        continue
                if target is None or target not in names or target == unit:
                    continue
                unit_edges[unit].add(target)
                if deeper and all_units[target][1] and deeper in {
                    c.stem for c in all_units[target][1]
                }:
                    errors.append(f"{rel}: reaches into {target}/{deeper} past the facade {target}.rs ({via})")

    # The rules.
    for unit, targets in unit_edges.items():
        for t in targets:
            if unit.startswith(PATH_PREFIX) and t.startswith(PATH_PREFIX):
                errors.append(f"path file {unit}.rs imports path file {t}.rs")
            if not unit.startswith(PATH_PREFIX) and t.startswith(PATH_PREFIX):
                errors.append(f"part {unit} imports path file {t}.rs (arrows point down)")
    for cycle in cycles(unit_edges):
        errors.append("import loop between units: " + " -> ".join(cycle))
    for cycle in cycles(file_edges):
        errors.append("import loop between files: " + " -> ".join(cycle))

    if "--print" in sys.argv:
        for unit in sorted(unit_edges):
            print(f"{unit}: {', '.join(sorted(unit_edges[unit])) or '-'}")
    if errors:
        for e in sorted(set(errors)):
            print(f"check-layout: {e}", file=sys.stderr)
        return 1
    print(f"check-layout: {len(names)} units of src/backend, no loop, path files import no path file")
    return 0


def cycles(edges: dict) -> list[list[str]]:
    """One representative loop per strongly connected component of more than one node."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp) + [sorted(comp)[0]])

    for v in list(edges):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    sys.exit(main())
