"""Recognise a face: a small CNN maps a face to a unit vector (an embedding); faces of one person lie close.

Read top to bottom: constants, config, the network, reading a photo safely, preprocessing (shared by training,
the benchmark and the page), loading, the public functions (`embed`, `identify`), what the page shows inside the
network (feature maps, saliency), the measures of the card (one-shot accuracy, ROC and equal-error rate, open
set), and the card's text.

    face photo (any format, size, colour)
      -> open_image: refuse what can't be read, is too large or too small (models.photos's rules)
      -> preprocess: grey, the largest centred box of the ORL photos' shape (112:92; a camera shot: the guide box
         the page draws), resized to 64x52, each photo normalised to mean 0 and standard deviation 1
      -> FaceNet: 2 networks trained apart, each 4 conv blocks (two 3x3 conv + batch norm + ReLU, 2x2 max-pool)
         -> flatten -> linear -> unit vector; the two vectors joined (one unit vector)
      -> views (`Views`, the card's "views": chosen by the validation run): the face and its mirror image in one
         forward batch, their embeddings averaged and made a unit vector again
    gallery: {name: [embeddings]} -> identify: cosine similarity to each person's best photo, most similar first;
    below THRESHOLD: "not in the gallery".

Trained by train/faces.py with a CosFace loss (Wang et al. 2018) on people 0-29 of the ORL database only; people
30-39 are never seen in training nor used to choose anything, and the card's numbers are measured on them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from models.common import Loaded, get_device, load_checkpoint, run_recording, shared
from models.photos import MAX_BYTES, MAX_PIXELS, BadImageError  # noqa: F401  (its limits and error, as faces.*)
from models.photos import open_image as _open_photo

NAME = "faces"
ORL_SIZE = (92, 112)  # (width, height) of the ORL photos
INPUT_HEIGHT, INPUT_WIDTH = 64, 52  # the network's grey input: ORL's shape (112:92), smaller
MIN_SIDE = 24  # a face in fewer pixels than this can't be recognised
WORKING_SIDE = 1024  # the page shrinks photos to this before anything else
# A camera shot: the face is expected in a centred box of this fraction of the frame's height (the page draws it).
CAMERA_BOX_HEIGHT = 0.8
PEOPLE = 40
SEEN_PEOPLE = range(0, 30)  # the training people (the validation run: 0-19 train, 20-29 choose)
UNSEEN_PEOPLE = range(30, 40)  # never seen in training, never used to choose anything: the card's numbers
FEATURE_LAYERS = ("block1.conv1", "block1", "block2")  # what the page shows inside the network


@dataclass
class Config:
    widths: tuple[int, int, int, int] = (32, 64, 128, 128)
    embedding: int = 128  # per member
    dropout: float = 0.3
    members: int = 2  # networks trained apart (different seeds), their embeddings joined
    flatten_light: bool = False  # each member first removes the face's linear light gradient (`flatten_light`)


def flatten_light(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) normalised faces -> the same minus each face's best-fitting plane of brightness (light from
    one side: a gradient across the face), normalised again. Least squares on centred coordinates, whose
    directions are orthogonal: slope = sum(x * u) / sum(u * u)."""
    h, w = x.shape[-2:]
    v = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype).view(1, 1, h, 1)
    u = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype).view(1, 1, 1, w)
    slope_u = (x * u).sum(dim=(-2, -1), keepdim=True) / (u * u).sum() / h
    slope_v = (x * v).sum(dim=(-2, -1), keepdim=True) / (v * v).sum() / w
    return normalise(x - slope_u * u - slope_v * v)


class Block(nn.Module):
    """conv 3x3 -> BN -> ReLU -> conv 3x3 -> BN -> ReLU -> 2x2 max-pool."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor, name: str, activations: dict | None) -> torch.Tensor:
        x = F.relu(self.norm1(self.conv1(x)))
        if activations is not None:
            activations[f"{name}.conv1"] = x
        return F.max_pool2d(F.relu(self.norm2(self.conv2(x))), 2)


class Member(nn.Module):
    """One embedding network: 4 blocks -> flatten -> dropout -> linear -> batch norm (trained alone, with CosFace)."""

    def __init__(self, cfg: Config = Config()):
        super().__init__()
        w = cfg.widths
        self.block1 = Block(1, w[0])  # (B, w0, 32, 26)  edges, light and shade
        self.block2 = Block(w[0], w[1])  # (B, w1, 16, 13)  eyes, nostrils, mouth corners
        self.block3 = Block(w[1], w[2])  # (B, w2, 8, 6)
        self.block4 = Block(w[2], w[3])  # (B, w3, 4, 3)  parts of a face, where they are
        self.dropout = nn.Dropout(cfg.dropout)
        self.project = nn.Linear(w[3] * (INPUT_HEIGHT // 16) * (INPUT_WIDTH // 16), cfg.embedding, bias=False)
        self.norm = nn.BatchNorm1d(cfg.embedding)
        self.flatten_light = cfg.flatten_light

    def forward(self, x: torch.Tensor, activations: dict | None = None) -> torch.Tensor:
        """(B, 1, 64, 52) normalised grey faces -> (B, D) embeddings, not yet of unit length.
        If `activations` is a dict, it receives each block's output and each block's first conv output."""
        if self.flatten_light:
            x = flatten_light(x)
        for name in ("block1", "block2", "block3", "block4"):
            x = getattr(self, name)(x, name, activations)
            if activations is not None:
                activations[name] = x
        return self.norm(self.project(self.dropout(x.flatten(1))))


class FaceNet(nn.Module):
    """The shipped model: `members` networks, each trained alone; the embedding joins their unit vectors (divided by
    sqrt(members): a unit vector whose cosine is the mean of the members' cosines). `activations`: the first's."""

    def __init__(self, cfg: Config = Config()):
        super().__init__()
        self.members = nn.ModuleList(Member(cfg) for _ in range(cfg.members))
        self.dim = cfg.embedding * cfg.members
        self.views = Views()  # what `embed_inputs` puts through it for each face (`load`: the card's)

    def forward(self, x: torch.Tensor, activations: dict | None = None) -> torch.Tensor:
        """(B, 1, 64, 52) -> (B, members x D) unit vectors."""
        parts = [F.normalize(m(x, activations if i == 0 else None).float(), dim=1) for i, m in enumerate(self.members)]
        return torch.cat(parts, 1) / len(parts) ** 0.5


def unit(e: torch.Tensor) -> torch.Tensor:
    return F.normalize(e.float(), dim=-1)


# ---------------------------------------------------------------- test-time views


@dataclass(frozen=True)
class Views:
    """What `embed_inputs` puts through the network for each face, in one batch, before averaging the embeddings
    (then unit length again): the face, its mirror image if `mirror`, and each of these shifted by each (dy, dx) of
    `shifts` (pixels of the input, borders repeated). The mirror is taken before the shifts, so with `mirror` a
    face and its mirror image get the same set of views: the same embedding."""

    mirror: bool = False
    shifts: tuple[tuple[int, int], ...] = ()

    @property
    def count(self) -> int:
        return (1 + self.mirror) * (1 + len(self.shifts))

    def describe(self) -> str:
        """e.g. "the face and its mirror image (2 views)"."""
        if self.count == 1:
            return "the face alone (1 view)"
        words = "the face and its mirror image" if self.mirror else "the face"
        if self.shifts:
            moves = ", ".join(f"({dy:+d}, {dx:+d})" for dy, dx in self.shifts)
            words += f", {'each ' * self.mirror}as is and shifted {moves} px"
        return f"{words} ({self.count} views)"

    def record(self) -> dict:
        """-> the card's form (JSON)."""
        return {"mirror": self.mirror, "shifts": [list(s) for s in self.shifts], "count": self.count,
                "description": self.describe()}

    @classmethod
    def from_record(cls, record: dict | None) -> "Views":
        if not record:
            return cls()
        return cls(bool(record["mirror"]), tuple((int(dy), int(dx)) for dy, dx in record["shifts"]))


# The candidates the validation run compares (train/faces.py), fewest views first; fixed before any was measured.
# Only those of at most MAX_VIEWS views can be chosen: `embed` must stay within 10 ms (median, one thread of the
# 2-core CPU: the target set before), and each view costs about 4.5 ms of network (timed after the validation run,
# python -m benchmarks.faces --views NAME: about 5 ms for 1 view, 8.3 ms for 2, 26.5 ms for 6).
MAX_VIEWS = 2
VIEW_CANDIDATES = {
    "face": Views(),
    "face + mirror": Views(mirror=True),
    "face + mirror, shifted 2 px": Views(mirror=True, shifts=((-2, -2), (2, 2))),
}


def shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """(..., H, W) -> the same images moved dy pixels down and dx right, the borders repeated."""
    p = max(abs(dy), abs(dx))
    if p == 0:
        return x
    h, w = x.shape[-2:]
    padded = F.pad(x, (p, p, p, p), mode="replicate")
    return padded[..., p - dy : p - dy + h, p - dx : p - dx + w]


def view_inputs(x: torch.Tensor, views: Views) -> torch.Tensor:
    """(B, 1, H, W) network inputs -> (views.count x B, 1, H, W): view by view, each a block of the B faces."""
    bases = [x, x.flip(-1)] if views.mirror else [x]
    return torch.cat([shift(b, dy, dx) for b in bases for dy, dx in ((0, 0), *views.shifts)])


# ---------------------------------------------------------------- reading a photo


def open_image(data: bytes, max_side: int | None = WORKING_SIDE) -> Image.Image:
    """Bytes of an uploaded file or a camera shot -> an upright RGB PIL image, or BadImageError with a clear
    message (empty, not an image, too large: models.photos.open_image; too small for a face: here)."""
    image = _open_photo(data, max_side)
    if min(image.size) < MIN_SIDE:
        raise BadImageError(f"The image is {image.size[0]}×{image.size[1]} pixels; a face needs at least "
                            f"{MIN_SIDE} on each side.")
    return image


# ---------------------------------------------------------------- preprocessing


def face_box(size: tuple[int, int], camera: bool = False) -> tuple[int, int, int, int]:
    """The part of an image of `size` (width, height) the network sees: (left, top, right, bottom).

    A photo: its largest centred box of the ORL photos' shape (height:width = 112:92). A camera shot: a centred
    box of that shape, CAMERA_BOX_HEIGHT of the frame's height (or narrower if the frame is), where the page
    asks the face to be (a webcam shows the head smaller than the ORL photos do)."""
    w, h = size
    aspect = ORL_SIZE[1] / ORL_SIZE[0]  # height / width
    box_h = min(h, w * aspect)
    if camera:
        box_h *= CAMERA_BOX_HEIGHT
    box_w = box_h / aspect
    left, top = (w - box_w) / 2, (h - box_h) / 2
    return round(left), round(top), round(left + box_w), round(top + box_h)


def normalise(x: torch.Tensor) -> torch.Tensor:
    """(..., H, W) grey faces -> each with mean 0 and standard deviation 1 (lighting's overall level and
    contrast removed). Used by `preprocess` and by training's augmentation."""
    mean = x.mean(dim=(-2, -1), keepdim=True)
    std = x.std(dim=(-2, -1), keepdim=True)
    return (x - mean) / (std + 1e-2)


def grey_input(image: Image.Image, camera: bool = False) -> np.ndarray:
    """PIL image -> (64, 52) float32 grey in [0, 1]: the face box (`face_box`), resized (area-averaged)."""
    grey = image.convert("L")
    box = face_box(grey.size, camera)
    resized = grey.resize((INPUT_WIDTH, INPUT_HEIGHT), Image.Resampling.BOX if box[3] - box[1] >= 2 * INPUT_HEIGHT
                          else Image.Resampling.BILINEAR, box=box)
    return np.asarray(resized, dtype=np.float32) / 255.0


def preprocess(image: Image.Image, camera: bool = False) -> np.ndarray:
    """A face photo of any size and colour -> (1, 64, 52) float32: the network's input.

    Grey, the face box (`face_box`: ORL's shape, centred; a camera shot's guide box), resized to 64x52, normalised
    to mean 0 and standard deviation 1. The training set's ORL photos (112x92 grey) go through this function too.
    """
    return normalise(torch.from_numpy(grey_input(image, camera)))[None].numpy()


def orl_image(pixels: np.ndarray) -> Image.Image:
    """One ORL photo, (112, 92) uint8 grey, as the PIL image every function here takes."""
    return Image.fromarray(np.asarray(pixels, dtype=np.uint8), mode="L")


# ---------------------------------------------------------------- loading and inference


def load(weights_dir=None, device=None) -> Loaded:
    """Rebuild the network from its JSON and load its safetensors: (model in eval mode, meta). The model's
    `views` (what `embed` puts through it) are the card's (none recorded: the face alone)."""
    state, meta = load_checkpoint(NAME, weights_dir)
    model = FaceNet(Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()}))
    model.load_state_dict(state)
    model.views = Views.from_record(meta.get("views"))
    return Loaded(model.to(device or get_device(), memory_format=torch.channels_last).eval(), meta)


def default_model() -> FaceNet:
    return shared(NAME).model


def default_threshold() -> float:
    return float(shared(NAME).meta["threshold"]["value"])


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.inference_mode()
def embed_inputs(x: np.ndarray | torch.Tensor, model: FaceNet | None = None, batch_size: int = 200,
                 views: Views | None = None) -> np.ndarray:
    """Preprocessed faces (N, 1, 64, 52) -> (N, D) float32 unit vectors: each face's views (`views`, else the
    model's: `load` reads them from the card) in one forward batch, their embeddings averaged, unit length."""
    model = model or default_model()
    views = views or getattr(model, "views", Views())
    x = torch.as_tensor(x)
    out = []
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].to(_device(model))
        e, _ = run_recording(model, view_inputs(xb, views))
        out.append(unit(unit(e).view(views.count, len(xb), -1).mean(0)).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, model.dim), np.float32)


def embed(image: Image.Image, model: FaceNet | None = None, camera: bool = False) -> np.ndarray:
    """A face photo -> its embedding: a unit vector of D float32 (the same person's photos lie close); the
    model's views (e.g. the face and its mirror image) in one batch, averaged."""
    return embed_inputs(preprocess(image, camera)[None], model)[0]


def embed_many(images: list[Image.Image], model: FaceNet | None = None, camera: bool = False) -> np.ndarray:
    """Face photos -> (N, D) embeddings, one batch."""
    if not images:
        return np.zeros((0, (model or default_model()).dim), np.float32)
    return embed_inputs(np.stack([preprocess(image, camera) for image in images]), model)


def map_2d(embeddings: np.ndarray, method: str = "t-SNE", extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings (N, D) -> 2-D points for a map: "t-SNE" (van der Maaten & Hinton 2008; neighbours stay
    neighbours, fixed seed) or "PCA" (the two directions of largest spread). `extra` (M, D): more embeddings put
    on the same map (PCA: projected; t-SNE: placed at the mean of their 3 nearest photos' points).
    -> (points (N, 2), extra points (M, 2))."""
    extra = np.zeros((0, embeddings.shape[1]), np.float32) if extra is None else np.atleast_2d(extra)
    mean = embeddings.mean(0)
    if method == "PCA":
        _, _, vt = np.linalg.svd(embeddings - mean, full_matrices=False)
        return (embeddings - mean) @ vt[:2].T, (extra - mean) @ vt[:2].T
    from sklearn.manifold import TSNE

    points = TSNE(2, perplexity=15, init="pca", random_state=0).fit_transform(embeddings.astype(np.float64))
    nearest = np.argsort(-(extra @ embeddings.T), axis=1)[:, :3]
    return points, points[nearest].mean(1) if len(extra) else np.zeros((0, 2))


Gallery = dict  # name -> (K, D) embeddings of that person's photos (or a list of D-vectors)


def similarities(embedding: np.ndarray, gallery: Gallery) -> list[tuple[str, float]]:
    """Cosine similarity of `embedding` to each person of the gallery (their most similar photo), most similar
    first."""
    scores = []
    for name, photos in gallery.items():
        photos = np.atleast_2d(np.asarray(photos, np.float32))
        if len(photos):
            scores.append((name, float((photos @ embedding).max())))
    return sorted(scores, key=lambda ns: -ns[1])


def alike_people(gallery: Gallery, threshold: float) -> list[tuple[str, str, float]]:
    """Pairs of different people of the gallery whose most similar photos reach `threshold`: the network could name
    one for the other. -> [(name, name, similarity)], most similar first. Measured (benchmarks/faces_room.py): when
    one camera photographs everyone alike (light from one side, faces small in the box), different people reach
    the threshold far more often, so the page warns rather than let a gallery of look-alikes answer."""
    photos = {n: np.atleast_2d(np.asarray(v, np.float32)) for n, v in gallery.items()}
    names = [n for n, v in photos.items() if v.size]
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            s = float((photos[a] @ photos[b].T).max())
            if s >= threshold:
                pairs.append((a, b, s))
    return sorted(pairs, key=lambda p: -p[2])


def identify(image: Image.Image, gallery: Gallery, model: FaceNet | None = None,
             camera: bool = False) -> list[tuple[str, float]]:
    """Who is this? -> [(name, similarity)] for every person in the gallery, most similar first.

    Similarity is the cosine between embeddings (1: the same direction), to each person's most similar photo.
    The best is only an answer if it reaches the threshold (`is_known`); else: "not in the gallery"."""
    return similarities(embed(image, model, camera), gallery)


def is_known(ranking: list[tuple[str, float]], threshold: float | None = None) -> bool:
    """Is the best match similar enough to be that person (not "someone not in the gallery")?"""
    threshold = default_threshold() if threshold is None else threshold
    return bool(ranking) and ranking[0][1] >= threshold


# ---------------------------------------------------------------- inside the network


def feature_maps(image: Image.Image, model: FaceNet | None = None, camera: bool = False) -> dict[str, np.ndarray]:
    """The first layers' feature maps for one face: {layer: (C, H, W) float32} for FEATURE_LAYERS."""
    model = model or default_model()
    x = torch.from_numpy(preprocess(image, camera))[None].to(_device(model))
    with torch.inference_mode():
        _, activations = run_recording(model, x)
    return {k: activations[k][0].float().cpu().numpy() for k in FEATURE_LAYERS}


def saliency(image: Image.Image, target: np.ndarray | None = None, model: FaceNet | None = None,
             camera: bool = False) -> np.ndarray:
    """Which pixels moved the embedding: |d similarity / d pixel| of the network's input, (64, 52) in [0, 1].

    The similarity is to `target` (an embedding: e.g. the best match's photo), else to the face's own embedding
    held fixed. Smoothed over a few noisy copies of the input (SmoothGrad, Smilkov et al. 2017)."""
    model = model or default_model()
    x = torch.from_numpy(preprocess(image, camera))[None].to(_device(model))
    with torch.inference_mode():
        own = unit(run_recording(model, x)[0])[0]
    aim = torch.as_tensor(target, dtype=torch.float32, device=x.device) if target is not None else own
    noisy = (x + 0.15 * torch.randn((8, *x.shape[1:]), generator=torch.Generator().manual_seed(0)).to(x.device))
    with torch.inference_mode(False), torch.enable_grad():
        noisy = noisy.clone().requires_grad_(True)
        e, _ = run_recording(model, noisy)
        (grad,) = torch.autograd.grad((unit(e) @ aim.clone()).sum(), noisy)
    heat = grad.abs().mean(0)[0].float()
    heat = F.avg_pool2d(heat[None, None], 3, 1, 1)[0, 0]
    return (heat / heat.max().clamp_min(1e-12)).cpu().numpy()


def config_dict(cfg: Config) -> dict:
    return asdict(cfg)


# ---------------------------------------------------------------- the card's measures (on embeddings alone)


def by_person(labels: np.ndarray) -> dict[int, np.ndarray]:
    """person -> the indices of their photos, in order."""
    return {int(p): np.flatnonzero(labels == p) for p in np.unique(labels)}


def one_shot(embeddings: np.ndarray, labels: np.ndarray) -> dict:
    """One gallery photo per person, every other photo of them a probe: the share of probes whose most similar
    gallery photo is of the right person. Averaged over the choices of gallery photo (the k-th photo of each
    person, k = 0..9). -> {"accuracy": mean, "by_gallery_photo": [10 accuracies], "probes": per choice}."""
    people = by_person(labels)
    shots = min(len(i) for i in people.values())
    accuracies = []
    for k in range(shots):
        gallery = np.array([idx[k] for idx in people.values()])
        probes = np.array([i for idx in people.values() for j, i in enumerate(idx) if j != k])
        nearest = (embeddings[probes] @ embeddings[gallery].T).argmax(1)
        accuracies.append(float((labels[gallery][nearest] == labels[probes]).mean()))
    return {"accuracy": float(np.mean(accuracies)), "by_gallery_photo": accuracies,
            "probes": len(labels) - len(people), "people": len(people)}


def pair_scores(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of photos: (cosine similarity, same person?)."""
    i, j = np.triu_indices(len(labels), 1)
    return np.einsum("nd,nd->n", embeddings[i], embeddings[j]), labels[i] == labels[j]


def different_people_pairs(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The cosine similarity of every pair of photos of two different people, sorted."""
    scores, same = pair_scores(embeddings, labels)
    return np.sort(scores[~same])


def share_reaching(embeddings: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    """The share of pairs of different people's photos whose similarity reaches `threshold`."""
    pairs = different_people_pairs(embeddings, labels)
    return float(1 - np.searchsorted(pairs, threshold, side="left") / len(pairs))


def threshold_for_share(embeddings: np.ndarray, labels: np.ndarray, share: float) -> float:
    """The similarity that the share `share` of pairs of different people's photos reaches (`share_reaching`'s
    inverse, interpolated), to 0.001.

    Why: a network that learned more people puts strangers further apart, so a threshold chosen on the validation
    networks (20 people) is too high for the shipped one (30). Measured on each network's own training people,
    where both have photos, the validation threshold is a share of their pairs of different people; the shipped
    network's threshold lets the same share of its own pairs through (docs/experiments.md)."""
    return float(round(np.quantile(different_people_pairs(embeddings, labels), 1 - share), 3))


def roc(scores: np.ndarray, same: np.ndarray) -> dict:
    """Verification ("same person?" by similarity >= t), every threshold t: false and true accept rates, and the
    equal-error rate (where false accepts = false rejects) with its threshold."""
    order = np.argsort(-scores, kind="stable")
    s, positive = scores[order], same[order]
    tpr = np.concatenate([[0.0], np.cumsum(positive) / positive.sum()])
    fpr = np.concatenate([[0.0], np.cumsum(~positive) / (~positive).sum()])
    thresholds = np.concatenate([[np.inf], s])
    frr = 1 - tpr
    k = int(np.argmin(np.abs(fpr - frr)))
    return {"fpr": fpr, "tpr": tpr, "thresholds": thresholds, "eer": float((fpr[k] + frr[k]) / 2),
            "eer_threshold": float(thresholds[k])}


def open_set(embeddings: np.ndarray, labels: np.ndarray, known: list[int], unknown: list[int],
             threshold: float) -> dict:
    """Gallery = one photo of each `known` person; probes: their other photos (should be accepted: best similarity
    >= threshold; and named right) and every photo of the `unknown` people (should be rejected). Averaged over
    the 10 choices of gallery photo."""
    people = by_person(labels)
    accepted, named, rejected = [], [], []
    strangers = np.concatenate([people[p] for p in unknown])
    for k in range(min(len(people[p]) for p in known)):
        gallery = np.array([people[p][k] for p in known])
        probes = np.array([i for p in known for j, i in enumerate(people[p]) if j != k])
        sim = embeddings[probes] @ embeddings[gallery].T
        best = sim.max(1)
        accepted.append(float((best >= threshold).mean()))
        named.append(float(((best >= threshold) & (labels[gallery][sim.argmax(1)] == labels[probes])).mean()))
        rejected.append(float(((embeddings[strangers] @ embeddings[gallery].T).max(1) < threshold).mean()))
    return {"threshold": float(threshold), "known_accepted": float(np.mean(accepted)),
            "known_accepted_and_named": float(np.mean(named)), "unknown_rejected": float(np.mean(rejected)),
            "known": list(map(int, known)), "unknown": list(map(int, unknown))}


def choose_threshold(embeddings: np.ndarray, labels: np.ndarray, known: list[int], unknown: list[int]) -> float:
    """The threshold at which `open_set` accepts as many known probes as it rejects strangers (both rates
    equal): chosen on people the network never trained on, within the training people (the validation run)."""
    return choose_threshold_pooled([(embeddings, labels, known, unknown)])


def choose_threshold_pooled(problems: list[tuple]) -> float:
    """`choose_threshold` over several open-set problems at once, each (embeddings, labels, known, unknown) (the
    validation folds, each network with its own people): the threshold at which the mean accepted equals the mean
    rejected. One network and one split of ten people set a threshold that moves by hundredths between seeds."""
    def gap(t: float) -> float:
        rs = [open_set(e, labels, known, unknown, t) for e, labels, known, unknown in problems]
        return abs(np.mean([r["known_accepted"] for r in rs]) - np.mean([r["unknown_rejected"] for r in rs]))

    candidates = np.linspace(-0.2, 1.0, 1201)
    coarse = candidates[::10][int(np.argmin([gap(t) for t in candidates[::10]]))]
    fine = candidates[(candidates > coarse - 0.01) & (candidates < coarse + 0.01)]
    return float(fine[int(np.argmin([gap(t) for t in fine]))])


# ---------------------------------------------------------------- the model card's text


def card_text(meta: dict) -> list[str]:
    """The card's measured lines (markdown), from the checkpoint's JSON."""
    m, split, t = meta["metrics"], meta["split"], meta["threshold"]
    unseen = m["unseen"]
    lines = [
        f"**Split:** {split['description']}",
        f"**One photo per person is enough:** {unseen['one_shot']['accuracy']:.1%} of the 9 other photos of each of "
        f"the {unseen['one_shot']['people']} unseen people named right from one gallery photo each (mean over the "
        f"10 choices of gallery photo; worst choice {min(unseen['one_shot']['by_gallery_photo']):.1%})",
        f"**Verification** (same person or not, every pair of the unseen people's photos): equal-error rate "
        f"{unseen['eer']:.1%}",
        f"**Not in the gallery:** gallery = people {unseen['open_set']['known'][0]}–{unseen['open_set']['known'][-1]}"
        f" (one photo each): {unseen['open_set']['known_accepted']:.1%} of their other photos accepted "
        f"({unseen['open_set']['known_accepted_and_named']:.1%} accepted and named right), "
        f"{unseen['open_set']['unknown_rejected']:.1%} of people {unseen['open_set']['unknown'][0]}–"
        f"{unseen['open_set']['unknown'][-1]} rejected, at similarity threshold {t['value']:.3f} ({t['chosen']})",
    ]
    base = m.get("eigenfaces")
    if base:
        lines.append(f"**Eigenfaces baseline** (the classic: PCA of people 0–29's photos, {base['components']} "
                     f"components, nearest neighbour), same protocol: one-shot {base['one_shot']['accuracy']:.1%}, "
                     f"equal-error rate {base['eer']:.1%} (`{base['command']}`)")
    if "validation" in m:
        v = m["validation"]
        folds = meta["split"].get("validation_folds", [meta["split"]["validation"]])
        lines.append(f"**Validation run** ({len(folds)} fold{'s' * (len(folds) > 1)}, each trained on 20 of people "
                     "0–29 and measured on the other 10, which chose the views and the threshold; mean over the "
                     f"folds): one-shot {v['one_shot']['accuracy']:.1%}, equal-error rate {v['eer']:.1%}, open set "
                     f"{v['open_set']['known_accepted']:.1%} accepted / {v['open_set']['unknown_rejected']:.1%} "
                     f"rejected at {v['open_set']['threshold']:.3f}")
        if v.get("views"):
            lines.append(f"**Views compared on the validation people** (of those of at most {MAX_VIEWS} views, for "
                         "`embed`'s 10 ms, the lowest equal-error rate chosen, a tie to fewer views): " + "; ".join(
                             f"{name}{' (chosen)' if name == v.get('chosen') else ''}"
                             f"{'' if c.get('eligible', True) else ' (too slow)'}: {c['views']['count']} view"
                             f"{'s' * (c['views']['count'] > 1)}, equal-error rate {c['eer']:.2%}, one-shot "
                             f"{c['one_shot']:.1%}" for name, c in v["views"].items()))
    for a in meta.get("alternatives", []):
        u = a["metrics"]
        lines.append(f"**Another recipe tried, not shipped (“{a['name']}”):** {a['note']}. On the unseen people: one-shot "
                     f"{u['one_shot']:.1%}, equal-error rate {u['eer']:.1%}, open set {u['known_accepted']:.1%} accepted"
                     f" / {u['unknown_rejected']:.1%} rejected; {a['minutes']:.0f} min on {a['hardware']} "
                     f"(`{a['command']}`)")
    if "one_room" in m:
        rooms = m["one_room"]["rooms"]
        lines.append("**One camera, one room:** how often two different people are taken for one (their similarity "
                     "reaches the threshold), when every photo of people 30–39 is changed the same way, as one camera "
                     "in one room changes everyone it sees: " + "; ".join(
                         f"{name.split(': ')[-1]}: {r['different_people']:.0%}" for name, r in rooms.items()) +
                     ". So light faces evenly from the front and fill the guide box; the page warns when two "
                     f"people added look alike to it (`{m['one_room']['command']}`)")
    if "embed_ms" in m:
        lines.append(f"**Speed:** `embed` {m['embed_ms']['median']:.1f} ms median on {m['embed_ms']['hardware']} "
                     f"(`{m['embed_ms']['command']}`)")
    lines.append(f"**Input:** grey, the photo's largest centred {ORL_SIZE[1]}:{ORL_SIZE[0]} box (a camera shot: "
                 f"the guide box), resized to {INPUT_HEIGHT}×{INPUT_WIDTH}, normalised")
    views = Views.from_record(meta.get("views"))
    if views.count > 1:
        lines.append(f"**Views:** {views.describe()} go through the network in one batch; the embedding is their "
                     "embeddings' mean, made a unit vector again" + (" (a face and its mirror image get the same "
                                                                      "embedding)" if views.mirror else ""))
    return lines
