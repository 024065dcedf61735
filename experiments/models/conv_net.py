"""CS231n's ThreeLayerConvNet (assignment 2): conv - ReLU - 2x2 max pool - affine - ReLU - [dropout] - affine -
softmax loss, with the fast layers written in NumPy.

The inputs are the data set's rows, (N, D) with D = side * side * channels: square images, channels last,
as the loaders give them (Fashion-MNIST: 784 gray pixels). The convolution keeps the image's size (stride 1,
zero padding of filter_size // 2) and is one matrix product over the image's patches (im2col through a
strided view, as CS231n's fast layers); the pooling a maximum of four blocks of rows (a window's gradient goes to
its first maximum, as CS231n's ``max_pool_backward_naive``). Weights are ``weight_scale * np.random.randn``, or He's scale when
``weight_scale`` is None; dropout masks come from ``np.random.rand``: NumPy's global generator, which the
sweep seeds per trial.

``params``: W1 (F, channels, filter_size, filter_size) and b1 (F,) as CS231n shapes them; W2 (P, H) and b2 (H,),
with P = (side / 2)**2 * F pooled features (row, column, filter); W3 (H, C) and b3 (C,).

Sweep it with `model: models/conv_net.py:ThreeLayerConvNet` (experiments/fashion_mnist_search.yaml);
check its gradients with
`sweep gradcheck experiments/models/conv_net.py:ThreeLayerConvNet --set dropout=0.5 --set reg=0.1`.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: Rows scored at a time by ``loss(X)``: the patches of 500 Fashion-MNIST images (5x5 filters) take 40 MB.
SCORE_ROWS = 500


class ThreeLayerConvNet:
    def __init__(self, input_dim, num_classes, num_filters=32, filter_size=5, hidden_dim=256, channels=1,
                 dropout=0.0, reg=0.0, weight_scale=None, dtype=np.float32):
        side = int(round((input_dim / channels) ** 0.5))
        if side * side * channels != input_dim or side % 2:
            raise ValueError(f"input_dim {input_dim} is not a square image of {channels} channel(s) with an even side")
        if filter_size < 1 or filter_size % 2 == 0:
            raise ValueError(f"filter_size must be odd (the convolution keeps the image's size), got {filter_size}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.side, self.channels, self.filter_size = side, channels, filter_size
        self.dropout, self.reg, self.dtype = dropout, reg, dtype
        pooled = (side // 2) ** 2 * num_filters
        shapes = {"W1": (num_filters, channels, filter_size, filter_size), "W2": (pooled, hidden_dim),
                  "W3": (hidden_dim, num_classes)}
        self.params = {}
        for i, shape in enumerate(shapes.values(), start=1):
            fan_in = int(np.prod(shape[1:])) if i == 1 else shape[0]
            scale = np.sqrt(2.0 / fan_in) if weight_scale is None else weight_scale
            self.params[f"W{i}"] = (scale * np.random.randn(*shape)).astype(dtype)
            self.params[f"b{i}"] = np.zeros(shape[0] if i == 1 else shape[1], dtype=dtype)

    def loss(self, X, y=None):
        """Scores (N, C) without ``y``; with ``y`` (N,) labels, the softmax loss plus the L2 penalty
        ``0.5 * reg * sum(W**2)`` and the gradients of every parameter."""
        if y is None:  # scored in chunks of rows: the patches of a whole split would take gigabytes
            return np.concatenate([self._forward(X[i:i + SCORE_ROWS], False)[0]
                                   for i in range(0, len(X), SCORE_ROWS)] or [self._forward(X, False)[0]])
        scores, cache = self._forward(X, True)
        loss, dscores = _softmax_loss(scores, y)
        grads = self._backward(dscores, cache)
        for name in ("W1", "W2", "W3"):
            W = self.params[name]
            loss += 0.5 * self.reg * float(np.vdot(W, W))
            grads[name] += self.reg * W
        return loss, grads

    def _patches(self, X):
        """(4 * N * half * half, channels * f * f): the f x f patch around every pixel (zero-padded), in
        four blocks, one per position in the 2x2 pooling window ((0, 0), (0, 1), (1, 0), (1, 1)), each
        block's rows in the order (image, pooled row, pooled column): the pooling is then a maximum of
        four contiguous blocks."""
        n, s, f, c, half = len(X), self.side, self.filter_size, self.channels, self.side // 2
        images = np.asarray(X, dtype=self.dtype).reshape(n, s, s, c)
        pad = f // 2
        padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
        windows = sliding_window_view(padded, (f, f), axis=(1, 2))  # (N, s, s, c, f, f), a view
        windows = windows.reshape(n, half, 2, half, 2, c, f, f).transpose(2, 4, 0, 1, 3, 5, 6, 7)
        return windows.reshape(4 * n * half * half, c * f * f)  # the one copy

    def _forward(self, X, training):
        p, n = self.params, len(X)
        num_filters = p["b1"].size
        patches = self._patches(X)
        conv = patches @ p["W1"].reshape(num_filters, -1).T
        conv += p["b1"]
        corners = conv.reshape(4, -1, num_filters)  # the four positions of each pooling window
        top, bottom = np.maximum(corners[0], corners[1]), np.maximum(corners[2], corners[3])
        pooled = np.maximum(top, bottom)  # (N * half * half, F); ReLU after the max: the same, on 4x fewer
        features = np.maximum(pooled, 0).reshape(n, -1)
        hidden = features @ p["W2"]
        hidden += p["b2"]
        np.maximum(hidden, 0, out=hidden)
        mask = None
        if training and self.dropout > 0:
            mask = ((np.random.rand(*hidden.shape) >= self.dropout) / (1 - self.dropout)).astype(hidden.dtype)
            hidden *= mask
        scores = hidden @ p["W3"]
        scores += p["b3"]
        return scores, (patches, corners, top, bottom, features, hidden, mask)

    def _backward(self, dscores, cache):
        p = self.params
        patches, corners, top, bottom, features, hidden, mask = cache
        grads = {"W3": hidden.T @ dscores, "b3": dscores.sum(axis=0)}
        dhidden = dscores @ p["W3"].T
        dhidden *= hidden > 0
        if mask is not None:
            dhidden *= mask
        grads["W2"], grads["b2"] = features.T @ dhidden, dhidden.sum(axis=0)
        dpooled = (dhidden @ p["W2"].T).reshape(top.shape)
        dpooled *= features.reshape(top.shape) > 0
        # Each window's gradient goes to its first maximum in row order, as CS231n's max_pool_backward_naive
        # (np.argmax): the top row unless the bottom one is larger, then the left unless the right is larger.
        dcorners = np.empty_like(corners)
        dtop = dpooled * (top >= bottom)
        np.multiply(dtop, corners[0] >= corners[1], out=dcorners[0])
        np.subtract(dtop, dcorners[0], out=dcorners[1])
        dbottom = np.subtract(dpooled, dtop, out=dtop)
        np.multiply(dbottom, corners[2] >= corners[3], out=dcorners[2])
        np.subtract(dbottom, dcorners[2], out=dcorners[3])
        dconv = dcorners.reshape(len(patches), -1)
        grads["W1"] = (dconv.T @ patches).reshape(p["W1"].shape)
        grads["b1"] = dconv.sum(axis=0)
        return grads


def _softmax_loss(scores, y):
    """Mean cross-entropy of ``scores`` (N, C) against labels ``y`` (N,), and its gradient."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    loss = -float(log_probs[np.arange(n), y].mean())
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1
    dscores /= n
    return loss, dscores
