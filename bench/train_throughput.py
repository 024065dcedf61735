"""Training throughput of sweep's trainer against scikit-learn's MLPClassifier, measured in one run.

Both train the same network (one hidden ReLU layer of H units, softmax output, L2 penalty) with SGD
and momentum 0.9 (no Nesterov), batch size 200, the same epochs, float32 data, one BLAS thread, on
the same training split: Fashion-MNIST when installed, else digits. Prints training samples/second
(rows x epochs / wall seconds, best of --repeats runs) and our ratio over scikit-learn's.

Our timing includes what a sweep trial does each epoch and scikit-learn does not: scoring train
accuracy on a 10,000-row subsample and the validation loss and accuracy.

The fused column trains a group of --fused nets (sweep.fused.train_group: one minibatch stream, one
fused first layer) and counts samples x nets per second, against scikit-learn's samples/s of one net.

PyTorch (CPU, one thread, the same network, SGD with momentum and weight decay, no scoring) is timed
when it is installed; it is not a dependency: `pip install torch==2.13.0` takes the CPU build this
machine keeps on disk. The last columns give each trainer's share of the single-thread sgemm ceiling,
measured in the same run on the first layer's product (200 x D @ D x H), counting 4*D*H + 6*H*C
floating-point operations per training sample.

    make bench                    # both hidden sizes
    python bench/train_throughput.py --epochs 3 --repeats 3 --hidden 100 1000
"""

from __future__ import annotations

import argparse
import time
import warnings

from threadpoolctl import threadpool_limits

from sweep import TwoLayerNet, load_dataset, train
from sweep.fused import Member, train_group


def load():
    try:
        return load_dataset("fashion-mnist")
    except Exception as exc:  # noqa: BLE001 - any reason it is unavailable
        print(f"(Fashion-MNIST unavailable: {exc}; using digits)")
        return load_dataset("digits")


def time_ours(data, hidden, epochs, lr, reg):
    net = TwoLayerNet(data.input_dim, hidden, data.num_classes, init="he", reg=reg, seed=0)
    start = time.perf_counter()
    history = train(net, data, optimizer="sgd_momentum", momentum=0.9, learning_rate=lr, batch_size=200,
                    epochs=epochs, seed=0)
    return time.perf_counter() - start, history[-1]["val_acc"]


def time_fused(data, hidden, epochs, lr, reg, members):
    group = [Member(TwoLayerNet(data.input_dim, hidden, data.num_classes, init="he", reg=reg, seed=k), lr, epochs,
                    momentum=0.9) for k in range(members)]
    start = time.perf_counter()
    histories = train_group(group, data, optimizer="sgd_momentum", batch_size=200, seed=0)
    return time.perf_counter() - start, max(h[-1]["val_acc"] for h in histories)


def time_sklearn(data, hidden, epochs, lr, reg):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(hidden_layer_sizes=(hidden,), activation="relu", solver="sgd", alpha=reg,
                          batch_size=200, learning_rate_init=lr, momentum=0.9, nesterovs_momentum=False,
                          max_iter=epochs, shuffle=True, tol=0.0, n_iter_no_change=epochs + 1,
                          early_stopping=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(data.X_train, data.y_train)
        seconds = time.perf_counter() - start
    assert model.coefs_[0].dtype == data.X_train.dtype, "scikit-learn did not keep the data's dtype"
    return seconds, float(model.score(data.X_val, data.y_val))


def time_torch(data, hidden, epochs, lr, reg):
    import torch

    torch.manual_seed(0)
    X, y = torch.tensor(data.X_train), torch.tensor(data.y_train, dtype=torch.int64)  # copies: the data is read-only
    model = torch.nn.Sequential(torch.nn.Linear(data.input_dim, hidden), torch.nn.ReLU(),
                                torch.nn.Linear(hidden, data.num_classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=reg)
    loss_fn = torch.nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(epochs):
        for batch in torch.randperm(len(X)).split(200):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(X[batch]), y[batch]).backward()
            optimizer.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        accuracy = (model(torch.tensor(data.X_val)).argmax(1).numpy() == data.y_val).mean()
    return seconds, float(accuracy)


def torch_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    torch.set_num_threads(1)
    return True


def sgemm_ceiling(data, hidden, repeats=20) -> float:
    """FLOP/s of the first layer's forward product at batch 200 on one thread, best of ``repeats``."""
    import numpy as np

    x = np.ascontiguousarray(data.X_train[:200])
    w = np.random.default_rng(0).standard_normal((data.input_dim, hidden)).astype(x.dtype)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(10):
            x @ w
        best = min(best, (time.perf_counter() - start) / 10)
    return 2 * 200 * data.input_dim * hidden / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--reg", type=float, default=1e-4)
    parser.add_argument("--fused", type=int, default=8, help="nets in the fused group (0: skip)")
    args = parser.parse_args()

    data = load()
    rows = len(data.X_train)
    print(f"data: {data.name}, {rows} training rows x {data.input_dim} features, {data.X_train.dtype}, "
          f"batch 200, {args.epochs} epochs, best of {args.repeats}, 1 BLAS thread")
    has_torch = torch_available()
    print(f"{'hidden':>6}  {'sweep samples/s':>16}  {'sklearn samples/s':>18}  {'ratio':>6}  "
          f"{'val_acc sweep':>13}  {'val_acc sklearn':>15}  {f'fused x{args.fused} samples*nets/s':>26}  "
          f"{'fused ratio':>11}  {'torch samples/s':>15}  {'sweep/torch':>11}  {'fused/torch':>11}  "
          f"{'sgemm ceiling share: sweep, fused, sklearn, torch':>50}")
    ratios = {}
    with threadpool_limits(limits=1):
        for hidden in args.hidden:
            ours = min((time_ours(data, hidden, args.epochs, args.lr, args.reg) for _ in range(args.repeats)),
                       key=lambda r: r[0])
            theirs = min((time_sklearn(data, hidden, args.epochs, args.lr, args.reg) for _ in range(args.repeats)),
                         key=lambda r: r[0])
            ours_rate = rows * args.epochs / ours[0]
            their_rate = rows * args.epochs / theirs[0]
            ratios[hidden] = ours_rate / their_rate
            fused, fused_rate = "", float("nan")
            if args.fused:
                seconds = min(time_fused(data, hidden, args.epochs, args.lr, args.reg, args.fused)[0]
                              for _ in range(args.repeats))
                fused_rate = rows * args.epochs * args.fused / seconds
                fused = f"  {fused_rate:>26,.0f}  {fused_rate / their_rate:>11.2f}"
            torch_rate, torch_cols = float("nan"), f"  {'not installed':>15}  {'':>11}  {'':>11}"
            if has_torch:
                torch_seconds = min(time_torch(data, hidden, args.epochs, args.lr, args.reg)[0]
                                    for _ in range(args.repeats))
                torch_rate = rows * args.epochs / torch_seconds
                torch_cols = (f"  {torch_rate:>15,.0f}  {ours_rate / torch_rate:>11.2f}  "
                              f"{fused_rate / torch_rate:>11.2f}")
            flops_per_sample = 4 * data.input_dim * hidden + 6 * hidden * data.num_classes
            ceiling = sgemm_ceiling(data, hidden) / flops_per_sample  # samples/s at the ceiling
            shares = ", ".join(f"{rate / ceiling:.0%}" for rate in (ours_rate, fused_rate, their_rate, torch_rate))
            print(f"{hidden:>6}  {ours_rate:>16,.0f}  {their_rate:>18,.0f}  {ratios[hidden]:>6.2f}  "
                  f"{ours[1]:>13.4f}  {theirs[1]:>15.4f}{fused}{torch_cols}  {shares:>50}")
    print("ratio = sweep samples/s / scikit-learn samples/s (>= 1.0: sweep is at least as fast); "
          "fused ratio = fused samples*nets/s / scikit-learn samples/s")
    return ratios


if __name__ == "__main__":
    main()
