"""A training script as people run it under W&B's agent: arguments in, metric lines out.

    python train.py --learning_rate=0.1 --hidden_size=64 --reg=0.0001 --epochs=10

A NumPy two-layer net (affine - ReLU - affine - softmax, L2 regularization, minibatch SGD with
learning-rate decay) on scikit-learn's digits. Each epoch it reports one line of metrics. Under
`sweep run` it appends them to $SWEEP_METRICS (here through sweep.log; `echo` or a file append in
any language does the same); run alone, it prints them. It seeds itself from $SWEEP_SEED.
"""

import argparse
import json
import os

import numpy as np
from sklearn.datasets import load_digits


def report(line: dict) -> None:
    try:
        import sweep
    except ImportError:  # not installed: append the JSON line by hand, as any language can
        path = os.environ.get("SWEEP_METRICS")
        if path:
            with open(path, "a") as f:
                f.write(json.dumps(line) + "\n")
    else:
        sweep.log(line)
    print(json.dumps(line), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--hidden_size", type=int, default=64)
    parser.add_argument("--reg", type=float, default=1e-4)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--lr_decay", type=float, default=0.95)
    args = parser.parse_args()

    rng = np.random.default_rng(int(os.environ.get("SWEEP_SEED", "0")))
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    order = rng.permutation(len(X))
    train, val = order[:1400], order[1400:]
    D, H, C = X.shape[1], args.hidden_size, 10
    W1 = (rng.standard_normal((D, H)) * np.sqrt(2.0 / D)).astype(np.float32)
    b1 = np.zeros(H, np.float32)
    W2 = (rng.standard_normal((H, C)) * np.sqrt(2.0 / H)).astype(np.float32)
    b2 = np.zeros(C, np.float32)

    def forward(Xb):
        hidden = np.maximum(Xb @ W1 + b1, 0)
        scores = hidden @ W2 + b2
        scores -= scores.max(axis=1, keepdims=True)
        probs = np.exp(scores)
        return hidden, probs / probs.sum(axis=1, keepdims=True)

    lr = args.learning_rate
    for epoch in range(1, args.epochs + 1):
        losses = []
        for start in range(0, len(train), args.batch_size):
            batch = train[rng.integers(0, len(train), args.batch_size)]
            Xb, yb = X[batch], y[batch]
            hidden, probs = forward(Xb)
            losses.append(-np.log(probs[np.arange(len(yb)), yb] + 1e-12).mean()
                          + 0.5 * args.reg * ((W1 ** 2).sum() + (W2 ** 2).sum()))
            dscores = probs
            dscores[np.arange(len(yb)), yb] -= 1
            dscores /= len(yb)
            dW2 = hidden.T @ dscores + args.reg * W2
            dhidden = (dscores @ W2.T) * (hidden > 0)
            dW1 = Xb.T @ dhidden + args.reg * W1
            W1 -= lr * dW1
            b1 -= lr * dhidden.sum(axis=0)
            W2 -= lr * dW2
            b2 -= lr * dscores.sum(axis=0)
        lr *= args.lr_decay
        _, probs = forward(X[val])
        report({"epoch": epoch, "train/loss": float(np.mean(losses)),
                "val/loss": float(-np.log(probs[np.arange(len(val)), y[val]] + 1e-12).mean()),
                "val/accuracy": float((probs.argmax(axis=1) == y[val]).mean())})


if __name__ == "__main__":
    main()
