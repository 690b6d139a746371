"""A voice profile: the page's "teach it your voice" result as a file the user keeps, and loads in a later session.

    adapted copy -> the tensors that differ from the shared model's (exact fp32) -> safetensors bytes, with a header
    in its metadata: format and version, the model it applies to (sha256 of the shipped weights file), the prompts,
    the date, the digit errors before -> after and the loss per step.

    bytes -> checked (size, magic bytes, header, model, names, shapes, dtypes, finite values) -> a copy of the shared
    model with those tensors. Only safetensors is read: a pickle or a torch .pt file is refused, never unpickled.
    Every problem is a ProfileError whose message the page shows as it is.
"""
from __future__ import annotations

import copy
import datetime
import functools
import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from models import speech
from models.common import checkpoint_paths

FORMAT = "deep-learning-live/voice-profile"
VERSION = 1
FILE_NAME = "voice-profile.safetensors"
MAX_BYTES = 3 * 2**20 + 2**16  # every tensor of the network in fp32 is 2.4 MB; 64 KB for the header
PICKLE_MAGIC = tuple(bytes([0x80, protocol]) for protocol in range(2, 6))  # pickle protocols 2-5 start so
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default: a zip holding a pickle


class ProfileError(ValueError):
    """A file that is not a usable voice profile; the message says why, in plain English."""


@functools.lru_cache(maxsize=4)
def model_sha256(path: Path | None = None) -> str:
    """sha256 of the shipped speech weights (the file's bytes): which model a profile applies to. Computed once."""
    path = path or checkpoint_paths(speech.NAME)[0]
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class Profile:
    model: speech.SpeechNet  # a copy of the shared model with the profile's tensors
    header: dict  # the metadata, decoded: created, prompts, errors, losses

    def adaptation(self) -> speech.Adaptation:
        """What the page keeps in st.session_state["adaptation"], as if adapted in this session."""
        e = self.header["errors"]
        return speech.Adaptation(self.model, self.header["losses"], e["before"], e["after"], e["digits"],
                                 e["held_back_before"], e["held_back_after"], e["held_back_digits"],
                                 self.header["seconds"])


def to_bytes(adapted: speech.Adaptation | speech.SpeechNet, base_model: speech.SpeechNet,
             prompts: list[speech.Prompt] | None = None) -> bytes:
    """The adapted copy's tensors that differ from `base_model`'s, as safetensors bytes with the profile's header."""
    adaptation = adapted if isinstance(adapted, speech.Adaptation) else None
    model = adaptation.model if adaptation else adapted
    base = {k: v.detach().cpu() for k, v in base_model.state_dict().items()}
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()
               if not torch.equal(v.detach().cpu(), base[k])}
    prompts = prompts or speech.ENROLMENT_PROMPTS + [speech.HELD_BACK_PROMPT]
    header = {
        "format": FORMAT,
        "version": str(VERSION),
        "model": speech.NAME,
        "model_sha256": model_sha256(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "prompts": json.dumps([p.digits + (" (slow)" if p.slow else "") for p in prompts]),
        "errors": json.dumps({
            "before": adaptation.errors_before if adaptation else None,
            "after": adaptation.errors_after if adaptation else None,
            "digits": adaptation.digits if adaptation else 0,
            "held_back_before": adaptation.held_back_before if adaptation else None,
            "held_back_after": adaptation.held_back_after if adaptation else None,
            "held_back_digits": adaptation.held_back_digits if adaptation else 0,
        }),
        "losses": json.dumps([round(float(x), 5) for x in adaptation.losses] if adaptation else []),
        "seconds": f"{adaptation.seconds if adaptation else 0.0:.2f}",
    }
    return save_tensors(tensors, metadata=header)


def read(data: bytes, base_model: speech.SpeechNet) -> Profile:
    """Check a voice profile's bytes and apply them to a copy of `base_model` (never changed). ProfileError if bad."""
    if not data:
        raise ProfileError("The file is empty.")
    if len(data) > MAX_BYTES:
        raise ProfileError(f"The file is {len(data) / 2**20:.1f} MB: a voice profile is at most 3 MB.")
    try:
        header = safetensors_header(data)
    except ProfileError:
        # Only now the magic bytes: a safetensors file whose header is 640 bytes long starts with 80 02 too
        if data.startswith(PICKLE_MAGIC) or data.startswith(ZIP_MAGIC):
            raise ProfileError("This is a pickle or a PyTorch .pt file: refused, because opening one can run any "
                               "code. A voice profile is a .safetensors file made by this page.") from None
        raise
    meta = header.get("__metadata__")
    meta = meta if isinstance(meta, dict) else {}
    if meta.get("format") != FORMAT:
        raise ProfileError("This is a safetensors file, but not a voice profile (it has no voice-profile header).")
    if meta.get("version") != str(VERSION):
        raise ProfileError(f"This voice profile is in format version {meta.get('version')!r}; this page reads "
                           f"version {VERSION}. Record the prompts again.")
    if meta.get("model") != speech.NAME or meta.get("model_sha256") != model_sha256():
        raise ProfileError("This voice profile was made for a different version of the speech model; record the "
                           "prompts again.")
    try:
        tensors = load_tensors(data)
        decoded = {"created": meta["created"], "prompts": json.loads(meta["prompts"]),
                   "errors": json.loads(meta["errors"]), "losses": json.loads(meta["losses"]),
                   "seconds": float(meta["seconds"])}
    except Exception as error:  # a damaged file: safetensors or json says why, in its own terms
        raise ProfileError("This voice profile is damaged and cannot be read.") from error
    base = base_model.state_dict()
    unknown = sorted(set(tensors) - set(base))
    if unknown:
        raise ProfileError(f"This voice profile holds tensors the speech model does not have: {', '.join(unknown[:3])}.")
    for name, tensor in tensors.items():
        if tensor.shape != base[name].shape or tensor.dtype != base[name].dtype:
            raise ProfileError(f"This voice profile's tensor {name} is {tuple(tensor.shape)} {tensor.dtype}; the "
                               f"speech model's is {tuple(base[name].shape)} {base[name].dtype}.")
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ProfileError(f"This voice profile's tensor {name} holds NaN or infinite values.")
    model = copy.deepcopy(base_model).cpu()  # the adapted copies run on the CPU, as speech.fine_tune leaves them
    state = model.state_dict()
    state.update(tensors)
    model.load_state_dict(state)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return Profile(model, decoded)


def from_bytes(data: bytes, base_model: speech.SpeechNet) -> speech.SpeechNet:
    """A copy of `base_model` with the profile's tensors (see `read`)."""
    return read(data, base_model).model


def safetensors_header(data: bytes) -> dict:
    """The JSON header of safetensors bytes: 8 bytes of little-endian length, then that much JSON."""
    not_safetensors = ProfileError("This is not a voice profile: not a safetensors file.")
    if len(data) < 8:
        raise not_safetensors
    (size,) = struct.unpack("<Q", data[:8])
    if size < 2 or 8 + size > len(data) or data[8:9] != b"{":
        raise not_safetensors
    try:
        header = json.loads(data[8 : 8 + size])
    except (UnicodeDecodeError, ValueError) as error:
        raise not_safetensors from error
    if not isinstance(header, dict):
        raise not_safetensors
    return header
