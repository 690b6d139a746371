"""A picture for Chromium's fake camera: `--use-fake-device-for-media-stream --use-file-for-fake-video-capture=F.y4m`
shows the frames of a Y4M file (raw YUV 4:2:0) instead of its default test pattern, so a test can photograph a known
thing (a cat) with st.camera_input."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps


def y4m(image: Image.Image, width: int = 640, height: int = 480, frames: int = 2) -> bytes:
    """`image` cropped to fill width x height, as a Y4M video of `frames` identical frames (BT.601, full range, as
    C420jpeg says)."""
    rgb = np.asarray(ImageOps.fit(image.convert("RGB"), (width, height)), np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    v = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b

    def half(plane):  # 4:2:0: one chroma sample per 2x2 pixels
        return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    planes = [np.clip(p, 0, 255).round().astype(np.uint8).tobytes() for p in (y, half(u), half(v))]
    header = f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode()
    return header + b"".join(b"FRAME\n" + b"".join(planes) for _ in range(frames))


def chelsea_y4m() -> bytes:
    """Chelsea the cat (scikit-image's sample photo), mirrored: the photo page's example, not its exact pixels."""
    from importlib import resources

    chelsea = Image.open(resources.files("skimage") / "data" / "chelsea.png")
    return y4m(ImageOps.mirror(chelsea))
