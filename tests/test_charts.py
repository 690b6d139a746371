"""ui/charts.py's feature grid: what every viewer of the digit, photo and face pages is sent at every run, kept small
(issue 36: the faces page's grid was 0.78 MB of chart per run, serialised, hashed and compressed for each viewer)."""
from __future__ import annotations

import numpy as np

from ui.charts import GAP, feature_grid


def test_the_feature_grid_is_8_bit_levels_with_transparent_gaps_and_each_map_s_channel():
    rng = np.random.default_rng(0)
    maps = rng.random((64, 64, 52), dtype=np.float32)
    maps[7] += 10  # the most active map comes first
    figure = feature_grid(maps, 32, columns=8, title="block1.conv1")
    (heatmap,) = figure.data
    z, channel = np.asarray(heatmap.z), np.asarray(heatmap.customdata)
    assert z.dtype == np.uint8 and z.shape == (4 * 65 - 1, 8 * 53 - 1)
    first = z[:64, :52].astype(float) / (GAP - 1)
    expected = (maps[7] - maps[7].min()) / np.ptp(maps[7])
    assert np.abs(first - expected).max() <= 0.5 / (GAP - 1) + 1e-6  # the map, to half a level
    assert (z[64, :] == GAP).all() and (z[:, 52] == GAP).all()  # the gaps between maps
    assert (channel[:65, :53] == 7).all()  # hovering the map (or the gap after it) names its channel
    colours = heatmap.colorscale
    assert colours[-1][1] == "rgba(0,0,0,0)" and heatmap.zmin == 0 and heatmap.zmax == GAP
    assert len(figure.to_json()) < 400_000  # was 0.9 MB as float32 with NaN gaps


def test_a_flat_map_and_fewer_maps_than_tiles():
    maps = np.zeros((3, 5, 4), np.float32)
    figure = feature_grid(maps, 8, columns=4)
    z = np.asarray(figure.data[0].z)
    assert z.shape == (5, 4 * 5 - 1) and (z[:, :4] == 0).all() and (z[:, -4:] == GAP).all()  # the empty tile
