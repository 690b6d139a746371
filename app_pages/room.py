"""The room: the presenter opens one, phones join by QR code (`?room=CODE` on any page), and this screen
(`/room?code=CODE`, made for `?present=1`) shows what the room did, refreshed by itself."""
import streamlit as st

from models import digits
from ui import room, room_screen, room_store, room_summary
from ui.loading import load_model, model_meta
from ui.presenter import explain

st.title("👥 The room")
code = room_store.normal_code(st.query_params.get("code"))
key = st.query_params.get("key")
store = room.store()

if code is None:
    explain("Open a room, then show its QR code: each phone that scans it opens the demo **in the room**, and what "
            "the phones draw, say and photograph appears here, anonymously, as it happens.")
    if st.query_params.get("code"):
        st.warning("This link's room code can't be right (8 letters and digits).", icon=":material/group_off:")
    if st.button("Open a room", type="primary", icon=":material/groups:"):
        try:
            opened = store.open()
        except room_store.RoomError as error:
            st.error(error.message, icon=":material/cloud_off:")
            st.stop()
        st.session_state["room_presenter"] = (opened.code, opened.key)
        st.query_params.update({"code": opened.code, "key": opened.key, "present": "1"})
        st.rerun()
    st.stop()

try:
    presenter = store.check(code, key)
    if presenter:
        st.session_state["room_presenter"] = (code, key)
    elif st.session_state.get("room_presenter") == (code, key):
        presenter = True  # this session opened it or proved the key: after a restarted Redis, it puts the room back
except room_store.Unreachable:
    presenter = st.session_state.get("room_presenter") == (code, key)
if key and not presenter:
    st.warning("This presenter key is not this room's: the screen is shown, the presenter's controls are not.",
               icon=":material/key_off:")

link, base = room_screen.phone_link(code)
join, qr = st.columns([3, 1], vertical_alignment="center")
with join:
    st.markdown(f"## Room **{code}**")
    st.markdown("Scan the code, or open:")
    st.code(link, language=None, wrap_lines=True)
    if base is not None and base.note:
        st.caption(base.note)
if base is None or base.scannable:
    from ui.share import qr_png

    qr.image(qr_png(link, 320), width=320)

model, _ = load_model(digits.NAME)
MNIST = model_meta(digits.NAME)["metrics"]["test_accuracy"]


@st.fragment(run_every=room_screen.REFRESH_S)
def screen() -> None:
    try:
        if presenter:
            store.ensure(room_store.Room(code, key))
        stats, events = store.stats(code), store.events(code)
    except room_store.Unreachable as error:
        st.error(f"**The room's store is unreachable.** {error.message}", icon=":material/cloud_off:")
        return
    except room_store.NoSuchRoom as error:
        st.warning(error.message, icon=":material/group_off:")
        return
    by_kind = room_summary.answers(events)
    a, b, c = st.columns(3)
    a.metric("Phones joined", stats.phones)
    b.metric("Answers in", sum(len(v) for v in by_kind.values()))
    c.metric("Events", stats.events + stats.dropped,
             help="Every answer and tap a phone sent")
    if stats.dropped:
        st.caption(f"The room keeps its latest {room_store.MAX_EVENTS:,} events: the {stats.dropped:,} oldest "
                   "were dropped.")
    room_screen.digits_part(by_kind.get("digit", []), MNIST)
    if by_kind.get("photo"):
        room_screen.photos_part(by_kind["photo"])
    if by_kind.get("speech"):
        room_screen.speech_part(by_kind["speech"])
    if by_kind.get("live"):
        room_screen.live_part(by_kind["live"])
    if presenter:
        room_screen.fine_tuning_part(code)
        st.divider()
        room_screen.presenter_controls(code, key, by_kind.get("digit", []), model)


screen()
