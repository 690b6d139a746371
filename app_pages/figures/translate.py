"""The translate page's figure: the attention map."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go


def attention_heatmap(attention, source_tokens: list[str], target_tokens: list[str]) -> go.Figure:
    """Attention weights, one row per target subword (top to bottom, as written) x source subwords."""
    def labels(tokens: list[str]) -> list[str]:
        # Plotly reads < > as its HTML-like markup ("</s>" would vanish, "<b>" would turn bold): show look-alikes.
        # Its category axes merge repeated labels: make each unique with zero-width spaces.
        shown = ["(end)" if t == "</s>" else t.replace("<", "‹").replace(">", "›") for t in tokens]
        return [t + "\u200b" * i for i, t in enumerate(shown)]

    side = 28  # pixels per token row
    return go.Figure(
        go.Heatmap(z=np.asarray(attention), x=labels(source_tokens), y=labels(target_tokens), zmin=0, zmax=1,
                   colorscale="Blues", colorbar=dict(title=dict(text="weight"), thickness=12),
                   hovertemplate="%{y} ← %{x}: %{z:.2f}<extra></extra>"),
        layout=dict(height=max(260, 90 + side * len(target_tokens)), margin=dict(l=10, r=10, t=30, b=10),
                    xaxis=dict(side="top", type="category", tickangle=-45),
                    yaxis=dict(autorange="reversed", type="category")),
    )
