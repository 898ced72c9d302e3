"""Citations of the design document: every one points at a section that exists.

Code and documents cite the project's design as ``docs/design.md`` followed by a
section sign and a section number (``§6``), a subsection (``§3.2``) or a list of them
(``§5.2, §6``). This test reads every file of the repository (tracked, or untracked
and not ignored by git: ``.git``, ``.venv``, build outputs and ``out/`` are left
alone) and fails on

- a citation of a section that ``docs/design.md`` does not have;
- a citation in the old form ("DESIGN", a space and a section sign), which
  ``docs/design.md`` citations replace;
- a Markdown link into ``design.md#...`` whose anchor no heading of it produces.

It also checks that the sections are numbered 1, 2, 3, ... and each section's
subsections n.1, n.2, ... in order, so a number means one place.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DESIGN = ROOT / "docs" / "design.md"

SECTION = "\N{SECTION SIGN}"
#: The old citation form (spelled in two parts so that this file does not match itself).
OLD_FORM = "DESIGN " + SECTION
_NUMBER = r"\d+(?:\.\d+)*"
_REF = rf"{SECTION}{_NUMBER}(?:\s*[–-]\s*{_NUMBER})?"
#: "docs/design.md §6", "docs/design.md §5.2, §6", "docs/design.md §3.2 and §7", "§4–5".
CITATION = re.compile(rf"docs/design\.md\s*({_REF}(?:(?:\s*,\s*|\s+and\s+){_REF})*)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
NUMBERED = re.compile(rf"^({_NUMBER})\.?\s")
LINK = re.compile(r"\]\((?:\./|\.\./)?(?:docs/)?design\.md#([^)\s]+)\)")
#: Folders never read when git cannot list the files (what .gitignore leaves out).
IGNORED_DIRS = {".git", ".venv", "build", "out", "runs", "artifacts", "sim_build", "obj_dir",
                "__pycache__", ".pytest_cache", ".hypothesis"}


def repo_files(root: Path = ROOT, use_git: bool = True) -> list[Path]:
    """Every file of the repository under ``root``: git's tracked and untracked-but-not-
    ignored files, or, without git (or ``use_git`` false), a walk that skips
    :data:`IGNORED_DIRS`."""
    try:
        if not use_git:
            raise OSError("git not wanted")
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=root, capture_output=True, check=True).stdout
        names = [name for name in out.decode().split("\0") if name]
        return sorted(root / name for name in names
                      if (root / name).is_file() and not {".git", ".venv"} & set(Path(name).parts))
    except (OSError, subprocess.CalledProcessError):
        pass
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in IGNORED_DIRS and not d.endswith(".egg-info")]
        found.extend(Path(folder) / name for name in names)
    return sorted(found)


def _headings(text: str) -> list[tuple[int, str]]:
    """(level, title) of every Markdown heading outside fenced code blocks."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            out.append((len(match.group(1)), match.group(2)))
    return out


def sections(text: str) -> dict[str, str]:
    """Section number ("6", "3.2") -> heading title, for every numbered heading."""
    out = {}
    for _, title in _headings(text):
        match = NUMBERED.match(title)
        if match:
            out[match.group(1)] = title
    return out


def slug(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    title = re.sub(r"[^\w\- ]", "", title.lower())
    return title.replace(" ", "-")


def anchors(text: str) -> set[str]:
    return {slug(title) for _, title in _headings(text)}


def problems(root: Path = ROOT, use_git: bool = True) -> list[str]:
    """One message per old-form citation, citation of a missing section or broken anchor."""
    design = root / "docs" / "design.md"
    text = design.read_text(encoding="utf-8") if design.is_file() else ""
    known, known_anchors = sections(text), anchors(text)
    out = []
    for path in repo_files(root, use_git):
        try:
            content = path.read_bytes().decode("utf-8", errors="ignore")
        except OSError:
            continue
        if OLD_FORM not in content and "design.md" not in content:
            continue
        name = path.relative_to(root).as_posix()
        for number, line in enumerate(content.splitlines(), 1):
            if OLD_FORM in line:
                out.append(f"{name}:{number}: uses the old citation form ({OLD_FORM}...); "
                           f"cite docs/design.md {SECTION}n instead")
            for match in CITATION.finditer(line):
                for cited in re.findall(_NUMBER, match.group(1)):
                    if cited not in known:
                        out.append(f"{name}:{number}: cites docs/design.md {SECTION}{cited}, which "
                                   f"does not exist (sections: {', '.join(known) or 'none'})")
            if path.suffix == ".md":
                for anchor in LINK.findall(line):
                    if anchor not in known_anchors:
                        out.append(f"{name}:{number}: links to design.md#{anchor}, which no heading "
                                   f"of docs/design.md produces")
    return out


def numbering_problems(text: str) -> list[str]:
    """Sections must run 1, 2, 3, ... and each one's subsections n.1, n.2, ... in order."""
    out, seen, following = [], set(), {}
    for number in sections(text):
        parts = tuple(int(part) for part in number.split("."))
        parent = parts[:-1]
        if parent and parent not in seen:
            out.append(f"{SECTION}{number} comes before any section {_dotted(parent)}")
        want = parent + (following.get(parent, 1),)
        if parts != want:
            out.append(f"{SECTION}{number} is out of order (expected {SECTION}{_dotted(want)})")
        seen.add(parts)
        following[parent] = parts[-1] + 1
    return out


def _dotted(parts: tuple) -> str:
    return ".".join(str(part) for part in parts)


def bare_reference_problems(text: str) -> list[str]:
    """The design document's own references (``see §3.2``) must point at its sections too
    (references into the paper, ``the paper's §3``, are not its own)."""
    known, out = sections(text), []
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if fenced:
            continue
        for match in re.finditer(_REF, line):
            if re.search(r"paper(?:'s)?\s*$", line[:match.start()]):
                continue
            for cited in re.findall(_NUMBER, match.group(0)):
                if cited not in known:
                    out.append(f"docs/design.md:{number}: refers to {SECTION}{cited}, which does not exist")
    return out


def test_design_document_exists_with_numbered_sections():
    text = DESIGN.read_text(encoding="utf-8")
    found = sections(text)
    assert len([n for n in found if "." not in n]) >= 5, found
    assert not numbering_problems(text), "\n".join(numbering_problems(text))
    assert not bare_reference_problems(text), "\n".join(bare_reference_problems(text))


def test_every_design_citation_points_at_a_section():
    found = problems()
    assert not found, "design citations to fix:\n" + "\n".join(found)


def test_readme_links_the_design_document():
    assert "](docs/design.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_the_check_names_each_bad_citation(tmp_path):
    cite = f"docs/design.md {SECTION}"
    root = _tree(tmp_path, {
        "docs/design.md": "# D\n\n## 1. One\n\n### 1.1 Sub part\n\n```\n## 9. fenced, not a section\n```\n\n"
                          "## 2. Two\n",
        "a.py": f'"""Fine: {cite}1, {cite}1.1 and {cite}2; {cite}1.1, {SECTION}2 and {SECTION}1–2."""\n',
        "b.py": f"# {cite}3 is missing, so is {cite}1.2; {cite}2, {SECTION}9 too\n",
        "c.md": f"See {OLD_FORM}4.\n[ok](design.md#11-sub-part) [bad](docs/design.md#3-three)\n",
        "d.txt": f"{cite}9 in a text file\n",
    })
    assert sorted(problems(root, use_git=False)) == sorted([
        f"b.py:1: cites {cite}3, which does not exist (sections: 1, 1.1, 2)",
        f"b.py:1: cites {cite}1.2, which does not exist (sections: 1, 1.1, 2)",
        f"b.py:1: cites {cite}9, which does not exist (sections: 1, 1.1, 2)",
        f"c.md:1: uses the old citation form ({OLD_FORM}...); cite docs/design.md {SECTION}n instead",
        "c.md:2: links to design.md#3-three, which no heading of docs/design.md produces",
        f"d.txt:1: cites {cite}9, which does not exist (sections: 1, 1.1, 2)",
    ])


def test_the_numbering_check():
    assert numbering_problems("## 1. A\n### 1.1 B\n### 1.2 C\n## 2. D\n### 2.1 E\n") == []
    assert numbering_problems("## 1. A\n## 3. B\n") == [
        f"{SECTION}3 is out of order (expected {SECTION}2)"]
    assert numbering_problems("## 1. A\n### 1.2 B\n") == [
        f"{SECTION}1.2 is out of order (expected {SECTION}1.1)"]
    assert numbering_problems("## 1. A\n### 2.1 B\n") == [
        f"{SECTION}2.1 comes before any section 2"]


def test_the_design_documents_own_references_are_checked():
    text = f"## 1. A\n\nSee {SECTION}1 and {SECTION}2.3; the paper's {SECTION}3 is not ours.\n"
    assert bare_reference_problems(text) == [
        f"docs/design.md:3: refers to {SECTION}2.3, which does not exist"]
