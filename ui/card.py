"""The model card: architecture, size, measured metrics, provenance; and the training curves."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from ui.charts import ACCENT


def model_card(meta: dict, metric_lines: list[str]) -> None:
    """The model card: architecture, size, measured metrics, training and data provenance."""
    training, data = meta["training"], meta["data"]
    st.markdown(
        "\n".join(
            [
                f"- **Architecture:** {meta['architecture']}",
                f"- **Parameters:** {meta['parameters']:,}",
                *[f"- {line}" for line in metric_lines],
                f"- **Training:** {training['seconds'] / 60:.1f} min on {training['hardware']}"
                f" ({training.get('precision', 'fp32')}, torch {training['torch']})",
                f"- **Reproduce:** `{training['command']}`",
                f"- **Data:** {data['dataset']} — license: {data['license']}",
            ]
        )
    )


# The model cards' curves never change, but building a Plotly figure (make_subplots, update_layout: validation
# at every step) was a quarter of the server's time under load (py-spy, benchmarks/load_ws.py). Built once per
# model and shared: st.plotly_chart only reads a figure (to_dict), so sharing one object is safe. The cache key
# is the model's name: arguments with a leading underscore are not hashed (hashing a curve took 4 ms a call).
@st.cache_resource(show_spinner=False, max_entries=64)
def training_curves(name: str, _curve: list[dict], metric: str = "accuracy") -> go.Figure:
    """Loss and a metric per epoch, for training and test, from model `name`'s checkpoint JSON."""
    curve = _curve
    from plotly.subplots import make_subplots

    epochs = [row["epoch"] for row in curve]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss (cross-entropy)", metric))
    for split, dash in (("train", "solid"), ("test", "dot")):
        # A run may evaluate on the test set every few epochs only (train.photos --eval-every): gaps are joined.
        fig.add_scatter(x=epochs, y=[r.get(f"{split}_loss") for r in curve], name=f"{split} loss",
                        line=dict(dash=dash), connectgaps=True, row=1, col=1)
        fig.add_scatter(x=epochs, y=[r.get(f"{split}_{metric}") for r in curve], name=f"{split} {metric}",
                        line=dict(dash=dash), connectgaps=True, row=1, col=2)
    fig.update_xaxes(title="epoch", dtick=1 if len(epochs) <= 20 else None)
    fig.update_yaxes(type="log", dtick=1, row=1, col=1)  # ticks at powers of ten
    fig.update_yaxes(tickformat=".2%", row=1, col=2)
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.3))
    return fig


@st.cache_resource(show_spinner=False, max_entries=64)
def curve_panels(name: str, _curve: list[dict], series: dict[str, str], title: str = "") -> go.Figure:
    """epoch_lines of model `name`'s checkpoint curve, built once (see training_curves)."""
    return epoch_lines(_curve, series, title)


def epoch_lines(curve: list[dict], series: dict[str, str], title: str = "", x_title: str = "epoch") -> go.Figure:
    """Per-epoch values from a checkpoint's curve: series maps a curve key to its label; each gets its own panel.
    `x_title`: what the curve's "epoch" counts (fine-tuning steps on the speech page)."""
    from plotly.subplots import make_subplots

    epochs = [row["epoch"] for row in curve]
    fig = make_subplots(rows=1, cols=len(series), subplot_titles=list(series.values()))
    for col, key in enumerate(series, start=1):
        fig.add_scatter(x=epochs, y=[row[key] for row in curve], mode="lines+markers", name=series[key],
                        line=dict(color=ACCENT), row=1, col=col)
    fig.update_xaxes(title=x_title, dtick=1 if len(epochs) <= 20 else None)
    fig.update_layout(title=title, height=300, margin=dict(l=10, r=10, t=50, b=10), showlegend=False)
    return fig
