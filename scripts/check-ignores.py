#!/usr/bin/env python3
"""Fails when a test is ignored without saying why.

An ignored test is a test that cannot fail; `#[ignore = "why, and what would bring it back"]`
at least tells the next reader. This finds every `ignore` in an attribute of a Rust file under
src/, tests/, crates/ and fuzz/ (`#[ignore]`, `#[ignore = ""]`, `#[cfg_attr(..., ignore)]`),
outside comments and string literals, that has no non-empty reason; prints each as file:line
and exits 1 if there is any. Run by scripts/test.sh. It first checks its matcher on examples
(`--self-test` does only that).
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("src", "tests", "crates", "fuzz")
IGNORE = re.compile(r'(?<![\w:])ignore\b\s*(?:=\s*"(?P<reason>(?:\\.|[^"\\])*)")?')
RAW_STRING = re.compile(r'b?r(#*)"')
CHAR = re.compile(r"'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'])'")


def skip_literal(code: str, i: int) -> int:
    """The offset after the comment, string, raw string or char literal starting at `i`, or
    `i` when none starts there."""
    n = len(code)
    if code.startswith("//", i):
        end = code.find("\n", i)
        return n if end < 0 else end
    if code.startswith("/*", i):
        depth, j = 1, i + 2
        while j < n and depth:
            if code.startswith("/*", j):
                depth, j = depth + 1, j + 2
            elif code.startswith("*/", j):
                depth, j = depth - 1, j + 2
            else:
                j += 1
        return j
    word_before = i > 0 and (code[i - 1].isalnum() or code[i - 1] == "_")
    raw = RAW_STRING.match(code, i)
    if raw and not word_before:
        close = '"' + raw.group(1)
        end = code.find(close, raw.end())
        return n if end < 0 else end + len(close)
    if code[i] == '"' or (code.startswith('b"', i) and not word_before):
        j = i + (2 if code[i] == "b" else 1)
        while j < n and code[j] != '"':
            j += 2 if code[j] == "\\" else 1
        return j + 1
    if code[i] == "'":
        # A char literal ('x', '\n', '\u{..}', '"'), not a lifetime ('a).
        char = CHAR.match(code, i)
        if char:
            return char.end()
    return i


def attributes(code: str):
    """(line, body) of every `#[...]` and `#![...]` outside comments and literals."""
    i, n = 0, len(code)
    while i < n:
        after = skip_literal(code, i)
        if after != i:
            i = after
            continue
        m = re.compile(r"#!?\[").match(code, i)
        if not m:
            i += 1
            continue
        j, depth = m.end(), 1
        while j < n and depth:
            after = skip_literal(code, j)
            if after != j:
                j = after
                continue
            depth += {"[": 1, "]": -1}.get(code[j], 0)
            j += 1
        yield code.count("\n", 0, i) + 1, code[m.end() : j - 1]
        i = j


def unexplained(text: str) -> list[int]:
    """Line numbers (from 1) of ignore attributes without a non-empty reason."""
    lines = []
    for line, body in attributes(text):
        if not re.match(r"\s*(ignore\b|cfg_attr\b)", body):
            continue
        # Inside cfg_attr the reason is written `ignore = "..."` as well.
        if any(not (m.group("reason") or "").strip() for m in IGNORE.finditer(body)):
            lines.append(line)
    return lines


def self_test() -> None:
    bad = [
        "#[ignore]\nfn a() {}",
        '#[ignore = ""]\nfn a() {}',
        '#[ignore = "  "]\nfn a() {}',
        '#[cfg_attr(not(feature = "x"), ignore)]\nfn a() {}',
        "#[test]\n  #[ ignore ]\nfn a() {}",
        "let q = '\"';\n#[ignore]\nfn a<'a>(x: &'a str) {}",
    ]
    good = [
        '#[ignore = "needs a GPU"]\nfn a() {}',
        '#[cfg_attr(miri, ignore = "no sockets under miri")]\nfn a() {}',
        "// #[ignore]\nfn a() {}",
        "/// Use #[ignore] sparingly.\nfn a() {}",
        'let s = "#[ignore]";',
        "#[serde(ignore_unknown)]\nstruct A;",
        "/* #[ignore] */\nfn a() {}",
        'let s = r#"#[ignore]"#;',
        "let q = '\"'; let s = \"#[ignore]\";",
    ]
    for text in bad:
        assert unexplained(text), f"not caught: {text!r}"
    for text in good:
        assert not unexplained(text), f"caught wrongly: {text!r}"
    print(f"check-ignores self-test: {len(bad)} caught, {len(good)} left alone")


def main() -> int:
    # The matcher checks itself first, so that it cannot quietly stop finding anything.
    self_test()
    if sys.argv[1:] == ["--self-test"]:
        return 0
    problems = []
    files = 0
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.rs")):
            if "target" in path.relative_to(ROOT).parts:
                continue
            files += 1
            for line in unexplained(path.read_text(encoding="utf-8", errors="replace")):
                problems.append(f"{path.relative_to(ROOT)}:{line}")
    if problems:
        print('#[ignore] without a reason (write #[ignore = "why"]):', file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"check-ignores: {files} Rust files, every #[ignore] gives its reason")
    return 0


if __name__ == "__main__":
    sys.exit(main())
