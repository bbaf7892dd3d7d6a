"""Loaded at interpreter start by a process whose PYTHONPATH begins with this folder: makes the modules named in
GREENPIPE_TEST_BLOCKED (comma-separated top-level names) unimportable, as they are in a core-only install. Child
processes inherit the variable and the path, so a step run in a subprocess is held to the same install."""

import os
import sys
from importlib.abc import MetaPathFinder

BLOCKED = frozenset(filter(None, os.environ.get("GREENPIPE_TEST_BLOCKED", "").split(",")))


class NotInstalled(MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {fullname!r} (not in a core install)", name=fullname)
        return None


if BLOCKED:
    sys.meta_path.insert(0, NotInstalled())
