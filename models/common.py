"""Helpers shared by every model: the device, and checkpoints (safetensors + JSON).

A checkpoint is two files side by side in models/weights/:
  NAME.safetensors  the state_dict (tensors only: no pickle, nothing executable)
  NAME.json         everything needed to rebuild and to describe the model:
                    config, class names, preprocessing constants, metrics,
                    per-epoch curve, training command/time/hardware, data provenance.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import importlib
import json
import platform
import threading
import weakref
from contextlib import nullcontext
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors.torch import load_file, save_file

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def get_device() -> torch.device:
    """The one device helper: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_name(device: torch.device | None = None) -> str:
    """A human-readable name: the GPU's model, or the CPU's architecture and thread count."""
    device = device or get_device()
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "GPU: Apple Metal (MPS)"
    return f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"


def checkpoint_paths(name: str, weights_dir: Path | str | None = None) -> tuple[Path, Path]:
    folder = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
    return folder / f"{name}.safetensors", folder / f"{name}.json"


# The model card: what every checkpoint's JSON holds, written by `write_card` alone (and validated there).
# field -> type; each model adds its own fields (classes, labels, tokenizer, views, ...) beside these.
CARD_FIELDS = {"name": str, "architecture": str, "config": dict, "parameters": int, "preprocessing": dict,
               "metrics": dict, "curve": list, "training": dict, "data": dict}
TRAINING_FIELDS = {"command": str, "seconds": (int, float), "total_seconds": (int, float), "hardware": str,
                   "torch": str, "precision": str, "options": dict}
DATA_FIELDS = {"dataset": str, "license": str}
# Another recipe for the same model, measured by the training script that ran it (`--alternative NAME`): its
# weights are not shipped, its results are shown on the card (e.g. "cpu": what a 2-core CPU reaches).
ALTERNATIVE_FIELDS = {"name": str, "command": str, "hardware": str, "minutes": (int, float), "metrics": dict,
                      "note": str}


def card_problems(meta: dict, name: str | None = None) -> list[str]:
    """What is missing or mistyped in a model card (empty: valid). `name`: the checkpoint's file name."""
    problems = []

    def check(where: str, record, fields: dict) -> None:
        if not isinstance(record, dict):
            problems.append(f"{where}: not an object")
            return
        for key, kind in fields.items():
            if key not in record:
                problems.append(f"{where}{key}: missing")
            elif not isinstance(record[key], kind) or isinstance(record[key], bool):
                problems.append(f"{where}{key}: {type(record[key]).__name__}, expected {kind}")

    check("", meta, CARD_FIELDS)
    check("training.", meta.get("training", {}), TRAINING_FIELDS)
    check("data.", meta.get("data", {}), DATA_FIELDS)
    for i, alternative in enumerate(meta.get("alternatives", [])):
        check(f"alternatives[{i}].", alternative, ALTERNATIVE_FIELDS)
    held_out_run = name is not None and name.startswith("holdout_")  # holdout_george: a run of any model's recipe
    if name is not None and not held_out_run and meta.get("name") not in (name, name.split("_", 1)[0]):
        problems.append(f"name: {meta.get('name')!r} in the card of checkpoint {name!r}")
    if not all(isinstance(point, dict) and "epoch" in point for point in meta.get("curve", [])):
        problems.append("curve: each point needs an epoch")
    return problems


def check_card(meta: dict, name: str) -> None:
    """ValueError naming what is wrong with a model card, if anything."""
    problems = card_problems(meta, name)
    if problems:
        raise ValueError(f"model card {name}: " + "; ".join(problems))


def write_card(meta: dict, name: str, weights_dir=None) -> Path:
    """Write a model card (the checkpoint's JSON) after validating it: the one function that writes one."""
    check_card(meta, name)
    _, json_path = checkpoint_paths(name, weights_dir)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return json_path


def alternative_title(alternative: dict) -> str:
    """How a card names another recipe: by what it ran on."""
    return "Without a GPU" if alternative["hardware"].startswith("CPU") else f"Recipe “{alternative['name']}”"


def alternative_lines(meta: dict, results) -> list[str]:
    """A card line per other recipe: its title, minutes and hardware, `results(alternative)` (the model's words
    for its numbers), and its command."""
    return [f"**{alternative_title(a)}:** {a['minutes']:.0f} min on {a['hardware']} give {results(a)}: "
            f"`{a['command']}`" for a in meta.get("alternatives", [])]


def read_card(name: str, weights_dir=None) -> dict:
    return json.loads(checkpoint_paths(name, weights_dir)[1].read_text(encoding="utf-8"))


def record_alternative(name: str, alternative: dict, weights_dir=None) -> dict:
    """Put another recipe's measured results into model `name`'s card (replacing one of the same name)."""
    meta = read_card(name, weights_dir)
    others = [a for a in meta.get("alternatives", []) if a["name"] != alternative["name"]]
    meta["alternatives"] = others + [alternative]
    write_card(meta, name, weights_dir)
    return meta


def save_checkpoint(model: torch.nn.Module | dict, meta: dict, name: str, weights_dir=None) -> tuple[Path, Path]:
    """Write the state_dict (or a dict of tensors) as safetensors and the card `meta` as JSON beside it."""
    st_path, json_path = checkpoint_paths(name, weights_dir)
    check_card(meta, name)  # before anything is written: a bad card must not replace good weights
    st_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = model if isinstance(model, dict) else model.state_dict()
    state = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    save_file(state, str(st_path))
    write_card(meta, name, weights_dir)
    return st_path, json_path


def load_checkpoint(name: str, weights_dir=None) -> tuple[dict[str, torch.Tensor], dict]:
    """Read (state_dict, meta). Only safetensors: weights can never run code on load."""
    st_path, _ = checkpoint_paths(name, weights_dir)
    return load_file(str(st_path)), read_card(name, weights_dir)


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class Loaded(NamedTuple):
    """What every model module's load() returns: the model, ready for inference (eval mode, on its device),
    and its card (the checkpoint's JSON). Unpacks as `model, meta = load()`."""

    model: Any
    meta: dict


_SHARED: dict[str, Loaded] = {}  # model name -> what models.<name>.load() returned
_SHARED_LOCK = threading.Lock()


def shared(name: str) -> Loaded:
    """models/<name>'s shipped checkpoint, loaded once per process and shared by every caller: the pages
    (through ui.load_model) and the modules' public functions called without a model.

    Loaded outside inference mode whatever the caller is in: weights made under torch.inference_mode are
    "inference tensors", which can never take part in a gradient afterwards (Grad-CAM, fine-tuning)."""
    with _SHARED_LOCK:  # two sessions asking at once must not load it twice
        if name not in _SHARED:
            module = importlib.import_module(f"models.{name}")
            with torch.inference_mode(False):
                _SHARED[name] = module.load()
            # The model lives as long as the process: move it out of the garbage collector's sight, so that
            # later collections don't walk its hundreds of thousands of objects.
            gc.freeze()
        return _SHARED[name]


def return_freed_memory() -> bool:
    """Hand the memory a finished training freed back to the system (glibc's malloc_trim; False elsewhere).

    A training in its own thread allocates from that thread's malloc arena; when it ends the memory is free
    but stays in the process (measured: RSS 860-1040 MB from one live training to the next, back to ~860 MB
    after a trim). On a host with 0.7-2.7 GB per app, that is the margin. Costs tens of ms (a garbage
    collection first): call it after the work, not in a loop."""
    if _LIBC is None:
        return False
    gc.collect()
    _LIBC.malloc_trim(0)
    return True


def _libc():
    name = ctypes.util.find_library("c") if platform.system() == "Linux" else None
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "malloc_trim") else None
    except OSError:  # musl and others: no malloc_trim
        return None


_LIBC = _libc()


class _Recording(torch.nn.Module):
    """net(x, activations) as a function of x alone -> (logits, {name: activation}), for tracing."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor):
        activations: dict[str, torch.Tensor] = {}
        return self.net(x, activations), activations


_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # net -> {(shape, dtype, device, grad): traced}
_TRACE_LOCK = threading.Lock()  # one torch.jit.trace at a time (see _trace)


def autocast(device: torch.device):
    """bf16 autocast on the CPU (AMX/AVX-512) and CUDA, fp32 elsewhere: how the CNNs are trained and
    measured on their test sets; with channels_last, about 4x faster than fp32 on this CPU."""
    if device.type in ("cpu", "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def run_recording(net: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The CNNs' inference: net(x, activations) -> (logits, activations), as one TorchScript call, in the
    arithmetic their test metrics were measured in (train.common.evaluate): channels_last, bf16 autocast.
    Logits and activations come back in bf16 on the CPU and CUDA.

    Why one call: Streamlit runs each viewer in a thread of one process, and every torch op called from
    Python lets go of Python's global lock and must win it back from the other viewers' threads, which keep
    it up to 5 ms each time (sys.getswitchinterval): a forward pass of ~40 small ops, 2.5 ms alone, took
    ~0.5 s next to a busy Python thread (`python -m benchmarks.digits --busy-thread`). Traced (under
    autocast, so the casts are in the trace), it is one call. Traced once per network and input shape, and
    grad mode: Grad-CAM differentiates through it; the trace shares the network's weights. In training
    mode the network runs as is (dropout, batch norm).
    """
    if net.training:
        activations: dict[str, torch.Tensor] = {}
        return net(x, activations), activations
    x = x.contiguous(memory_format=torch.channels_last)  # (B, C, H, W) images, as in training
    key = (tuple(x.shape), x.dtype, x.device, torch.is_grad_enabled())
    traced = _TRACED.get(net, {}).get(key)
    if traced is None:
        traced = _trace(net, x, key)
    return traced(x)


def _trace(net: torch.nn.Module, x: torch.Tensor, key: tuple):
    """Trace `net` for inputs like x, once: two viewers' threads tracing the same network at once break each
    other's trace ("Cannot insert a Tensor that requires grad as a constant": seen at 20 viewers of the faces
    page). One trace at a time in the process; whoever waited finds the first one's trace and uses it."""
    with _TRACE_LOCK:
        traced = _TRACED.get(net, {}).get(key)
        if traced is None:
            with torch.inference_mode(False), torch.set_grad_enabled(key[3]), autocast(x.device):
                example = x.clone()  # an inference-mode tensor can't be traced through
                traced = torch.jit.trace(_Recording(net).eval(), example, strict=False, check_trace=False)
            _TRACED.setdefault(net, {})[key] = traced
        return traced
