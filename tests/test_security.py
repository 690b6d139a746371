"""Security defaults: weights only from safetensors, upload limit, XSRF, no error details, nothing user-provided logged."""
from __future__ import annotations

import re
import tomllib

from conftest import ROOT
from models import photos, speech

CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
APP_CODE = sorted([ROOT / "app.py", *(ROOT / "ui").glob("*.py"), *(ROOT / "app_pages" / "figures").glob("*.py"), *(ROOT / "app_pages").glob("*.py"), *(ROOT / "models").glob("*.py")])


def test_server_settings():
    server, client = CONFIG["server"], CONFIG["client"]
    assert server["enableXsrfProtection"] is True and server["enableCORS"] is True
    assert client["showErrorDetails"] == "none" and client["toolbarMode"] == "viewer"
    assert CONFIG["browser"]["gatherUsageStats"] is False
    # The upload limit is what the pages need: the largest file a model accepts, no more.
    largest = max(photos.MAX_BYTES, speech.MAX_FILE_BYTES)
    assert server["maxUploadSize"] * 1024 * 1024 >= largest
    assert server["maxUploadSize"] <= 25


def test_weights_load_only_from_safetensors():
    for path in APP_CODE + sorted((ROOT / "train").glob("*.py")):
        code = path.read_text()
        # code that could unpickle (the voice profile's reader names pickle only to refuse such files by their bytes)
        assert not re.search(r"\btorch\.load\(|^\s*(import|from)\s+(pickle|joblib|dill|cloudpickle)\b|\bpickle\.loads?\("
                             r"|\bjoblib\b|allow_pickle\s*=\s*True", code, re.M), path
    assert not list((ROOT / "models" / "weights").glob("*.pt")) and not list((ROOT / "models" / "weights").glob("*.pth"))


def test_app_code_logs_and_writes_nothing():
    """No print/logging in the app's code, and no file opened for writing: uploads stay in memory.
    (models/common.py's save_checkpoint writes weights: only the training scripts call it.)"""
    for path in APP_CODE:
        code = path.read_text()
        assert not re.search(r"^\s*print\(|\blogging\.|\blogger\.", code, re.M), path
        if path.name == "common.py":
            continue
        assert not re.search(r"open\([^)]*['\"][wa]b?['\"]|\.write_(text|bytes)\(|tofile\(|NamedTemporaryFile|mkstemp", code), path
