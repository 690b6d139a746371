"""What the pages share, by role: `loading` (the cached model loader), `card` (the model card and training
curves), `charts` (generic figures, colours and words). Figures for one page only live next to it, in
app_pages/figures/. Kept free of torch at import time, so the home page stays light."""
