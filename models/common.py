"""Helpers shared by every model: the device, and checkpoints (safetensors + JSON).

A checkpoint is two files side by side in models/weights/:
  NAME.safetensors  the state_dict (tensors only: no pickle, nothing executable)
  NAME.json         everything needed to rebuild and to describe the model:
                    config, class names, preprocessing constants, metrics,
                    per-epoch curve, training command/time/hardware, data provenance.
"""
from __future__ import annotations

import gc
import importlib
import json
import platform
import threading
import weakref
from contextlib import nullcontext
from pathlib import Path

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


def save_checkpoint(model: torch.nn.Module | dict, meta: dict, name: str, weights_dir=None) -> tuple[Path, Path]:
    """Write the state_dict (or a dict of tensors) as safetensors and `meta` as pretty JSON beside it."""
    st_path, json_path = checkpoint_paths(name, weights_dir)
    st_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = model if isinstance(model, dict) else model.state_dict()
    state = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    save_file(state, str(st_path))
    json_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return st_path, json_path


def load_checkpoint(name: str, weights_dir=None) -> tuple[dict[str, torch.Tensor], dict]:
    """Read (state_dict, meta). Only safetensors: weights can never run code on load."""
    st_path, json_path = checkpoint_paths(name, weights_dir)
    meta = json.loads(json_path.read_text(encoding="utf-8"))
    return load_file(str(st_path)), meta


_SHARED: dict[str, object] = {}  # model name -> what models.<name>.load() returned
_SHARED_LOCK = threading.Lock()


def shared(name: str):
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


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class _Recording(torch.nn.Module):
    """net(x, activations) as a function of x alone -> (logits, {name: activation}), for tracing."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor):
        activations: dict[str, torch.Tensor] = {}
        return self.net(x, activations), activations


_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # net -> {(shape, dtype, device, grad): traced}


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
    traced = _TRACED.setdefault(net, {}).get(key)
    if traced is None:
        with torch.inference_mode(False), torch.set_grad_enabled(key[3]), autocast(x.device):
            example = x.clone()  # an inference-mode tensor can't be traced through
            traced = torch.jit.trace(_Recording(net).eval(), example, strict=False, check_trace=False)
        _TRACED[net][key] = traced
    return traced(x)
