"""Memory: what the machine has free, and what a trial or a data set will need, checked up front.

A trial too large for the machine (``hidden_size: 1e11``, a data set of 1e11 rows, a gzip file
that inflates past memory) would otherwise be killed by the kernel or fail deep inside NumPy after
the run folder is made. :func:`require` turns the estimate into one line that says what is needed
and what the machine has.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from .errors import SweepError

#: Rows scored at once when evaluating (see ``TwoLayerNet.scores``).
SCORE_CHUNK_ROWS = 2048
#: Arrays of the size of the weights held during training, besides the optimizer state: the
#: weights, their gradients, and the temporaries of an update.
_WEIGHT_COPIES = 3
#: Extra arrays of the size of the weights each update rule keeps.
OPTIMIZER_STATE = {"sgd": 0, "sgd_momentum": 1, "nesterov": 2, "rmsprop": 1, "adam": 2}
_ITEMSIZE = {"float32": 4, "float64": 8}


def available_bytes() -> int:
    """Bytes this process can still allocate: the kernel's MemAvailable, capped by a cgroup limit."""
    available = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, AttributeError):  # pragma: no cover - not POSIX
            return 1 << 62
    limit = _cgroup_room()
    return min(available, limit) if limit is not None else available


def _cgroup_room() -> int | None:
    """Bytes left under the memory limits of this process's cgroup and its parents (v1 or v2), or
    None when there is no limit (or no cgroup file system to read). Containers, Slurm jobs and
    systemd slices set such limits; the kernel kills what exceeds them."""
    try:
        memberships = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in memberships:
        hierarchy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        v2 = hierarchy == "0" and controllers == ""
        if not v2 and "memory" not in controllers.split(","):
            continue
        limit_file, usage_file = ("memory.max", "memory.current") if v2 else ("memory.limit_in_bytes",
                                                                               "memory.usage_in_bytes")
        # usage counts the page cache too; the inactive part of it is given back on demand
        cache_key = "inactive_file" if v2 else "total_inactive_file"
        folder, top = _cgroup_folder(mounts, path, v2)
        if folder is None:
            continue
        rooms = []
        while True:
            try:
                limit = (folder / limit_file).read_text().strip()
                if limit != "max" and int(limit) < (1 << 60):
                    used = int((folder / usage_file).read_text()) - _stat(folder / "memory.stat", cache_key)
                    rooms.append(max(int(limit) - used, 0))
            except (OSError, ValueError):
                pass
            if folder == top or folder.parent == folder:
                break
            folder = folder.parent
        if rooms:
            return min(rooms)
    return None


def _stat(path: Path, key: str) -> int:
    """One figure of a cgroup's memory.stat, 0 when absent."""
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _cgroup_folder(mounts: list[str], path: str, v2: bool) -> tuple[Path | None, Path | None]:
    """The folder of cgroup ``path`` under its mounted hierarchy, and the mount point."""
    for line in mounts:
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        after = line.split(" - ", 1)[1].split()
        fstype, options = after[0], (after[2] if len(after) > 2 else "")
        if (v2 and fstype != "cgroup2") or (not v2 and (fstype != "cgroup" or "memory" not in options.split(","))):
            continue
        root, point = fields[3], Path(fields[4])
        relative = path[len(root):] if path.startswith(root) else path
        return point / relative.lstrip("/"), point
    return None, None


def human(n: float) -> str:
    """``1.5 GB``-style size (powers of 1000, as `df -H`)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} EB"  # pragma: no cover


def require(need: float, what: str) -> None:
    """SweepError unless ``need`` bytes fit in the memory available now.

    ``what`` completes "... would need": e.g. ``"mnist's training split (60000 x 784 float32)"``.
    """
    have = available_bytes()
    if need > have:
        raise SweepError(f"{what} would need {human(need)} of memory; this machine has {human(have)} available")


def trial_bytes(params: dict, input_dim: int, outputs: int, val_rows: int) -> int:
    """Estimated peak bytes of one training run of ``params`` (besides the shared data set).

    Counts the weights with their gradients, update temporaries and optimizer state, the
    activations of one minibatch, and the scores of the validation split.
    """
    itemsize = _ITEMSIZE.get(params.get("dtype"), 8)
    width = params["hidden_size"]
    widths = [int(w) for w in width] if isinstance(width, list) else [int(width)] * int(params.get("num_layers", 1))
    batch = int(params["batch_size"])
    dims = [input_dim, *widths, outputs]
    weights = sum(fan_in * fan_out + fan_out for fan_in, fan_out in zip(dims, dims[1:]))
    copies = _WEIGHT_COPIES + OPTIMIZER_STATE.get(params.get("optimizer"), 2)
    # a minibatch: its rows, each hidden pre-activation, activation and gradient, scores and their gradient
    minibatch = batch * input_dim + 3 * batch * sum(widths) + 3 * batch * outputs
    scoring = 2 * SCORE_CHUNK_ROWS * max(widths) + val_rows * outputs
    return itemsize * (copies * weights + minibatch + scoring)


def describe_trial(params: dict) -> str:
    """The hyperparameters that drive a trial's memory, for messages."""
    width = params["hidden_size"]
    return (f"hidden_size {width if isinstance(width, list) else format(width, ',')}"
            + (f" x {params['num_layers']} layers" if params.get("num_layers", 1) > 1 else "")
            + f", batch_size {params['batch_size']:,}, "
            f"{params['optimizer']}, {params['dtype']}")


def array_bytes(shape, itemsize: int) -> int:
    """Bytes of an array of ``shape`` (any size: Python integers do not overflow)."""
    return math.prod(int(d) for d in shape) * itemsize


#: Largest size ratio deflate achieves (about 1032:1), rounded up: an archive member that claims
#: more is damaged, or lies.
MAX_DEFLATE_RATIO = 1100


def npy_header(f) -> tuple[tuple[int, ...], bool, object]:
    """``(shape, fortran_order, dtype)`` from the header of the ``.npy`` data read from the binary
    file object ``f``, which is left at the first byte of the array. ValueError when it is not one."""
    import numpy as np

    version = np.lib.format.read_magic(f)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    return read_header(f)


def npz_bytes(path, what: str) -> int:
    """Bytes the arrays of the ``.npz`` archive ``path`` take once loaded, read from their headers
    without inflating them; SweepError for a member whose header claims more than its compressed
    size can hold, or when the arrays cannot fit in memory. ``what`` names the file in messages.
    Files that are not zip archives are left to the loader (0 is returned)."""
    import zipfile

    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as member:
                    shape, _, dtype = npy_header(member)
                size = array_bytes(shape, dtype.itemsize)
                if info.compress_type != zipfile.ZIP_STORED and size > max(info.compress_size, 1) * MAX_DEFLATE_RATIO:
                    raise SweepError(f"{what}: array {info.filename[:-4]!r} claims shape {tuple(shape)}, more than its "
                                     f"{info.compress_size:,} compressed bytes can hold (a damaged or forged file)")
                total += size
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return 0  # not readable as an archive of arrays: np.load says why
    require(total, f"{what} ({human(total)} of arrays)")
    return total
