"""Deep Learning Live: page config and navigation (the examples are listed in app_pages/registry.py), and what
every page has around it: the presenter mode and the running tour's bar (ui/presenter.py, ui/tour.py)."""
import streamlit as st

from app_pages.registry import sections
from ui import presenter, room, style, tour

presenting = presenter.arrive()  # ?present=1, or the session's mode: before the page config, which uses it
st.set_page_config(page_title="Deep Learning Live", page_icon="🧠", layout="wide",
                   initial_sidebar_state="collapsed" if presenting else "auto")

# The folder is app_pages/, not pages/: Streamlit would also auto-discover a pages/ folder and, on a fresh
# server opened at a deep link such as /digits, show that folder's navigation instead.
pages = {"": [st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
              # not an example (no model card): the room's screen, what the phones in a room did (ui/room.py)
              st.Page("app_pages/room.py", title="The room", icon=":material/groups:", url_path="room")]}
for section, examples in sections().items():
    pages[section] = [st.Page(e.page, title=e.title, icon=e.icon) for e in examples]
page = st.navigation(pages)

style.inject()
presenter.switch("sidebar")
if presenting:
    presenter.switch("top")  # the sidebar is collapsed: the switch also sits in the page's top bar
tour.arrive(page.url_path)  # ?tour=NAME&step=K: may open another page
tour.bar(page.url_path)
room.arrive()  # ?room=CODE: a phone in a room; the line at the top, with Leave
page.run()
