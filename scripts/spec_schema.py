"""Write docs/spec.schema.json, the JSON Schema of a spec file (:func:`rrm.spec.json_schema`).

Run ``python -m scripts.spec_schema`` after changing a field of :mod:`rrm.spec`;
tests/test_spec_schema.py fails while the file and the code differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rrm.spec import json_schema

PATH = Path(__file__).resolve().parent.parent / "docs" / "spec.schema.json"


def text() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"


def main() -> int:
    PATH.write_text(text())
    print(f"wrote {PATH.relative_to(Path.cwd()) if PATH.is_relative_to(Path.cwd()) else PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
