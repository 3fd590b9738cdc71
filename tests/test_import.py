"""``import mmfeat`` stays light: no torch, transformers, pyarrow or Beam until used."""
import re
import subprocess
import sys


def test_import_mmfeat_loads_no_heavy_library():
    code = ("import sys, mmfeat, mmfeat.spec, mmfeat.cli; heavy = {'torch', 'transformers', 'pyarrow', "
            "'apache_beam', 'pandas'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_only_mmfeat_beam_imports_beam():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "mmfeat"
    offenders = [str(p) for p in root.rglob("*.py") if re.search(r"^\s*(import|from) apache_beam", p.read_text(), re.M) and p.parent.name != "beam"]
    assert offenders == []
