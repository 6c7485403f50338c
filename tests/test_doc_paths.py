"""Every repository path a help text or a document shows exists (issue 12, bug 8).

Walks the `langlock` argparse tree (description, epilog, usage, every argument's help and string default of
every subcommand) and reads README.md and docs/*.md. A path is a token that starts with one of the repository's
own roots (`configs/`, `src/`, `scripts/`, `benchmarks/`, `docs/`, `tests/`, `examples/`) and is not part of a
longer path: `runs/x/configs/a.yaml` is an output path and is not checked, nor is anything under `runs/`,
`out/` or another output folder. A shell variable in a path (`configs/tlpo/smollm2-135m-instruct_$L.yaml`)
becomes a wildcard that must match at least one file. Markdown links to local files (and their `#anchors`)
are checked relative to the document that holds them.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from langlock.cli.main import build_parser

REPO = Path(__file__).resolve().parents[1]
ROOTS = ("configs", "src", "scripts", "benchmarks", "docs", "tests", "examples")
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

# A root not preceded by a path character (so never the middle of `runs/.../configs/x`), then path
# characters, shell variables (`$L`, `${L}`) and wildcards, ending on a word character, `/`, `}` or `*`.
_PATH = re.compile(r"(?<![\w./$-])(?:\./)?((?:" + "|".join(ROOTS) + r")/[\w./$*{}-]*[\w/}*])")
_VAR = re.compile(r"\$\{?\w+\}?")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def extract_paths(text: str) -> list[str]:
    """The repository paths shown in `text`, in order (duplicates kept)."""
    return [m.group(1) for m in _PATH.finditer(text)]


def path_exists(path: str, root: Path = REPO) -> bool:
    """`path` exists under `root`; with shell variables or wildcards, at least one file matches."""
    pattern = _VAR.sub("*", path).rstrip("/")
    if "*" in pattern:
        return any(root.glob(pattern))
    return (root / pattern).exists()


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(md: Path) -> set[str]:
    out, fenced = set(), False
    for line in md.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"#{1,6}\s+(.*)", line)):
            out.add(github_slug(m.group(1)))
    return out


def _parsers(parser: argparse.ArgumentParser, name: str = "langlock"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, child in action.choices.items():
                yield from _parsers(child, f"{name} {sub}")


def help_texts() -> list[tuple[str, str]]:
    """(`langlock sub ...`, raw text) for every text a `--help` prints; unwrapped, so no path is split."""
    out = []
    for name, p in _parsers(build_parser()):
        texts = [p.description, p.epilog, p.usage]
        for a in p._actions:
            texts += [a.help, a.default if isinstance(a.default, str) else None]
        out.append((name, "\n".join(t for t in texts if isinstance(t, str))))
    return out


# ------------------------------------------------------------------------------------- the extractor itself

def test_extractor_finds_repo_paths_and_ignores_outputs():
    text = ("Run `configs/tlpo/a.yaml` (see docs/tlpo.md.) then ./scripts/x.py runs/r1/configs/b.yaml "
            "out/docs/c.md OUT/tests/d.py --config=benchmarks/bench_lock.py src/langlock/ "
            "configs/compare/smollm2-$L-tlpo-lcb.yaml tests/test_merge.py::test_soup src/x.py:12")
    assert extract_paths(text) == ["configs/tlpo/a.yaml", "docs/tlpo.md", "scripts/x.py", "benchmarks/bench_lock.py",
                                   "src/langlock/", "configs/compare/smollm2-$L-tlpo-lcb.yaml", "tests/test_merge.py",
                                   "src/x.py"]


def test_path_exists_globs_shell_variables(tmp_path):
    (tmp_path / "configs" / "tlpo").mkdir(parents=True)
    (tmp_path / "configs" / "tlpo" / "m_ko.yaml").write_text("")
    assert path_exists("configs/tlpo/m_ko.yaml", tmp_path) and path_exists("configs/tlpo/", tmp_path)
    assert path_exists("configs/tlpo/m_$L.yaml", tmp_path) and path_exists("configs/tlpo/m_${LANG}.yaml", tmp_path)
    assert not path_exists("configs/tlpo/m_ja.yaml", tmp_path)
    assert not path_exists("configs/tlpo/x_$L.yaml", tmp_path)


def test_github_slug():
    assert github_slug("On a real model: SmolLM2-135M-Instruct, Korean, CPU") == \
        "on-a-real-model-smollm2-135m-instruct-korean-cpu"
    assert github_slug("Decoding sweep (`langlock sweep`)") == "decoding-sweep-langlock-sweep"


# ------------------------------------------------------------------------------------------ the real texts

def test_every_path_in_help_texts_exists():
    texts = help_texts()
    assert len(texts) >= 20, "the parser walk found too few subcommands"
    shown = [(name, p) for name, text in texts for p in extract_paths(text)]
    assert len({p for _, p in shown}) >= 4, f"too few paths found in help texts to mean anything: {shown}"
    broken = sorted({f"`{name} --help` shows {p}" for name, p in shown if not path_exists(p)})
    assert not broken, "help texts show paths that do not exist:\n" + "\n".join(broken)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_path_in_docs_exists(doc):
    shown = [(i, p) for i, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1)
             for p in extract_paths(line)]
    broken = [f"{doc.relative_to(REPO)}:{i}: {p}" for i, p in shown if not path_exists(p)]
    assert not broken, "documented paths that do not exist:\n" + "\n".join(broken)


def test_docs_show_enough_paths_to_check():
    n = sum(len(extract_paths(d.read_text(encoding="utf-8"))) for d in DOCS)
    assert len(DOCS) >= 5 and n >= 40, f"only {n} paths found in {len(DOCS)} documents: is the extractor broken?"


def test_every_local_markdown_link_resolves():
    checked, broken = 0, []
    for doc in DOCS:
        for i, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            for target in _LINK.findall(line):
                if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
                    continue
                file_part, _, anchor = target.partition("#")
                dest = (doc.parent / file_part).resolve() if file_part else doc
                checked += 1
                if not dest.exists():
                    broken.append(f"{doc.relative_to(REPO)}:{i}: link to missing {target}")
                elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                    broken.append(f"{doc.relative_to(REPO)}:{i}: no heading #{anchor} in {file_part or doc.name}")
    assert checked >= 10, f"only {checked} local links found"
    assert not broken, "broken Markdown links:\n" + "\n".join(broken)


def test_no_test_folder_shadows_a_package():
    """pytest puts tests/ on sys.path, so a folder named like a package (a `tests/vllm/` once) is found by
    `importlib.util.find_spec` and breaks libraries that probe for it (TRL's `is_vllm_available`)."""
    from importlib.metadata import packages_distributions

    names = set(packages_distributions()) | {"vllm", "lm_eval", "llama_cpp", "mergekit"}
    folders = {p.name for p in (REPO / "tests").iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    assert folders, "tests/ has sub-folders to check"
    assert not folders & names, f"test folders named like importable packages: {sorted(folders & names)}"
