"""What the pages share, by role: `loading` (the cached model loader), `card` (the model card and training
curves), `charts` (generic figures, colours and words). Figures for one page only live next to it, in
app_pages/figures/. Kept free of torch at import time, so the home page stays light."""

# Until the digits and speech pages import from the submodules (being edited elsewhere): the old names.
from ui.card import epoch_lines, model_card, training_curves  # noqa: E402,F401
from ui.charts import ACCENT, article, feature_grid, image_heatmap, probability_bars  # noqa: E402,F401
from ui.loading import load_model  # noqa: E402,F401
from app_pages.figures.speech import speech_figure  # noqa: E402,F401
