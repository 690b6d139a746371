"""The speech page's figure: waveform, spectrogram and CTC posteriors on one time axis."""
from __future__ import annotations

import copy
import functools

import numpy as np
import plotly.graph_objects as go

from ui.charts import ACCENT, GROUP_COLOURS, MUTED


@functools.lru_cache(maxsize=1)
def _speech_layout() -> dict:
    """speech_figure's three stacked panels on one time axis: built once with make_subplots (slow), reused."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.2, 0.4, 0.4],
                        subplot_titles=("waveform", "log-mel spectrogram (what the network reads)",
                                        "network output per frame (CTC posteriors)"))
    fig.update_yaxes(visible=False, row=1, col=1)
    fig.update_yaxes(title="band", row=2, col=1)
    fig.update_yaxes(title="probability", range=[0, 1.18], row=3, col=1)
    fig.update_xaxes(title="seconds", row=3, col=1)
    fig.update_layout(height=620, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.12),
                      hovermode="x unified")
    return fig.layout.to_plotly_json()


def speech_figure(result, labels: list[str], hop_seconds: float) -> go.Figure:
    """Waveform, log-mel spectrogram and per-frame CTC posteriors of a transcript, on one time axis
    (panels: axes x/y, x2/y2, x3/y3 of _speech_layout)."""
    prepared = result.prepared
    wave = prepared.waveform
    step = max(1, len(wave) // 3000)  # a few thousand points are enough for the eye
    seconds_per_sample = prepared.features.shape[1] * hop_seconds / max(1, len(wave))  # the spectrogram's time axis
    t_wave = np.arange(0, len(wave), step) * seconds_per_sample
    mel = prepared.features.numpy()
    traces = [
        go.Scatter(x=t_wave, y=wave[::step], mode="lines", line=dict(color=MUTED, width=1), showlegend=False,
                   hoverinfo="skip", xaxis="x", yaxis="y"),
        go.Heatmap(z=mel, x=np.arange(mel.shape[1]) * hop_seconds, colorscale="Magma", showscale=False,
                   hovertemplate="%{x:.2f} s, band %{y}<extra></extra>", xaxis="x2", yaxis="y2"),
    ]
    layout = copy.deepcopy(_speech_layout())
    if len(result.posteriors):
        t = np.arange(len(result.posteriors)) * result.frame_seconds
        for k, label in enumerate(labels):
            colour = "#cccccc" if k == 0 else GROUP_COLOURS[(k - 1) % len(GROUP_COLOURS)]
            traces.append(go.Scatter(x=t, y=result.posteriors[:, k], mode="lines", name=label,
                                     line=dict(color=colour, width=2), hovertemplate=label + " %{y:.2f}<extra></extra>",
                                     xaxis="x3", yaxis="y3"))
        for (start, end), digit in zip(result.spans, result.digits.split()):
            layout["annotations"].append(dict(x=(start + end) / 2, y=1.08, text=f"<b>{digit}</b>", showarrow=False,
                                              font=dict(size=16, color=ACCENT), xref="x3", yref="y3"))
    return go.Figure(traces, layout=layout)
