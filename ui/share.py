"""Shareable views: each page's main state lives in the URL, and a "Share this view" control gives its link and a
QR code of it.

A page declares its parameters once, as a `View` of `Param`s (the name in the URL, the widget's st.session_state
key, how to read a value from the URL and write it back), then calls, on every run:

    SHARE = share.View("translate", [
        share.Param("text", "sentence", share.text(translate.MAX_CHARS), default=EXAMPLES[0]),
        share.Param("beam", "beam", share.one_of(BEAM_SIZES), default=DEFAULT_BEAM),
    ])
    SHARE.restore()   # before the widgets: the link's values into st.session_state
    ...widgets with key="sentence", key="beam" (their defaults set in st.session_state, not with value=)...
    SHARE.sync()      # after the widgets: their values into the URL; the note and the share control filled in

`restore()` applies the URL only when it brings a new view: on the page's first run in the session (and each time
the viewer comes back to the page: Streamlit drops a page's widgets when another page is shown), or when the URL's
parameters differ from the ones `sync()` last wrote (a link opened in the same session, st.switch_page with
query_params, the browser's Back) while the page's values are still those `sync()` last saw. A run in which the
viewer moved one of them is the viewer's: the URL it arrives with can be older than the last `sync()` (keys pressed
faster than the browser applies the new URL: a slider held on its arrow key jumped back). Then every declared
parameter is set: from the URL when it is there and valid,
else back to its default. Otherwise (a rerun after the viewer moved a control) it does nothing, so the viewer's
changes are never overwritten. A value it can't use (an unknown option, out of range, too long, the wrong type,
not valid UTF-8, a name given twice) is ignored, never raised: the page's default is used, and one small note says
"Ignored from the link: beam=abc (…)", the value escaped as typed input is (shown as text, never as Markdown or
HTML), until the viewer changes the view.

`sync()` writes the current values (defaults left out, to keep links short) and may be called more than once in a
run (e.g. before an st.stop()). Parameters the page does not declare (presenter mode's `present`, the tour's `tour`
and `step`, Streamlit's `embed`) are never dropped or rewritten.
"""
from __future__ import annotations

import functools
import io
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlencode

import segno
import streamlit as st
from segno import DataOverflowError

from ui import room_address

# Kept in the URL but left out of a shared link: a viewer who scans the presenter's code gets the view, not
# presenter mode (ui/presenter.py) or the tour (ui/tour.py), nor Streamlit's embedding options.
NOT_SHARED = ("present", "tour", "step", "embed", "embed_options")
QR_MIN_PX = 400  # the QR code's side at least (a whole number of pixels per module): readable across a room
QR_BORDER = 4  # modules of quiet zone around the code, as the QR standard asks
QR_ERROR = "m"  # error correction level M: ~15 % of the code may be unreadable (a projector's glare)
SHOWN_CHARS = 40  # of an ignored value, in the note


class Invalid(ValueError):
    """A value from the URL the page can't use; its message says why, in a few words."""


# ---- parsing: raw text from the URL -> a value (raise Invalid) ---------------------------------------------------
def _clean(raw: str) -> str:
    if "\ufffd" in raw:  # what the URL's %-escapes decode to when they are not UTF-8
        raise Invalid("not valid UTF-8")
    if any(unicodedata.category(ch) == "Cc" for ch in raw):
        raise Invalid("control characters")
    return raw


def text(max_chars: int) -> Callable[[str], str]:
    """Free text, as typed: at most max_chars characters (the page's own input limit), no control characters."""
    def parse(raw: str) -> str:
        raw = _clean(raw)
        if len(raw) > max_chars:
            raise Invalid(f"{len(raw):,} characters, at most {max_chars:,}")
        return raw
    return parse


def integer(low: int, high: int) -> Callable[[str], int]:
    """A whole number from low to high."""
    def parse(raw: str) -> int:
        raw = _clean(raw).strip()
        if not re.fullmatch(r"[+-]?\d{1,9}", raw):
            raise Invalid(f"not a whole number from {low} to {high}")
        value = int(raw)
        if not low <= value <= high:
            raise Invalid(f"not from {low} to {high}")
        return value
    return parse


def one_of(values: Iterable[Any] | Mapping[str, Any], names: Callable[[Any], str] = str) -> Callable[[str], Any]:
    """One of a list of values, named in the URL by names(value) (or a mapping: URL name -> value). Numbers also
    match by value ("5.0" for 5, "0.03" for 0.030000000000000002); names, whatever their case."""
    table = dict(values) if isinstance(values, Mapping) else {names(v): v for v in values}
    shown = ", ".join(table)

    def parse(raw: str) -> Any:
        raw = _clean(raw).strip()
        for name, value in table.items():
            if raw.lower() == name.lower():
                return value
        try:
            number = float(raw)
        except ValueError:
            number = None
        if number is not None and math.isfinite(number):
            for value in table.values():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isclose(
                        number, value, rel_tol=1e-9, abs_tol=1e-12):
                    return value
        raise Invalid(f"not one of {shown}" if len(shown) <= 80 else "not one of the page's choices")
    return parse


def name_of(table: Mapping[str, Any]) -> Callable[[Any], str]:
    """The writer for a one_of mapping: a value -> its name in the URL."""
    inverse = {value: name for name, value in table.items()}
    return lambda value: inverse[value]


def slug(label: str) -> str:
    """A label as a URL word: "Spirals, 2×8 tanh" -> "spirals-2x8-tanh"."""
    label = unicodedata.normalize("NFKD", label.replace("×", "x")).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


# ---- a page's parameters ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """One URL parameter of a page.

    name:    its name in the URL.
    key:     the widget's st.session_state key, or a function giving it (None: not applicable now, e.g. a class
             for Grad-CAM while no example photo is shown), or None when `apply` and `read` do the work.
    parse:   the URL's text -> the value (raises Invalid, or ValueError, when it can't be used).
    write:   the value -> the URL's text (default str).
    default: the value left out of the link, or a function giving it (called by sync(), after the widgets);
             restored when the link doesn't have it. None or a function: the widget's own default is restored
             (the key is removed from st.session_state).
    apply:   instead of setting `key`: called with the value, or with None when the link doesn't have it.
    read:    instead of st.session_state[key]: the current value (None: not in the link).
    active:  False while the page doesn't show this parameter's widget: not in the link then.
    """
    name: str
    key: str | Callable[[], str | None] | None
    parse: Callable[[str], Any]
    write: Callable[[Any], str] = str
    default: Any = None
    apply: Callable[[Any], None] | None = None
    read: Callable[[], Any] | None = None
    active: Callable[[], bool] | None = None

    def state_key(self) -> str | None:
        return self.key() if callable(self.key) else self.key

    def default_value(self) -> Any:
        return self.default() if callable(self.default) else self.default

    def current(self) -> Any:
        if self.read is not None:
            return self.read()
        key = self.state_key()
        return None if key is None else st.session_state.get(key)

    def shown(self) -> bool:
        return self.active is None or bool(self.active())

    def set(self, value: Any) -> bool:
        """The value into the page's state (None: back to the default); False when the parameter doesn't apply."""
        if self.apply is not None:
            self.apply(value)
            return True
        key = self.state_key()
        if key is None:
            return False
        if value is None and not callable(self.default):  # a default known only later: the widget's own
            value = self.default
        if value is None:
            st.session_state.pop(key, None)
        else:
            st.session_state[key] = value
        return True


@dataclass
class View:
    """A page's shareable state: its parameters, in the order they are applied (a later one may depend on an
    earlier one, e.g. a preset before the settings it sets). on_restore(values) runs after a link was applied,
    with the values it brought ({name: value})."""
    page: str  # the page's URL path (app_pages/registry.py's name)
    params: list[Param]
    on_restore: Callable[[dict[str, Any]], None] | None = None
    _share: Any = field(default=None, init=False, repr=False)
    _note: Any = field(default=None, init=False, repr=False)
    _fresh: bool = field(default=False, init=False, repr=False)  # restore() applied the URL in this run

    @property
    def _seen(self) -> str:  # st.session_state: the owned parameters as sync() last wrote them
        return f"share_seen_{self.page}"

    @property
    def _values(self) -> str:  # st.session_state: the parameters' values when sync() last ran
        return f"share_values_{self.page}"

    def _snapshot(self) -> tuple:
        """The shown parameters' values, as sync() writes them. restore() takes it before the widgets, when a value
        may not be in st.session_state (a part not shown yet, a widget Streamlit dropped): None for it, not a raise."""
        def value(param: Param) -> str | None:
            try:
                return repr(param.current())
            except (AttributeError, KeyError):
                return None
        return tuple((p.name, value(p)) for p in self.params if p.shown())

    @property
    def _ignored(self) -> str:  # st.session_state: (the note's items, the URL they were ignored from)
        return f"share_ignored_{self.page}"

    @property
    def marker(self) -> str:  # the share control's key: in st.session_state while the page is shown
        return f"share_{self.page}"

    def _in_url(self) -> dict[str, list[str]]:
        return {p.name: st.query_params.get_all(p.name) for p in self.params if p.name in st.query_params}

    @staticmethod
    def _signature(owned: dict[str, list[str]]) -> tuple:
        return tuple(sorted((name, tuple(values)) for name, values in owned.items()))

    def restore(self) -> dict[str, Any]:
        """Before the widgets: apply the URL if it brings a new view (see the module's docstring); the values it
        applied ({} when nothing was). Also places the share control and the note, here, under the page's title."""
        state = st.session_state
        owned = self._in_url()
        fresh = self.marker not in state  # the page's first run, or back from another page: its controls were dropped
        if not fresh:  # a new URL, unless the viewer moved a control in this run (a URL older than the last sync)
            moved = self._values in state and state[self._values] != self._snapshot()
            fresh = state.get(self._seen) != self._signature(owned) and not moved
        box = st.container(horizontal=True, vertical_alignment="center", gap="small", key="share_box")
        # on_change makes the popover a widget: its key stays in st.session_state while the page is shown, and
        # Streamlit drops it when another page is: so coming back to the page is a new view, as a link is.
        self._share = box.popover("Share this view", icon=":material/qr_code_2:", key=self.marker,
                                  on_change=_nothing, help="This view's link, and a QR code of it").empty()
        self._note = box.empty()
        self._fresh = fresh
        if not fresh:
            return {}
        values, ignored = {}, []
        for param in self.params:
            raws = owned.get(param.name)
            value = None
            if raws is not None:
                if len(raws) > 1:
                    ignored += [(param.name, raw, f"given {len(raws)} times") for raw in raws]
                else:
                    try:
                        value = param.parse(raws[0])
                    except (Invalid, ValueError, TypeError) as error:
                        ignored.append((param.name, raws[0], str(error) or "not a value the page accepts"))
            if not param.set(value) and value is not None:
                ignored.append((param.name, raws[0], "not for what the page shows"))
            elif value is not None:
                values[param.name] = value
        if self.on_restore is not None:
            self.on_restore(values)
        state[self._ignored] = (ignored, None)
        return values

    def sync(self) -> None:
        """After the widgets: the current values into the URL; the note and the share control."""
        for param in self.params:
            want = None
            if param.shown():
                value = param.current()
                if value is not None and value != param.default_value():
                    want = param.write(value)
                    try:  # a value the link could not bring back (typed text over the page's limit): left out
                        param.parse(want)
                    except (Invalid, ValueError, TypeError):
                        want = None
            have = st.query_params.get_all(param.name)
            if want is None and have:
                del st.query_params[param.name]
            elif want is not None and have != [want]:
                st.query_params[param.name] = want
        signature = self._signature(self._in_url())
        st.session_state[self._seen] = signature
        st.session_state[self._values] = self._snapshot()
        ignored, since = st.session_state.get(self._ignored, ([], None))
        if self._fresh:  # the view the link made: the note stays while the viewer keeps it
            st.session_state[self._ignored] = (ignored, signature)
        elif since != signature:
            ignored = []
            st.session_state[self._ignored] = ([], signature)
        if self._note is not None:
            if ignored:
                self._note.caption("Ignored from the link: " + "; ".join(
                    f"{escape(f'{name}={shorten(raw)}')} ({escape(why)})" for name, raw, why in ignored))
            else:
                self._note.empty()
        if self._share is not None:
            with self._share.container():
                share_view(self.page)


def _nothing() -> None:
    """The share popover's on_change: nothing to do (opening it reruns the page, which is quick)."""


# ---- showing text from a URL ------------------------------------------------------------------------------------
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation mark, which Markdown may act on


def escape(value: str) -> str:
    """Text shown as itself inside st.markdown / st.caption: Markdown and HTML characters backslash-escaped, line
    breaks and other invisible characters as �."""
    value = "".join(ch if ch.isprintable() else "\ufffd" for ch in value)
    return _PUNCTUATION.sub(r"\\\1", value)


def shorten(value: str, limit: int = SHOWN_CHARS) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


# ---- the link and its QR code ------------------------------------------------------------------------------------
def link(page: str | None = None) -> str:
    """This view's full link: the page's URL (st.context.url) as the room can open it (ui/room_address.py: not
    localhost) and the query string of st.query_params, without NOT_SHARED's parameters. Outside a browser
    (AppTest without a URL) the page's path alone."""
    return _link(page)[0]


def _link(page: str | None) -> tuple[str, room_address.RoomBase | None]:
    base = None
    if st.context.url:
        base = room_address.room_base(st.context.url, room_address.settings())
    pairs = [(name, value) for name in st.query_params if name.lower() not in NOT_SHARED
             for value in st.query_params.get_all(name)]
    return (base.url if base else f"/{page or ''}") + ("?" + urlencode(pairs) if pairs else ""), base


@functools.lru_cache(maxsize=256)
def qr_png(url: str, min_px: int = QR_MIN_PX) -> bytes:
    """A QR code of url as a PNG, black on white, error correction M, a 4-module quiet zone, at least min_px
    pixels a side (a whole number of pixels per module, so that it stays sharp): made in memory. Raises
    DataOverflowError for a link over a QR code's capacity (about 2,300 characters).

    Kept for the last 256 links (a few KB each): the share control is drawn at every run of every page, and a
    code costs ~10 ms of pure Python (8 % of the server's CPU at 20 viewers); a room's viewers share views."""

    code = segno.make_qr(url, error=QR_ERROR, boost_error=False)
    side = code.symbol_size(scale=1, border=QR_BORDER)[0]
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=math.ceil(min_px / side), border=QR_BORDER, dark="#000000",
              light="#ffffff")
    return buffer.getvalue()


def _png_width(png: bytes) -> int:
    return int.from_bytes(png[16:20], "big")  # the IHDR chunk's width, right after the 8-byte signature


def share_view(page: str | None = None) -> str:
    """The "Share this view" control's content: the link in a code box (with its copy button) and a QR code of it,
    large enough to scan from the back of a room. Returns the link."""
    url, base = _link(page)
    if base is not None and not base.scannable:  # localhost, which no phone can open: what to do instead
        st.markdown("**Share this view:** copy the link.")
        st.code(url, language=None, wrap_lines=True)
        st.warning(base.note, icon=":material/wifi_off:")
        return url
    st.markdown("**Share this view:** scan the code, or copy the link.")
    st.code(url, language=None, wrap_lines=True)
    if base is not None and base.note:
        st.caption(base.note)
    try:
        png = qr_png(url)
    except DataOverflowError:
        st.caption("This link is too long for a QR code: copy it instead.")
        return url
    st.image(png, width=_png_width(png), output_format="PNG", caption="Opens this page with these settings (an uploaded file or a recording "
                                       "is never in the link).")
    return url
