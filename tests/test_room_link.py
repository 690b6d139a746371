"""The Share box's link and QR code from a laptop (ui/room_address.py): never http://localhost… to phones (issue 36:
a presenter running `streamlit run app.py` got http://localhost:8501/… in the box and in the code)."""
from __future__ import annotations

import io

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from ui import room_address, share
from ui.room_address import COMMAND, ENV, Settings, room_base

LAN = "192.168.1.20"


def lan():
    return LAN


def no_lan():
    return None


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.1.1", "[::1]", "0.0.0.0", "app.localhost"])
def test_on_localhost_a_server_listening_everywhere_shares_the_lan_address(host):
    base = room_base(f"http://{host}:8501/translate", Settings(listen=None), lan)
    assert base == room_address.RoomBase(f"http://{LAN}:8501/translate", True, base.note)
    assert LAN in base.note
    assert room_base("http://localhost:8501", Settings(listen="0.0.0.0"), lan).url == f"http://{LAN}:8501"
    assert room_base("http://localhost:8501/digits", Settings(listen="::"), lan).url == f"http://{LAN}:8501/digits"


def test_on_localhost_a_server_listening_on_localhost_only_gives_the_command_and_no_code():
    for listen in ("127.0.0.1", "localhost", "::1"):
        base = room_base("http://localhost:8501/photos", Settings(listen=listen), lan)
        assert not base.scannable and COMMAND in base.note and "localhost" in base.note
        assert room_address.HTTPS_COMMAND in base.note  # the command that also lets phones record
        assert base.url == "http://localhost:8501/photos"  # still the right link on this computer


def test_a_server_listening_on_one_address_shares_it():
    base = room_base("http://127.0.0.1:8501/faces", Settings(listen="10.0.0.7"), lan)
    assert base.url == "http://10.0.0.7:8501/faces" and base.scannable
    assert room_base("http://localhost:8501/", Settings(listen="fe80::1"), lan).url == "http://[fe80::1]:8501/"


def test_no_network_or_a_container_gives_a_hint_instead_of_a_code():
    base = room_base("http://localhost:8501/digits", Settings(), no_lan)
    assert not base.scannable and "no network address" in base.note
    base = room_base("http://localhost:8080/digits", Settings(in_container=True), lan)
    assert not base.scannable and ENV in base.note and LAN not in base.url


def test_a_page_opened_on_another_address_keeps_it():
    for url in ("http://192.168.1.20:8501/translate", "https://dll.example.org/live", "http://my-laptop:8501"):
        base = room_base(url, Settings(listen="127.0.0.1"), no_lan)
        assert base == room_address.RoomBase(url, True, "" if url.startswith("https") else HTTPS_LINE)


# ---- https: what phones need to record and take photos (ui/secure.py) ----------------------------------------------
HTTPS_LINE = ("Over http, phones can't record or take photos (browsers allow that on https pages only): "
              f"`{room_address.HTTPS_COMMAND}` serves this app over https.")


@pytest.mark.parametrize("url,config,expected", [
    ("https://localhost:8501/speech", Settings(), f"https://{LAN}:8501/speech"),  # served over https: its link too
    ("https://room.test:8501/speech", Settings(listen="127.0.0.1"), "https://room.test:8501/speech"),
    ("http://localhost:8501/speech", Settings(public="https://dll.example.org"), "https://dll.example.org/speech"),
])
def test_served_over_https_or_with_an_https_public_url_the_link_is_https_and_says_nothing_of_it(url, config, expected):
    base = room_base(url, config, lan)
    assert base.url == expected and base.scannable
    assert "Over http" not in base.note


def test_a_plain_http_link_for_phones_says_they_cant_record_and_the_command_that_fixes_it():
    base = room_base("http://localhost:8501/speech", Settings(), lan)
    assert base.url == f"http://{LAN}:8501/speech"
    assert base.note.endswith("\n\n" + HTTPS_LINE) and LAN in base.note  # its own line, after the address's
    base = room_base("http://localhost:8501/", Settings(public="http://192.168.1.20:8080"), lan)
    assert "can't record or take photos" in base.note and f"set {ENV} to its https address" in base.note
    assert room_address.HTTPS_COMMAND not in base.note  # behind a proxy the laptop command is not the fix
    for url, config in (("http://localhost:8501/speech", Settings(listen="127.0.0.1")),  # no code: nothing to add
                        ("http://localhost:8501/speech", Settings(in_container=True))):
        assert "Over http" not in room_base(url, config, lan).note


def test_a_public_url_wins_and_keeps_the_page_path():
    config = Settings(public="https://dll.example.org/room", listen="127.0.0.1", in_container=True)
    assert room_base("http://localhost:8501/translate", config, no_lan).url == "https://dll.example.org/room/translate"
    assert room_base("http://10.1.2.3:8501/", config, no_lan).url == "https://dll.example.org/room"
    config = Settings(public="https://dll.example.org", base_path="dll")  # the server's own prefix is not repeated
    assert room_base("http://localhost:8501/dll/photos", config, no_lan).url == "https://dll.example.org/photos"
    assert room_base("http://localhost:8501/dll", config, no_lan).url == "https://dll.example.org"


@pytest.mark.parametrize("value,expected", [
    ("https://dll.example.org/", "https://dll.example.org"),
    ("http://192.168.1.20:8080", "http://192.168.1.20:8080"),
    ("dll.example.org/room/", "http://dll.example.org/room"),
])
def test_public_urls_are_normalised(value, expected):
    assert room_address.public_url(value) == expected


@pytest.mark.parametrize("value", ["ftp://x.org", "http://", "http://x.org:port", "http://x .org", "https://x.org/?a=1"])
def test_bad_public_urls_are_refused_with_a_reason(value):
    with pytest.raises(ValueError) as error:
        room_address.public_url(value)
    assert str(error.value)


def test_streamlit_browser_server_address_and_port():
    assert room_address.streamlit_public("dll.example.org", 443) == "https://dll.example.org"
    assert room_address.streamlit_public("dll.example.org/room", 80) == "http://dll.example.org/room"
    assert room_address.streamlit_public("10.0.0.5", 8080) == "http://10.0.0.5:8080"


@pytest.fixture
def streamlit_options():
    """Set Streamlit options for one test; the defaults come back after it."""
    from streamlit import config

    changed = {}

    def set_option(name, value):
        changed.setdefault(name, (config.get_option(name), config.get_where_defined(name)))
        config.set_option(name, value)

    yield set_option
    for name, (value, where) in changed.items():
        config.set_option(name, value, where)


def test_settings_read_the_environment_then_streamlit(monkeypatch, streamlit_options):
    monkeypatch.delenv(ENV, raising=False)
    assert room_address.settings().public is None
    streamlit_options("browser.serverAddress", "dll.example.org")
    streamlit_options("browser.serverPort", 443)
    streamlit_options("server.address", "127.0.0.1")
    config = room_address.settings()
    assert config.public == "https://dll.example.org" and config.listen == "127.0.0.1"
    monkeypatch.setenv(ENV, "http://192.168.1.20:8080/")
    assert room_address.settings().public == "http://192.168.1.20:8080"
    monkeypatch.setenv(ENV, "ftp://nope")  # ignored, said so; Streamlit's address still applies
    config = room_address.settings()
    assert config.public == "https://dll.example.org" and f"{ENV}='ftp://nope' is ignored" in config.public_problem


def test_lan_address_is_not_loopback():
    address = room_address.lan_address()
    assert address is None or not room_address.is_loopback(address)


# ---- the Share box -----------------------------------------------------------------------------------------------
def open_translate(monkeypatch, url: str) -> tuple[AppTest, list[bytes]]:
    from streamlit.runtime.media_file_manager import MediaFileManager

    images, add = [], MediaFileManager.add

    def recording_add(self, content, mimetype, *args, **kwargs):
        if mimetype == "image/png":
            images.append(content)
        return add(self, content, mimetype, *args, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add", recording_add)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.query_params["text"] = "Where is the station?"
    at.context["url"] = url
    at.switch_page("app_pages/translate.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at, images


def test_the_share_box_on_localhost_shares_the_lan_address_in_the_link_and_the_code(monkeypatch):
    import zxingcpp
    from PIL import Image

    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(room_address, "in_container", lambda: False)
    monkeypatch.setattr(room_address, "lan_address", lan)
    at, images = open_translate(monkeypatch, "http://localhost:8501/translate")
    (code,) = at.code
    assert code.value == f"http://{LAN}:8501/translate?text=Where+is+the+station%3F"
    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(images[-1])))
    assert decoded.text == code.value
    assert any(LAN in caption.value for caption in at.caption)


def test_the_share_box_of_a_localhost_only_server_gives_the_command_and_no_code(monkeypatch, streamlit_options):
    monkeypatch.delenv(ENV, raising=False)
    streamlit_options("server.address", "127.0.0.1")
    at, images = open_translate(monkeypatch, "http://127.0.0.1:8501/translate")
    (code,) = at.code
    assert code.value == "http://127.0.0.1:8501/translate?text=Where+is+the+station%3F"
    (warning,) = at.warning
    assert COMMAND in warning.value
    assert not any(share.qr_png(code.value) == image for image in images)  # no code of a localhost link


def test_the_share_box_uses_the_public_url(monkeypatch):
    monkeypatch.setenv(ENV, "https://dll.example.org")
    at, _ = open_translate(monkeypatch, "http://localhost:8501/translate")
    (code,) = at.code
    assert code.value == "https://dll.example.org/translate?text=Where+is+the+station%3F"


def test_the_share_box_gives_the_https_link_over_https_and_the_fix_over_http(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(room_address, "in_container", lambda: False)
    monkeypatch.setattr(room_address, "lan_address", lan)
    at, _ = open_translate(monkeypatch, "https://localhost:8501/translate")
    (code,) = at.code
    assert code.value == f"https://{LAN}:8501/translate?text=Where+is+the+station%3F"
    assert not any("Over http" in caption.value for caption in at.caption)
    at, _ = open_translate(monkeypatch, "http://room.test:8501/translate")  # a phone's view of a plain http server
    (code,) = at.code
    assert code.value.startswith("http://room.test:8501/translate")
    assert any(caption.value == HTTPS_LINE for caption in at.caption)
