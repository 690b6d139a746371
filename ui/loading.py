"""Models for the pages: loaded once per server process and shared by every session; the cards' JSON alone."""
from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

INFERENCE_THREADS = 1


@st.cache_resource(show_spinner="Loading the model…")
def load_model(name: str):
    """models/<name>'s shipped model, loaded once per server process and shared by all sessions: what
    models.<name>.load() returns (see models.common.shared, which also serves the modules' own public
    functions, so a page and a direct call never hold two copies). Inference runs under
    torch.inference_mode in eval mode, which only reads the weights, so sessions can share one model."""
    import torch

    from models.common import shared

    # One thread per inference: Streamlit runs each viewer's session in its own thread, and on a small machine
    # several sessions' multi-threaded ops oversubscribe the cores. Measured with benchmarks/load_ws.py, 10
    # sessions on 2 cores: p95 interaction 2.7 s with torch's default (2 threads), 1.7 s with one.
    torch.set_num_threads(INFERENCE_THREADS)
    return shared(name)

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "models" / "weights"


@st.cache_data
def model_meta(name: str) -> dict:
    """A checkpoint's JSON alone (no torch): for the home page's cards."""
    return json.loads((WEIGHTS_DIR / f"{name}.json").read_text(encoding="utf-8"))


@st.cache_resource
def device_label() -> str:
    from models.common import device_name

    return device_name()
