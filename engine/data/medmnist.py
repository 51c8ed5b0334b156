"""PneumoniaMNIST (MedMNIST v2; Yang et al., Scientific Data 2023), from Kermany et al., Cell 2018. CC BY 4.0.

Sources, in order: a path given by the caller (an .npz, loaded without the md5 check, with a warning; or a
folder in the Kermany layout train|val|test/NORMAL|PNEUMONIA/*.jpeg), else
<data_dir>/medmnist/pneumoniamnist[_S].npz, downloaded from the Zenodo record at first use and checked
against its md5. Labels: 0 = normal, 1 = pneumonia. Splits are the dataset's own (protocol X1).
"""
from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.data.images import preprocess, preprocess_batch
from engine.data.files import md5sum
from engine.errors import DataError, ImageError, Message
from engine.paths import data_dir
from engine.progress import Progress, silent

SPLITS = ("train", "val", "test")
CLASSES = ("normal", "pneumonia")
RECORD = "https://zenodo.org/records/10519652/files/{name}?download=1"
MD5 = {  # medmnist/info.py (MedMNIST+ record 10519652: MD5, MD5_64, MD5_128, MD5_224), re-checked 2026-11-30
    28: "28209eda62fecd6e6a2d98b1501bb15f",
    64: "8f4eceb4ccffa70c672198ea285246c6",
    128: "05b46931834c231683c68f40c47b2971",
    224: "d6a3c71de1b945ea11211b03746c1fe1",
}
COUNTS = {"train": 4708, "val": 524, "test": 624}
DOWNLOAD_TIMEOUT_S = 60


@dataclass(frozen=True)
class XrayData:
    """Images (n, s, s) uint8 and labels (n,) int64 per split, with where they came from."""

    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    source: str
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def size(self) -> int:
        return int(self.images["train"].shape[-1])

    def counts(self) -> dict[str, dict[str, int]]:
        """{split: {'normal': n0, 'pneumonia': n1}}."""
        return {s: {c: int((self.labels[s] == i).sum()) for i, c in enumerate(CLASSES)} for s in SPLITS}


def file_name(size: int) -> str:
    return "pneumoniamnist.npz" if size == 28 else f"pneumoniamnist_{size}.npz"


def download(size: int = 28, root: str | os.PathLike | None = None, progress: Progress = silent) -> Path:
    """Fetch the official file into <data_dir>/medmnist/ and verify its md5; DataError says what to do."""
    if size not in MD5:
        raise DataError(f"PneumoniaMNIST comes in 28, 64, 128 or 224 px, not {size}; pick one of those.", code="xray_size", size=size)
    name = file_name(size)
    target = data_dir(root) / "medmnist" / name
    url = RECORD.format(name=name)
    created = not target.parent.exists()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    by_hand = (
        f"Download {url} by hand (md5 {MD5[size]}) and put it at {target.resolve()}, "
        "or pass the path of a local .npz."
    )
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "embedding-lab"})
        with urllib.request.urlopen(req, timeout=DOWNLOAD_TIMEOUT_S) as r, open(partial, "wb") as f:
            total = int(r.headers.get("Content-Length") or 0)
            done = 0
            while block := r.read(1 << 20):
                f.write(block)
                done += len(block)
                if total:
                    progress(done / total, Message(f"downloading {name}: {done / 2**20:.1f} / {total / 2**20:.1f} MB", "progress_download",
                                                    name=name, done=f"{done / 2**20:.1f}", total=f"{total / 2**20:.1f}"))
    except Exception as e:  # network errors come in many types; all mean the same to the user
        partial.unlink(missing_ok=True)
        if created:  # a failed download leaves the data directory as it found it
            target.parent.rmdir()
        raise DataError(f"Could not download PneumoniaMNIST from Zenodo ({e}). {by_hand}", code="xray_download", detail=str(e),
                        url=url, md5=MD5[size], path=str(target.resolve())) from e
    got = md5sum(partial)
    if got != MD5[size]:
        partial.unlink(missing_ok=True)
        raise DataError(f"The downloaded {name} is damaged (md5 {got}, expected {MD5[size]}). Try again. {by_hand}", code="xray_download_damaged",
                        name=name, got=got, md5=MD5[size], url=url, path=str(target.resolve()))
    os.replace(partial, target)
    return target


def _from_npz(path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    try:
        with np.load(path) as z:
            images = {s: np.asarray(z[f"{s}_images"]) for s in SPLITS}
            labels = {s: np.asarray(z[f"{s}_labels"]).reshape(-1).astype(np.int64) for s in SPLITS}
    except (OSError, KeyError, ValueError) as e:
        raise DataError(
            f"{path} is not a PneumoniaMNIST .npz (needs train/val/test _images and _labels): {e}. "
            "Delete it and let the app download the official file.", code="xray_not_npz", path=str(path), detail=str(e),
        ) from e
    for s in SPLITS:
        if len(images[s]) != len(labels[s]):
            raise DataError(f"{path}: {s} has {len(images[s])} images but {len(labels[s])} labels; replace the file.", code="xray_npz_lengths",
                            path=str(path), split=s, images=len(images[s]), labels=len(labels[s]))
        if images[s].ndim == 4:  # (n, s, s, 3) colour variants: gray through the one preprocessing
            images[s] = np.stack([preprocess(im, im.shape[0]).image for im in images[s]])
    return images, labels


def _from_kermany(folder: Path, size: int, progress: Progress) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[str]]:
    """train|val|test/NORMAL|PNEUMONIA/*.jpeg -> arrays through `preprocess` (files sorted by name)."""
    images: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    notes: list[str] = []
    files = {
        (s, y): sorted(p for p in (folder / s / c.upper()).glob("*") if p.suffix.lower() in (".jpeg", ".jpg", ".png", ".dcm"))
        for s in SPLITS
        for y, c in enumerate(CLASSES)
    }
    total = max(1, sum(len(v) for v in files.values()))
    done = 0
    for s in SPLITS:
        xs, ys = [], []
        for y in range(len(CLASSES)):
            for p in files[(s, y)]:
                try:
                    xs.append(preprocess(p, size).image)
                    ys.append(y)
                except ImageError as e:
                    notes.append(Message(f"skipped {p.name}: {e}", "xray_skipped", name=p.name, reason=str(e)))
                done += 1
                if done % 200 == 0:
                    progress(done / total, Message(f"reading {folder.name}: {done}/{total}", "progress_reading", name=folder.name, done=done, total=total))
        if not xs:
            raise DataError(
                f"{folder} has no images in {s}/NORMAL or {s}/PNEUMONIA; a Kermany-layout folder needs "
                "train, val and test, each with NORMAL and PNEUMONIA subfolders of .jpeg files.", code="xray_kermany_empty",
                folder=str(folder), split=s,
            )
        images[s] = np.stack(xs)
        labels[s] = np.asarray(ys, dtype=np.int64)
    return images, labels, notes


def load_pneumoniamnist(
    path: str | os.PathLike | None = None,
    size: int = 28,
    root: str | os.PathLike | None = None,
    allow_download: bool = True,
    progress: Progress = silent,
) -> XrayData:
    """PneumoniaMNIST at `size` px: from `path` (.npz or Kermany folder), else the data dir (downloading if allowed)."""
    notes: list[str] = []
    if path is not None:
        p = Path(path).expanduser()
        if p.is_dir():
            images, labels, skipped = _from_kermany(p, size, progress)
            notes += skipped[:5] + ([Message(f"... and {len(skipped) - 5} more skipped files", "xray_skipped_more", n=len(skipped) - 5)] if len(skipped) > 5 else [])
            source = f"Kermany folder {p}"
        elif p.is_file():
            images, labels = _from_npz(p)
            notes.append(Message(f"{p} was loaded as given, without an md5 check; make sure it is the file you meant.", "xray_unchecked", path=str(p)))
            source = str(p)
        else:
            raise DataError(f"No dataset at {p}; give an existing .npz file or a Kermany-layout folder.", code="xray_no_dataset", path=str(p))
    else:
        native = size if size in MD5 else 28
        target = data_dir(root) / "medmnist" / file_name(native)
        if not target.exists():
            if not allow_download:
                raise DataError(
                    f"PneumoniaMNIST is not on disk at {target.resolve()}. Download "
                    f"{RECORD.format(name=file_name(native))} (md5 {MD5[native]}) and put it there, "
                    "or let the app download it (needs internet).", code="xray_missing", path=str(target.resolve()),
                    url=RECORD.format(name=file_name(native)), md5=MD5[native],
                )
            target = download(native, root, progress)
        got = md5sum(target)
        if got != MD5[native]:
            notes.append(Message(
                f"{target.name} has md5 {got}, not the official {MD5[native]}: it is a modified copy "
                "(for example with the training set reordered). Using it anyway.",
                "xray_modified_copy", name=target.name, got=got, md5=MD5[native],
            ))
        images, labels = _from_npz(target)
        source = str(target)
    images = {s: preprocess_batch(images[s], size) for s in SPLITS}
    return XrayData(images, labels, source, tuple(notes))
