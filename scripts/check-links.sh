#!/usr/bin/env bash
# Checks the links of the documentation: README.md, ARCHITECTURE.md and docs/*.md. Fails (exit 1)
# when a link points outside the repository (a URL, an absolute path, a path that leaves the
# repository), at a file or directory that does not exist, or at an anchor (#heading) that the
# target page does not have. Code blocks and inline code are not links and are not checked; a
# bare http(s):// or www. address in prose is (it renders as a link). A repository path named in
# inline code (`src/...`, `tests/...`) must exist.
#
#   scripts/check-links.sh           # the repository this script is in
#   scripts/check-links.sh ROOT      # another checkout
#
# Needs only bash and python3 (standard library).
set -euo pipefail
root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
[[ -d "$root" ]] || { echo "check-links: no such directory: $root" >&2; exit 2; }

exec python3 - "$root" <<'PY'
import os
import re
import sys
import urllib.parse

root = os.path.realpath(sys.argv[1])

pages = [p for p in ("README.md", "ARCHITECTURE.md") if os.path.isfile(os.path.join(root, p))]
docs = os.path.join(root, "docs")
if os.path.isdir(docs):
    pages += sorted(
        os.path.join("docs", f) for f in os.listdir(docs) if f.endswith(".md")
    )

FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
COMMENT = re.compile(r"<!--.*?-->", re.S)
INLINE = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
)
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
AUTOLINK = re.compile(r"<((?:[a-zA-Z][a-zA-Z0-9+.-]*:|www\.)[^>\s]*|[^>\s@]+@[^>\s@]+\.[^>\s]+)>")
HTML_ATTR = re.compile(r"\b(?:href|src)\s*=\s*[\"']([^\"']*)[\"']", re.I)
BARE = re.compile(r"(?:\b[a-zA-Z][a-zA-Z0-9+.-]*://|\bwww\.)[^\s)>\]]+")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
LINE_ANCHOR = re.compile(r"^L\d+(-L\d+)?$")


def prose_lines(text):
    """(line number, text) of lines outside fenced code blocks, HTML comments blanked."""
    text = COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    fence = None
    for n, line in enumerate(text.split("\n"), 1):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)[0]
            continue
        if fence is not None:
            if m and m.group(1)[0] == fence:
                fence = None
            continue
        yield n, line


def slug(heading):
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    text = text.replace("`", "")
    text = re.sub(r"<[^>]+>", "", text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


anchor_cache = {}


def anchors(path):
    if path not in anchor_cache:
        found, seen = set(), {}
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for _, line in prose_lines(text):
            m = re.match(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$", line)
            if m:
                base = slug(m.group(2))
                count = seen.get(base, 0)
                seen[base] = count + 1
                found.add(base if count == 0 else f"{base}-{count}")
            for m in re.finditer(r"<a\s+[^>]*(?:name|id)\s*=\s*[\"']([^\"']+)[\"']", line):
                found.add(m.group(1))
        anchor_cache[path] = found
    return anchor_cache[path]


def check(page, target):
    """None when the link is fine, else why not."""
    target = target.strip()
    if target.startswith("<") and target.endswith(">"):
        target = target[1:-1].strip()
    if not target:
        return "empty link"
    if SCHEME.match(target) or target.startswith("//") or target.startswith("www."):
        return "points outside the repository"
    if target.startswith("/"):
        return "absolute path: use a path relative to the page"
    path, _, anchor = target.partition("#")
    if "?" in path:
        return "query string in a repository link"
    page_abs = os.path.join(root, page)
    if path:
        resolved = os.path.normpath(
            os.path.join(os.path.dirname(page_abs), urllib.parse.unquote(path))
        )
        if resolved != root and not resolved.startswith(root + os.sep):
            return "leaves the repository"
        if not os.path.exists(resolved):
            return "no such file or directory: " + os.path.relpath(resolved, root)
    else:
        resolved = page_abs
    if anchor:
        anchor = urllib.parse.unquote(anchor)
        if resolved.endswith(".md") and os.path.isfile(resolved):
            if anchor not in anchors(resolved):
                return f"no heading for #{anchor} in {os.path.relpath(resolved, root)}"
        elif not (os.path.isfile(resolved) and LINE_ANCHOR.match(anchor)):
            return f"anchor #{anchor} on a target that is not a Markdown page"
    return None


failures = 0
links = 0
for page in pages:
    with open(os.path.join(root, page), encoding="utf-8") as f:
        text = f.read()
    for n, line in prose_lines(text):
        prose = CODE_SPAN.sub("", line)
        found = []
        found += [m.group(1) for m in INLINE.finditer(prose)]
        rest = INLINE.sub("", prose)
        m = REFDEF.match(rest)
        if m:
            found.append(m.group(1))
            rest = rest[: m.start()] + rest[m.end():]
        found += [m.group(1) for m in AUTOLINK.finditer(rest)]
        rest = AUTOLINK.sub("", rest)
        found += [m.group(1) for m in HTML_ATTR.finditer(rest)]
        rest = HTML_ATTR.sub("", rest)
        found += [m.group(0).rstrip(".,;:!?'\"") for m in BARE.finditer(rest)]
        for target in found:
            links += 1
            why = check(page, target)
            if why:
                failures += 1
                print(f"{page}:{n}: {target}: {why}")

# Repository paths the pages name in inline code (`src/...`, `tests/...`) must exist too, so a
# moved file cannot leave the docs pointing at nothing.
REPO_PATH = re.compile(
    r"`((?:src|tests|scripts|deploy|policies|examples|fuzz|crates|proto|docs)/[A-Za-z0-9_./-]*)`"
)
for page in pages:
    with open(os.path.join(root, page), encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            for m in REPO_PATH.finditer(line):
                path = m.group(1)
                if not os.path.exists(os.path.join(root, path.rstrip("/"))):
                    failures += 1
                    print(f"{page}:{n}: {path}: names a path that does not exist")

if failures:
    print(f"check-links: {failures} bad link(s) among {links} in {len(pages)} page(s)")
    sys.exit(1)
print(f"check-links: {links} link(s) in {len(pages)} page(s), all inside the repository")
PY
