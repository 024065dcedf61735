"""The first-layer weights of the best model, as images."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from .style import new_figure


def weight_grid(W1: np.ndarray, image_shape, max_units: int = 64, padding: int = 1) -> np.ndarray | None:
    """Columns of ``W1`` (D, H) as one mosaic image, each scaled to [0, 1] on its own (CS231n's visualize_grid).

    Returns an (rows, cols) gray or (rows, cols, 3) colour array with white padding, or None
    when D does not match ``image_shape``.
    """
    shape = tuple(int(s) for s in image_shape)
    W1 = np.asarray(W1, dtype=np.float64)
    if W1.ndim != 2 or int(np.prod(shape)) != W1.shape[0] or len(shape) not in (2, 3):
        return None
    if len(shape) == 3 and shape[2] not in (1, 3):
        return None
    units = min(W1.shape[1], max_units)
    images = W1[:, :units].T.reshape((units,) + shape)
    if len(shape) == 3 and shape[2] == 1:
        images = images[..., 0]
        shape = shape[:2]
    lo = images.reshape(units, -1).min(axis=1)
    hi = images.reshape(units, -1).max(axis=1)
    span = np.where(hi > lo, hi - lo, 1.0)
    expand = (slice(None),) + (None,) * (images.ndim - 1)
    images = (images - lo[expand]) / span[expand]
    images[hi == lo] = 0.5
    side = math.ceil(math.sqrt(units))
    side = next((c for c in range(side, side + 4) if units % c == 0), side)  # 50 units: 10 x 5, no ragged row
    rows = math.ceil(units / side)
    h, w = shape[0], shape[1]
    grid = np.ones((rows * (h + padding) - padding, side * (w + padding) - padding) + shape[2:], dtype=np.float64)
    for k in range(units):
        r, c = divmod(k, side)
        grid[r * (h + padding):r * (h + padding) + h, c * (w + padding):c * (w + padding) + w] = images[k]
    return grid


def image_channels(image_shape) -> int:
    """The channels of an image shape: (H, W) is 1, (H, W, C) is C."""
    return int(image_shape[2]) if len(image_shape) == 3 else 1


def is_filter_bank(W1: np.ndarray, image_shape) -> bool:
    """Whether ``W1`` is a convolutional first layer of CS231n's layout, (F, C, f, f) square filters with
    the image's C channels and no larger than the image."""
    return (np.ndim(W1) == 4 and W1.shape[1] == image_channels(image_shape) and W1.shape[2] == W1.shape[3]
            and W1.shape[2] <= min(int(image_shape[0]), int(image_shape[1])))


def filter_columns(W1: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Conv filters (F, C, f, f) as (f*f*C, F) columns, each drawn as an (f, f, C) image."""
    F, C, f, _ = W1.shape
    return np.asarray(W1).transpose(2, 3, 1, 0).reshape(f * f * C, F), (f, f, C)


def weights_figure(W1: np.ndarray, image_shape, max_units: int = 64, title: str | None = None) -> Figure | None:
    """The first layer as a grid of images (gray colormap for gray inputs): each hidden unit's weights
    (``W1`` (D, H), D the pixels of ``image_shape``), or each filter of a convolutional first layer
    (``W1`` (F, C, f, f)). None if neither."""
    if image_shape is None:
        return None
    described = None
    if is_filter_bank(W1, image_shape):
        described = f"{W1.shape[2]}x{W1.shape[3]} filters"
        W1, tile_shape = filter_columns(W1)
    else:
        tile_shape = image_shape
    grid = weight_grid(W1, tile_shape, max_units)
    if grid is None:
        return None
    units = min(W1.shape[1], max_units)
    rows, cols = grid.shape[:2]
    per_row = (cols + 1) // (int(tile_shape[1]) + 1)  # tiles in a row (1 pixel of padding between)
    width = min(max(0.8 * per_row + 0.4, 5.0), 10.0)
    fig = new_figure(width, min(width * rows / cols, 9.0) + 0.5)
    ax = fig.subplots()
    if grid.ndim == 2:
        ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    shape = "x".join(str(s) for s in image_shape)
    shown = f"all {units}" if units == W1.shape[1] else f"first {units} of {W1.shape[1]}"
    what = f"{shown} {described}" if described else f"{shown} hidden units"
    ax.set_title(title or f"First-layer weights ({what}, {shape} inputs)", fontsize=10)
    return fig
