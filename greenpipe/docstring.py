"""Read a Google-style docstring's `Args:` section: what each parameter of a step means, for catalogs and docs."""

from __future__ import annotations

import re

_ENTRY = re.compile(r"^    ([\w /+]+?):\s(.*)$")


def arg_docs(doc: str) -> dict[str, str]:
    """{parameter: its description} from the `Args:` section of a dedented docstring (inspect.getdoc).

    An entry is `    name: text`, continued on lines indented further; `    a / b: text` gives both names the text.
    The section ends at the first line indented less (`Returns:` and the like).
    """
    notes: dict[str, str] = {}
    names: list[str] = []
    in_args = False
    for line in doc.splitlines():
        if line.strip() == "Args:":
            in_args = True
            continue
        if not in_args:
            continue
        entry = _ENTRY.match(line)
        if entry:
            names = [n.strip() for n in re.split(r"[/+]", entry.group(1)) if n.strip()]
            for name in names:
                notes[name] = entry.group(2).strip()
        elif line.startswith("        ") and names:
            for name in names:
                notes[name] += " " + line.strip()
        elif line.strip():
            break
    return notes
