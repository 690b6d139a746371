"""The microphone and the camera need a secure page: browsers give them only to https pages, or to pages opened on
this computer (localhost, 127.0.0.0/8, ::1). A phone that opens the laptop's http://192.168.1.20:8501 gets neither:
Streamlit's recorder then says only "An error has occurred", its camera waits for a permission that never comes.

So a page asks `media_allowed()` before it shows st.audio_input or st.camera_input, and shows `insecure_note(kind)`
instead when it is False: one sentence on why, and what works now. Known from the page's URL in the viewer's browser
(st.context.url), else from the WebSocket's Origin header; when neither says (AppTest without a URL), allowed: a
widget that may fail is better than hiding one that would work.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import streamlit as st

WHAT = {"microphone": ("Recording", "microphone", "upload a recording instead"),
        "camera": ("Taking a photo", "camera", "upload a photo instead")}


def trustworthy_host(host: str | None) -> bool:
    """A host browsers treat as secure even over http: localhost, *.localhost, 127.0.0.0/8, ::1 (as Chromium and
    Firefox do; 0.0.0.0 is not)."""
    if not host:
        return False
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secure_origin(url: str | None) -> bool | None:
    """Whether a page at `url` is a secure context: True (https, or http on this computer), False (http from
    another host), None (no URL, or not one this can read)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme == "https":
        return True
    if parts.scheme != "http" or not host:
        return None
    return trustworthy_host(host)


def _page_origin() -> str | None:
    try:
        return st.context.url or st.context.headers.get("Origin")
    except Exception:  # noqa: BLE001 - outside a session (a bare script run): nothing to go by
        return None


def media_allowed() -> bool:
    """False when the viewer's browser will refuse the microphone and the camera (an http page on another
    computer's address); True otherwise, or when it can't be known."""
    return secure_origin(_page_origin()) is not False


def insecure_note(kind: str, instead: str | None = None) -> None:
    """In place of a recorder (kind "microphone") or a camera ("camera"): why it is not there, and what works.
    `instead` replaces the default "upload a recording/photo instead" where that is not on offer."""
    doing, device, alternative = WHAT[kind]
    st.info(f"**{doing} needs https:** browsers allow the {device} only on https pages (or on the computer that "
            f"runs the app), so {instead or alternative}, or ask the presenter for the https link.",
            icon=":material/lock:")
